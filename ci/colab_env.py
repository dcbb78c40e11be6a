"""The students' runtime, rebuilt: Colab's packages at Colab's versions, in a Python 3.13 venv.

Colab's GPU runtime is described by ``pip freeze`` (``../shared/colab/pip-freeze.gpu.txt``, copied from
``googlecolab/backend-info``). Nothing here is typed by hand; refreshing that file refreshes the environment:

``python ci/colab_env.py env VENV --python PY [--release DIR]``
    Creates VENV with PY and installs, at the versions Colab's freeze gives (the whole freeze is the
    constraints file), the *roots*: every distribution the student release declares (its pyproject), every
    third-party module the student package or a handout imports (mapped to its distribution through the
    freeze), and the kernel Colab runs a notebook in (``ipykernel``, and ``ipywidgets``, which ``tqdm.auto``
    draws its bars with). pip adds what they pull in, pinned by the freeze too. The pip and setuptools of
    the freeze go in first. A package pulled in that Colab does not have is reported (and fails the build).

``python ci/colab_env.py install VENV --release DIR``
    Installs the release exactly as a handout's first cell does (its ``%pip install`` line, the git URL
    replaced by DIR) and fails when the install up- or downgrades, removes or adds any package but the
    course package itself: our install line must leave a student's runtime as Colab made it.

``python ci/colab_env.py freeze VENV``
    The versions of the touched packages (the roots and what they pulled in that a handout uses).

Python: the freeze's runtime is Python 3.13.15; these machines have pyenv's 3.13.0, which stands in for it.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FREEZE = ROOT.parent / "shared" / "colab" / "pip-freeze.gpu.txt"
#: What Colab runs a notebook in, beyond what the release imports: the kernel, and the widgets tqdm.auto uses.
KERNEL = ("ipykernel", "ipywidgets")
#: The freeze's own tools, installed first, at its versions.
TOOLS = ("pip", "setuptools")
#: Packages whose presence or version the report shows (with the roots).
SHOWN = ("numpy", "huggingface_hub", "tokenizers", "safetensors", "jupyter_client", "ipython", "tornado", "pyzmq")
#: The CUDA libraries a torch wheel pins. Colab's torch is PyTorch's own ``+cu128`` build (CUDA 12.8 libraries);
#: PyPI's ``torch==2.11.0`` wheel, the one these machines can reach, is built for CUDA 13 and pins its own
#: (``cuda-toolkit==13.0.2``, ``nvidia-*-cu13``). They are left to torch's pins and are unused on the CPU.
CUDA_PREFIXES = ("nvidia-", "cuda-")
_INSTALL = re.compile(r"""run_line_magic\("pip", "(?P<args>[^"]+)"\)""")


