"""The install line is small and quiet: the release depends on what a handout imports, and progress bars
draw with Colab's widgets where ipywidgets exists, a plain bar elsewhere, with no "IProgress not found"."""

from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from course_staff.authoring import release

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "ci"))
import colab_env  # noqa: E402


def _release_requirements() -> set[str]:
    text = release.pyproject(ROOT / "pyproject.toml")
    block = text.split("dependencies = [", 1)[1].split("]", 1)[0]
    return {release.requirement_name(line.strip().strip('",')) for line in block.splitlines() if line.strip()}


def test_the_student_package_imports_no_staff_only_dependency():
    imported = set()
    for path in (ROOT / "course_utils").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    assert not imported & release.STAFF_ONLY
    assert "course_staff" not in imported


def test_the_release_declares_only_what_the_package_or_a_handout_imports(tmp_path):
    (tmp_path / "notebooks").symlink_to(ROOT / "notebooks")
    (tmp_path / "course_utils").symlink_to(ROOT / "course_utils")
    modules = {colab_env.canonical(m) for m in colab_env.imported_modules(tmp_path)}
    declared = _release_requirements()
    assert declared <= modules, declared - modules
    assert not declared & release.STAFF_ONLY
    assert {"torch", "transformers", "matplotlib", "sympy", "tqdm"} <= declared


def test_the_staff_install_keeps_the_staff_only_dependencies():
    try:
        import tomllib
    except ImportError:  # Python 3.10 (the lowest suite): tomli, which pytest needs there
        import tomli as tomllib

    staff = {release.requirement_name(d) for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    assert release.STAFF_ONLY <= staff


def test_colab_constraints_come_from_the_freeze_and_leave_cuda_to_torch():
    freeze = colab_env.read_freeze()
    text = colab_env.constraints(freeze)
    assert "torch==2.11.0\n" in text and "transformers==5.15.0\n" in text  # +cu128 dropped: PyPI's build
    assert "nvidia-" not in text and "cuda-toolkit" not in text


def test_install_line_is_the_handouts_own_with_a_local_path(tmp_path):
    (tmp_path / "notebooks").symlink_to(ROOT / "notebooks")
    args = colab_env.install_line(tmp_path)
    assert args[0] == "install" and "-q" in args
    assert args[-1] == f"course-utils @ {tmp_path.resolve().as_uri()}"


def test_diff_names_every_change_but_the_course_package():
    before = {"torch": "2.11.0", "tqdm": "4.67.3", "six": "1.17.0"}
    after = {"torch": "2.11.0", "tqdm": "4.68.0", "course-utils": "0.1.0", "extra": "1"}
    assert colab_env.diff(before, after, "course-utils") == ["six 1.17.0 removed", "tqdm 4.67.3 -> 4.68.0", "extra 1 added"]
    assert colab_env.diff(before, dict(before, **{"course-utils": "0.1.0"}), "course-utils") == []


_PROBE = """
import sys, types, warnings
warnings.simplefilter("error")
{setup}
from course_utils.progress import tqdm, widgets_available
bar = tqdm(range(3), disable=False)
print(type(bar).__module__, widgets_available())
"""
_KERNEL = """
IPython = types.ModuleType("IPython")
class Shell: config = {"IPKernelApp": {}}
IPython.get_ipython = lambda: Shell()
sys.modules["IPython"] = IPython
"""


@pytest.mark.parametrize("setup, expected", [
    ("", "tqdm.std False"),  # a script or a terminal
    (_KERNEL + "sys.modules['ipywidgets'] = None\nimport importlib.util\n"
     "importlib.util.find_spec = lambda name, *a: None if name == 'ipywidgets' else __import__('importlib.machinery').machinery.PathFinder.find_spec(name)",
     "tqdm.std False"),  # a kernel without ipywidgets: plain, and no warning (warnings are errors here)
])
def test_progress_bar_is_plain_outside_a_widget_kernel(setup, expected):
    done = subprocess.run([sys.executable, "-c", _PROBE.format(setup=setup)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == expected and "IProgress" not in done.stderr


def test_progress_bar_uses_widgets_in_a_kernel_with_ipywidgets(monkeypatch):
    pytest.importorskip("ipywidgets")
    from course_utils import progress

    monkeypatch.setattr(progress, "widgets_available", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bar = progress.tqdm(total=2, disable=True)
    assert type(bar).__module__ == "tqdm.notebook"
