"""The sandbox each notebook is graded in (``course_staff/grading/sandbox.py``), attack by attack.

Each attack is first shown to work without the sandbox (a plain subprocess, as the grader ran kernels
before), then shown stopped inside it. The last tests grade small batches through the command line.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from course_staff.formats.report import Row
from course_staff.grading import batch, run, sandbox

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "grading"
needs_bwrap = pytest.mark.skipif(sandbox.available() is not None, reason=str(sandbox.available()))


@pytest.fixture(scope="module")
def environment():
    env = sandbox.build_environment(run.GRADER_MODULES)
    yield env
    env.close()


def _plain(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """``code`` as the grader ran kernels before: a subprocess in its own session, its tree killed after."""
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, text=True)
    out, _ = proc.communicate(timeout=60)
    run.kill_tree(proc.pid)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out)


def _boxed(code: str, scratch: Path, environment, timeout: float = 60, **options) -> sandbox.Result:
    env = run.grading_environment(scratch, True, (), environment, sandboxed=True)
    return sandbox.run([sys.executable, "-c", code], scratch, env, timeout, environment=environment, **options)


def _scratch(tmp_path: Path, name: str = "a") -> Path:
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=tmp_path))
    return folder


SURVIVOR = textwrap.dedent("""
    import os, sys, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(1.0)
            open("late.txt", "w").write("I survived")
            os._exit(0)
        os._exit(0)
    time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0)