def canonical(name: str) -> str:
    """PEP 503 name: lower case, runs of -_. as one dash."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_freeze(path: Path = FREEZE) -> dict[str, tuple[str, str]]:
    """canonical name -> (name as written, version) for every ``name==version`` line of the freeze."""
    versions = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        found = re.match(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)==([^\s#]+)", line.strip())
        if found:
            versions[canonical(found.group(1))] = (found.group(1), found.group(2))
    return versions


def constraints(freeze: dict[str, tuple[str, str]]) -> str:
    """The freeze as a pip constraints file. A local label (``+cu128``) is dropped: PyPI's default Linux
    wheel of that release is the CUDA build (``torch==2.11.0`` is PyPI's CUDA 12.8 wheel)."""
    return "".join(f"{name}=={version.split('+')[0]}\n" for key, (name, version) in sorted(freeze.items())
                   if not key.startswith(CUDA_PREFIXES))


def _imports(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a handout's IPython magics (!pip) or a blank ``...`` that is not Python
        tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("!", "%"))))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def imported_modules(release: Path) -> set[str]:
    """Top-level modules imported by the release's package and its handouts' code cells, standard library
    and the package itself aside."""
    modules = set()
    for path in sorted((release / "course_utils").rglob("*.py")):
        modules |= _imports(path.read_text(encoding="utf-8"))
    for path in sorted((release / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                modules |= _imports("".join(cell["source"]))
    return {m for m in modules if m not in sys.stdlib_module_names and m not in {"course_utils", "__future__"}}


def declared(release: Path) -> list[str]:
    """The distributions the release's pyproject.toml declares (names only)."""
    import tomllib

    project = tomllib.loads((release / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [re.match(r"[A-Za-z0-9][A-Za-z0-9_.-]*", dep).group(0) for dep in project["dependencies"]]


def roots(release: Path, freeze: dict[str, tuple[str, str]]) -> list[str]:
    """The distributions to install (see the module docstring); SystemExit naming an import Colab lacks."""
    wanted = {canonical(d) for d in declared(release)} | {canonical(k) for k in KERNEL}
    missing = []
    for module in sorted(imported_modules(release)):
        if canonical(module) in freeze:
            wanted.add(canonical(module))
        else:
            missing.append(module)
    if missing:
        raise SystemExit(f"colab_env: the release imports {missing}, which are no distribution of Colab's freeze "
                         f"under that name: install them on Colab, or map them here")
    return sorted(wanted)


def _pip(venv: Path, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
    # The environment is Colab's: no constraint of the staff CI (PIP_CONSTRAINT pins torch to a CPU build).
    # This machine's pip.conf (local indexes, a torch cap) is not Colab's either: no config file is read.
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PIP_")}, "PIP_CONFIG_FILE": os.devnull,
           "PIP_NO_INPUT": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    if "PIP_CERT" in os.environ:
        env["PIP_CERT"] = os.environ["PIP_CERT"]
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    return subprocess.run([str(venv / "bin" / "python"), "-m", "pip", *args], env=env, check=True, text=True,
                          capture_output=capture)


def pip_freeze(venv: Path) -> dict[str, str]:
    """canonical name -> version installed in ``venv`` (``pip list --format json``)."""
    listed = json.loads(_pip(venv, "list", "--format", "json", capture=True).stdout)
    return {canonical(p["name"]): p["version"] for p in listed}


def make_env(venv: Path, python: str, release: Path) -> int:
    freeze = read_freeze()
    wanted = roots(release, freeze)
    subprocess.run([python, "-m", "venv", "--clear", str(venv)], check=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="colab-constraints-", delete=False) as handle:
        handle.write(constraints(freeze))
    try:
        tools = [f"{freeze[t][0]}=={freeze[t][1]}" for t in TOOLS]
        _pip(venv, "install", "--quiet", *tools)
        print(f"colab_env: installing {len(wanted)} roots at Colab's versions: {' '.join(wanted)}", flush=True)
        _pip(venv, "install", "--quiet", "--constraint", handle.name, *wanted)
    finally:
        os.unlink(handle.name)
    installed = pip_freeze(venv)
    cuda = {n: v for n, v in installed.items() if n.startswith(CUDA_PREFIXES)}
    strangers = {n: v for n, v in installed.items() if n not in freeze and n not in cuda}
    off = {n: (v, freeze[n][1]) for n, v in installed.items()
           if n in freeze and n not in cuda and v != freeze[n][1] and v != freeze[n][1].split("+")[0]}
    print(f"colab_env: {len(cuda)} CUDA libraries as PyPI's torch pins them (Colab's +cu128 build has its own): "
          f"{' '.join(f'{n}=={v}' for n, v in sorted(cuda.items()))}", flush=True)
    if strangers:  # declared by a root but not on Colab (Colab's ipython 7.34 goes without jedi): removed, as there
        print(f"colab_env: Colab's runtime has no {', '.join(f'{n} {v}' for n, v in sorted(strangers.items()))}, "
              "which a root's dependencies declare: removed, as on Colab", flush=True)
        _pip(venv, "uninstall", "--quiet", "--yes", *sorted(strangers))
        installed = pip_freeze(venv)
    print(f"colab_env: {len(installed)} packages in {venv}", flush=True)
    if off:
        print(f"colab_env: not at Colab's versions: {off}", file=sys.stderr)
        return 1
    (venv / ".colab-roots.json").write_text(json.dumps(wanted) + "\n", encoding="utf-8")
    return 0


def install_line(release: Path) -> list[str]:
    """The ``%pip install`` arguments of the handouts' setup cell, the release's URL replaced by ``release``.

    Every handout must carry the same line (they do: ``course-utils keys`` writes it)."""
    lines = set()
    for path in sorted((release / "notebooks").glob("*.ipynb")):
        setup = next(c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c.get("id") == "course-setup")
        found = _INSTALL.search("".join(setup["source"]))
        if not found:
            raise SystemExit(f"colab_env: no %pip install line in the setup cell of {path.name}")
        lines.add(found.group("args"))
    if len(lines) != 1:
        raise SystemExit(f"colab_env: the handouts' install lines differ: {sorted(lines)}")
    args = shlex.split(lines.pop())
    if args[0] != "install":
        raise SystemExit(f"colab_env: the setup cell runs pip {args[0]}, not pip install")
    spec = [a for a in args if " @ git+" in a]
    if len(spec) != 1:
        raise SystemExit(f"colab_env: no 'NAME @ git+URL' in the install line {args}")
    name = spec[0].split(" @ ", 1)[0]
    return [f"{name} @ {release.resolve().as_uri()}" if a == spec[0] else a for a in args]


def diff(before: dict[str, str], after: dict[str, str], own: str) -> list[str]:
    """What an install changed, one phrase per package, the course package itself aside."""
    changes = [f"{n} {v} removed" for n, v in sorted(before.items()) if n not in after]
    changes += [f"{n} {before[n]} -> {v}" for n, v in sorted(after.items()) if n in before and before[n] != v]
    changes += [f"{n} {v} added" for n, v in sorted(after.items()) if n not in before and n != own]
    return changes


def install(venv: Path, release: Path) -> int:
    args = install_line(release)
    own = canonical(next(a for a in args if " @ " in a).split(" @ ")[0])
    if own in pip_freeze(venv):  # an earlier run's: the runtime as Colab made it has no course package
        _pip(venv, "uninstall", "--quiet", "--yes", own)
    before = pip_freeze(venv)
    print(f"colab_env: %pip {shlex.join(args)}", flush=True)
    # --no-cache-dir: pip caches the wheel it builds from a file:// folder under the folder's URL, so a
    # release rebuilt at the same path would come back from an earlier run's wheel; a fresh Colab
    # runtime has no such cache either.
    result = _pip(venv, *args[:1], "--no-cache-dir", *args[1:], capture=True)
    after = pip_freeze(venv)
    changes = diff(before, after, own)
    noise = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    print(f"colab_env: installed {own} {after.get(own)}; changes to the runtime: {changes or 'none'}; "
          f"lines printed by the install: {len(noise)}", flush=True)
    for line in noise:
        print(f"  | {line}")
    return 1 if changes or own not in after else 0


def freeze(venv: Path) -> int:
    installed = pip_freeze(venv)
    names = json.loads((venv / ".colab-roots.json").read_text(encoding="utf-8")) + [canonical(s) for s in SHOWN]
    version = subprocess.run([str(venv / "bin" / "python"), "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    print(f"python=={version}  # Colab: 3.13.15")
    for name in sorted(set(names) | {n for n in installed if n.startswith("course-utils")}):
        print(f"{name}=={installed.get(name, '(absent)')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    env = sub.add_parser("env")
    env.add_argument("venv", type=Path)
    env.add_argument("--python", required=True)
    env.add_argument("--release", type=Path, required=True)
    inst = sub.add_parser("install")
    inst.add_argument("venv", type=Path)
    inst.add_argument("--release", type=Path, required=True)
    fr = sub.add_parser("freeze")
    fr.add_argument("venv", type=Path)
    args = parser.parse_args(argv)
    if args.command == "env":
        return make_env(args.venv, args.python, args.release)
    if args.command == "install":
        return install(args.venv, args.release)
    return freeze(args.venv)


if __name__ == "__main__":
    sys.exit(main())
