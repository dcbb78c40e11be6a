"""environment.yml (conda) and pyproject.toml (pip) must name the same packages and versions."""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: tomli, which pytest itself needs there, is the same parser
    import tomli as tomllib

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name
_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*$")


def parse(requirement: str) -> tuple[str, str]:
    """``'torch>=2.4,<3'`` -> ``('torch', '>=2.4,<3')`` with a normalised name."""
    name, spec = _REQ.match(requirement).groups()
    name = name.lower().replace("_", "-")
    return CONDA_NAMES.get(name, name), spec.replace(" ", "")


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return dict(parse(r) for r in reqs)


def conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    reqs: list[str] = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            reqs += [r for r in dep["pip"] if not r.startswith("-")]
        elif not dep.startswith(("python=", "pip")) or dep.startswith("pip-"):
            reqs.append(dep)
    return dict(parse(r) for r in reqs)


def test_environment_and_pyproject_agree():
    assert conda_requirements() == pyproject_requirements()


def test_environment_uses_conda_forge_python_311_and_installs_the_package():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    assert "python=3.11" in env["dependencies"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "--editable ." in pip_section


def test_no_torchtext_anywhere_in_dependencies():
    assert "torchtext" not in pyproject_requirements() and "torchtext" not in conda_requirements()