""")


@needs_bwrap
def test_a_double_forked_setsid_process_outlives_a_plain_run_but_not_its_sandbox(tmp_path: Path, environment) -> None:
    plain, boxed, killed = _scratch(tmp_path), _scratch(tmp_path), _scratch(tmp_path)
    assert _plain(SURVIVOR, plain).returncode == 0
    assert _boxed(SURVIVOR, boxed, environment).returncode == 0
    stopped = _boxed(SURVIVOR.replace("else 0", "else 30"), killed, environment, timeout=0.5)  # killed at its limit
    assert stopped.timed_out
    time.sleep(2.0)
    assert (plain / "late.txt").read_text() == "I survived"  # the attack, unsandboxed
    assert not (boxed / "late.txt").exists() and not (killed / "late.txt").exists()


@needs_bwrap
def test_no_network_not_even_the_hosts_loopback(tmp_path: Path, environment) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        port = server.getsockname()[1]
        code = f"import socket\ntry:\n socket.create_connection(('127.0.0.1', {port}), timeout=3); print('connected')\n" \
               "except OSError as e: print('refused', type(e).__name__)"
        assert _plain(code, tmp_path).stdout.strip() == "connected"
        assert _boxed(code, _scratch(tmp_path), environment).output.strip().startswith("refused")


@needs_bwrap
def test_the_python_inside_is_the_student_release_without_instructor_code(tmp_path: Path, environment) -> None:
    code = textwrap.dedent("""
        import importlib.metadata, os, sys, course_utils, course_utils.checks
        print(course_utils.__file__)
        try:
            import course_staff.grading; print("staff", course_staff.__file__)
        except ImportError:
            print("no staff")
        site = [p for p in sys.path if p.endswith("site-packages")]
        print(sorted(f for p in site for e in os.listdir(p) if "course" in e.lower() and os.path.isdir(f"{p}/{e}")
                     for f in os.listdir(f"{p}/{e}")))
        print(len(list(importlib.metadata.entry_points(group="jupyter_client.kernel_provisioners"))) > 0)
    """)
    plain = _plain(code, tmp_path).stdout.splitlines()
    assert plain[1].startswith("staff")  # the staff install: course_staff importable (the attack)
    boxed = _boxed(code, _scratch(tmp_path), environment)
    assert boxed.output.splitlines() == [f"{sandbox.RELEASE}/course_utils/__init__.py", "no staff", "['METADATA']",
                                         "True"], boxed.output


def test_every_staff_entry_of_a_site_packages_is_recognised() -> None:
    staff = ["course_utils", "course_staff", "course_utils-0.1.0.dist-info", "course_utils-0.1.0.egg-link",
             "__editable__.course_utils-0.1.0.pth", "__editable___course_utils_0_1_0_finder.py", "course-utils.egg-link",
             "Course_Staff-1.0.dist-info"]
    assert all(sandbox.is_staff(name) for name in staff)
    assert not any(sandbox.is_staff(name) for name in ["torch", "nbval", "distutils-precedence.pth", "coursework"])


@needs_bwrap
def test_a_regular_install_s_packages_are_left_out_too(tmp_path: Path, environment, monkeypatch) -> None:
    """As after ``pip install .`` (Gradescope, Docker): course_staff/ and course_utils/ in site-packages."""
    site = tmp_path / "lib" / "site-packages"
    for package in ("course_staff", "course_utils", "harmless"):
        (site / package).mkdir(parents=True)
        (site / package / "__init__.py").write_text(f"NAME = {package!r}\n")
    (site / "course_utils-0.1.0.dist-info").mkdir()
    original = sandbox.site_dirs
    monkeypatch.setattr(sandbox, "site_dirs", lambda: [*original(), str(site)])
    code = textwrap.dedent(f"""
        import pathlib, sys
        sys.path.append({str(site)!r})
        import harmless, course_utils
        print(course_utils.__file__, harmless.NAME)
        print(pathlib.Path({str(site / "course_staff" / "__init__.py")!r}).read_text().strip())
        try:
            import course_staff; print("staff")
        except ImportError:
            print("no staff")
    """)
    for scratch in (_scratch(tmp_path), None):  # None: a tmpfs, as the grader runs them (site-packages below /tmp)
        boxed = _boxed(code, scratch, environment)
        assert boxed.output.splitlines() == [f"{sandbox.RELEASE}/course_utils/__init__.py harmless",
                                             'raise ImportError("instructor code is not in the grading sandbox")',
                                             "no staff"], boxed.output


@needs_bwrap
def test_staff_files_other_scratch_folders_and_the_submissions_are_out_of_reach(tmp_path: Path, environment) -> None:
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    (submissions / "classmate.ipynb").write_text("{}")
    mine, other = _scratch(tmp_path), _scratch(tmp_path)
    (other / "secret.txt").write_text("classmate's work")
    answers = sorted((REPO / "answers").glob("*.ipynb"))[0]
    targets = [answers, REPO / "course_staff" / "keys/q3.py", other / "secret.txt", submissions / "classmate.ipynb",
               Path(run.__file__)]
    code = textwrap.dedent(f"""
        import pathlib
        for path in {[str(t) for t in targets]!r} + ["../" + {other.name!r} + "/secret.txt"]:
            try:
                pathlib.Path(path).read_bytes(); print("read", path)
            except OSError as e:
                print("blocked", type(e).__name__)
        try:
            pathlib.Path({str(submissions / 'planted.py')!r}).write_text("x"); print("wrote")
        except OSError as e:
            print("blocked", type(e).__name__)
    """)
    plain = _plain(code, mine).stdout.split()
    assert plain.count("read") == len(targets) + 1 and "wrote" in plain  # every attack works unsandboxed
    (submissions / "planted.py").unlink()
    boxed = _boxed(code, mine, environment).output.split()
    assert "read" not in boxed and "wrote" not in boxed and boxed.count("blocked") == len(targets) + 2, boxed
    assert sorted(p.name for p in submissions.iterdir()) == ["classmate.ipynb"]


@needs_bwrap
def test_proc_shows_only_the_sandbox_s_own_processes(tmp_path: Path, environment) -> None:
    code = "import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))"
    assert os.getpid() in json.loads(_plain(code, tmp_path).stdout)  # the grader is visible unsandboxed
    assert json.loads(_boxed(code, _scratch(tmp_path), environment).output) == [1, 2]  # bwrap's init, python


@needs_bwrap
def test_an_unprivileged_kernel_user_cannot_read_what_the_grader_binds_but_keeps(tmp_path: Path) -> None:
    """--kernel-user (Gradescope: student): the sandbox's processes are that host user, uid 1000 inside."""
    if os.geteuid() != 0:
        pytest.skip("needs root to change user")
    box = Path(tempfile.mkdtemp(prefix="course-user-"))
    try:
        box.chmod(0o755)
        secret = box / "grader-only.txt"
        secret.write_text("key")
        secret.chmod(0o600)
        result = sandbox.run(["/bin/sh", "-c", f"id -u; cat {sandbox.ROOT}/secret || echo blocked; sleep 0.3 & "
                              "ps -o uid= -p $! ; wait"], None, {"PATH": "/usr/bin:/bin"},
                             30, user=(65534, 65534), ro_binds=[(secret, f"{sandbox.ROOT}/secret")], python=False)
        words = result.output.split()
        assert words[0] == str(sandbox.INSIDE_UID) and "blocked" in words, result.output
    finally:
        shutil.rmtree(box, ignore_errors=True)


def test_the_grader_modules_the_sandbox_gets_import_no_instructor_code() -> None:
    """Every file the sandbox gets lives in ``course_staff/grading/in_kernel/``, and nothing there imports
    ``course_staff`` (not importable inside), the grader's side included, nor anything relative."""
    in_kernel = run.IN_KERNEL
    assert {path.parent for path in [*run.GRADER_MODULES.values(), run.HARNESS]} == {in_kernel}
    assert run.HARNESS.is_file() and all(path.is_file() for path in run.GRADER_MODULES.values())
    from course_staff.grading import batch

    assert batch.SANITIZE_FILE.parent == in_kernel and batch.SANITIZE_FILE.is_file()
    sources = sorted(in_kernel.glob("*.py"))
    assert {p.name for p in sources} >= {"harness.py", "plugin.py", "pytest_launch.py", "kernel_launch.py"}
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        imported += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        relative = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level]
        assert not [m for m in imported if m.split(".")[0] == "course_staff"] and not relative, (path.name, imported)


# ---------------------------------------------------------------- batches through the command line

RUBRIC = {"default": 1, "points": {"q2.tie_output": 2, "q3.norms": 3}}
COLLIDER = "import os\nfor i in range(4):\n    os.makedirs(f'../{i:05d}', exist_ok=True)\n    os.makedirs(f'../nb-{i}', exist_ok=True)"


def _batch(tmp_path: Path, *extra: str, names=("honest_tiny.ipynb", "Copy of my homework FINAL (2).ipynb"),
           env: dict | None = None) -> tuple[subprocess.CompletedProcess, dict]:
    subs = tmp_path / "submissions"
    subs.mkdir()
    for name in names:
        shutil.copyfile(FIXTURES / "submissions" / name, subs / name)
    nb = nbformat.read(FIXTURES / "submissions" / "honest_tiny.ipynb", 4)
    nb.cells.insert(2, nbformat.v4.new_code_cell(COLLIDER, id="collide"))
    nbformat.write(nb, subs / "aaa_collider.ipynb")
    (tmp_path / "rubric.json").write_text(json.dumps(RUBRIC))
    report = tmp_path / "report.csv"
    proc = subprocess.run([sys.executable, "-m", "course_utils", "grade", str(subs), "--handouts", str(FIXTURES / "handouts"),
                           "--rubric", str(tmp_path / "rubric.json"), "--timeout", "60", "--jobs", "2", "--report", str(report),
                           *extra], cwd=tmp_path, env=env or dict(os.environ), capture_output=True, text=True, timeout=300)
    rows = {}
    if report.is_file():
        with report.open(newline="", encoding="utf-8") as handle:
            rows = {row["file"]: row for row in csv.DictReader(handle)}
    return proc, rows


@needs_bwrap
def test_honest_notebooks_grade_as_before_in_the_sandbox_and_folder_collisions_are_harmless(tmp_path: Path) -> None:
    proc, rows = _batch(tmp_path)
    assert proc.returncode == 0, proc.stderr
    got = {name: (row["status"], row["score"], row["detail"]) for name, row in rows.items()}
    # the collider cannot make folders beside its scratch folder at all (its own cell raises); its neighbours pass
    assert got == {"honest_tiny.ipynb": ("pass", "3", ""), "Copy of my homework FINAL (2).ipynb": ("pass", "3", ""),
                   "aaa_collider.ipynb": ("fail", "3", "cell 3 [collide]: raised")}, got
    assert "not sandboxed" not in proc.stdout


@needs_bwrap
def test_kernel_user_grades_with_a_python_only_root_can_reach(tmp_path: Path) -> None:
    """--kernel-user as root, where the interpreter lives under /root (pyenv): every row passed before
    only where Python was readable by that user; bwrap now binds it as root before dropping to the user."""
    if os.geteuid() != 0:
        pytest.skip("--kernel-user needs root")
    proc, rows = _batch(tmp_path, "--kernel-user", "nobody", names=("honest_tiny.ipynb",))
    assert proc.returncode == 0, proc.stderr
    assert {name: (row["status"], row["score"]) for name, row in rows.items()} == {
        "honest_tiny.ipynb": ("pass", "3"), "aaa_collider.ipynb": ("fail", "3")}, rows


def test_without_bwrap_grade_refuses_naming_the_package_and_no_sandbox_runs_and_says_so(tmp_path: Path) -> None:
    env = dict(os.environ, COURSE_GRADER_BWRAP=str(tmp_path / "no-bwrap-here"))
    refused = subprocess.run([sys.executable, "-m", "course_utils", "grade", str(FIXTURES / "submissions"),
                              "--handouts", str(FIXTURES / "handouts")], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "apt-get install bubblewrap" in refused.stderr and "--no-sandbox" in refused.stderr
    proc, rows = _batch(tmp_path, "--no-sandbox", names=("honest_tiny.ipynb",), env=env)
    assert proc.returncode == 0, proc.stderr
    assert {name: (row["status"], row["score"]) for name, row in rows.items()} == {
        "honest_tiny.ipynb": ("pass", "3"), "aaa_collider.ipynb": ("pass", "3")}  # no FileExistsError
    assert all(row["detail"].startswith("not sandboxed") for row in rows.values())
    assert "not sandboxed" in proc.stdout and "not sandboxed" in proc.stderr


def test_an_exception_while_grading_one_notebook_is_its_error_row_and_the_report_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    subs = tmp_path / "submissions"
    subs.mkdir()
    for name in ("honest_tiny.ipynb", "not_json.ipynb", "raises.ipynb"):
        shutil.copyfile(FIXTURES / "submissions" / name, subs / name)

    def grade_notebook(path, scratch, settings):
        if path.name == "raises.ipynb":
            raise PermissionError(13, "Permission denied: a scratch folder\nsecond line")
        return Row(path.name, "pass", 1.0, 1.0), None, None

    monkeypatch.setattr(batch, "grade_notebook", grade_notebook)
    report = tmp_path / "report.csv"
    parser = argparse.ArgumentParser()
    batch.grade_arguments(parser)
    args = parser.parse_args([str(subs), "--handouts", str(FIXTURES / "handouts"), "--report", str(report),
                                      "--no-sandbox"])
    assert batch.grade(args) == 0
    with report.open(newline="", encoding="utf-8") as handle:
        rows = {row["file"]: row for row in csv.DictReader(handle)}
    assert [rows[n]["status"] for n in sorted(rows)] == ["pass", "pass", "error"]
    assert rows["raises.ipynb"]["detail"] == ("not sandboxed; the grader failed on this notebook: PermissionError: "
                                              "[Errno 13] Permission denied: a scratch folder")
