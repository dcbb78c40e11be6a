"""Issue 37's attacks on the grader, each a notebook (or a file in the submissions folder) graded through
``course-utils grade`` as root and as an ordinary user, beside honest neighbours.

What each must show: the attack changes nothing outside its own scratch folder (the grader's install,
the handouts, the submissions and the report are listed and hashed before and after), no neighbour
loses a point, a plainly wrong notebook graded in the next batch still gets 0, the attacker's own row
names the limit it hit, and nothing of a file that is not a notebook reaches the report.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from course_staff.grading import sandbox, scratch

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "grading"
RUBRIC = {"default": 1, "points": {"q2.tie_output": 2, "q3.norms": 3}}
ORDINARY_UID = 4242  # the ordinary user the second run of each batch grades as (no such user needed)
needs_bwrap = pytest.mark.skipif(sandbox.available() is not None, reason=str(sandbox.available()))


def _notebook(attack: str | None = None, wrong: bool = False) -> nbformat.NotebookNode:
    """The fixture handout fx_rnn answered right (or ``wrong``), with ``attack`` as a cell after its imports."""
    nb = nbformat.read(FIXTURES / "submissions" / "honest_tiny.ipynb", 4)
    if wrong:
        for cell in nb.cells:
            if cell.get("id") in ("rnn-tie", "rnn-even"):
                name = "y_tie" if cell.id == "rnn-tie" else "y_even"
                cell.source = f"# NBVAL_CHECK_OUTPUT\n{name} = 0.125\nprint(f'y_4 = {{{name}:.3f}}')"
    if attack is not None:
        nb.cells.insert(4, nbformat.v4.new_code_cell(textwrap.dedent(attack).strip(), id="attack"))
    return nb


SITE = next(p for p in sys.path if p.endswith("site-packages"))

#: Remount the grader's install read-write and plant a .pth that would make every later import print
#: "owned"; write into the release and the grader's modules; unmask /etc/shadow; make a user namespace
#: to regain capabilities. Each step is tried; what happened is printed (the grader reads none of it).
REMOUNT = f"""
import os, subprocess
site = {SITE!r}
ran = {{argv[0] + " " + argv[-1]: subprocess.run(argv, capture_output=True).returncode
       for argv in (["mount", "-o", "remount,bind,rw", site], ["umount", "/etc/shadow"], ["unshare", "-r", "id"],
                    ["mount", "-t", "tmpfs", "x", "/course/release"], ["nsenter", "-t", "1", "-m", "true"])}}
assert all(code != 0 for code in ran.values()), ran
wrote = []
for target in (site + "/zz_course_attack.pth", "/course/release/course_utils/zz.py", "/course/grader/zz.py",
               "/course/io/answers.json", "/course/io/harness.py", "/etc/zz", "/usr/zz", {str(REPO)!r} + "/zz",
               "/course/zz", "/zz"):  # the last three: folders bwrap made, in its own (read-only) root
    try:
        open(target, "a").write("import sys; print('owned')\\n")
        wrote.append(target)
    except OSError:
        pass
assert not wrote, wrote
try:
    open("/etc/shadow").read()
    raise SystemExit("read /etc/shadow")
except OSError:
    pass
caps = [l for l in open("/proc/self/status") if l.startswith("Cap")]
assert all(l.split()[1].strip("0") == "" for l in caps), caps
assert os.getuid() != 0 and os.geteuid() != 0
"""

#: A sparse file far over the file-size limit in the scratch folder: refused (EFBIG), no disk used.
SPARSE = """
import os
with open("pytest.out", "wb") as handle:
    handle.truncate(2 * 2 ** 30)
"""

#: Fill the scratch folder (and /tmp, which is in it) until the disk says no: its own limit.
FILL = """
import os
for i in range(64):  # files under the file-size limit, until the folder is full
    fd = os.open(f"filler-{i}", os.O_WRONLY | os.O_CREAT)
    os.posix_fallocate(fd, 0, 256 * 2 ** 20)
    os.close(fd)
"""

#: Fork until the system says no, keeping every child alive.
FORK = """
import os, time
children = []
while True:
    pid = os.fork()
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    children.append(pid)
"""

#: Allocate far more than the memory limit.
MEMORY = """
blocks = [bytearray(2 ** 30) for _ in range(16)]
"""

#: A double-forked process that outlives its notebook and tries to rewrite every report it can find.
SURVIVOR = """
import os, time, glob
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(3)
        for path in glob.glob("/**/report*.csv", recursive=True) + glob.glob("/tmp/**/*.csv", recursive=True):
            try:
                open(path, "w").write("file,status\\nall.ipynb,pass\\n")
            except OSError:
                pass
        os._exit(0)
    os._exit(0)
"""

#: Print a lot: pytest reports it, the grader keeps only the end.
FLOOD = """
import sys
for _ in range(64):
    sys.stdout.write("x" * 2 ** 20 + "\\n")
"""

ATTACKS = {"remount": REMOUNT, "sparse": SPARSE, "fill": FILL, "fork": FORK, "memory": MEMORY,
           "survivor": SURVIVOR, "flood": FLOOD}
#: file -> (status, score, what the detail must say); honest and wrong notebooks beside them.
EXPECTED = {
    "attack_remount.ipynb": ("fail", 3, "suspicious source"),  # every step refused; the scan names the cell
    "attack_sparse.ipynb": ("error", 3, "over the sandbox's file size limit (512 MiB per file)"),
    "attack_fill.ipynb": ("error", 3, "over the sandbox's disk limit (1 GiB of scratch space, 256 MiB in /tmp)"),
    "attack_fork.ipynb": ("error", 3, "over the sandbox's processes limit (256 processes and threads)"),
    "attack_memory.ipynb": ("error", 3, "over the sandbox's memory limit (8 GiB per process)"),
    "attack_survivor.ipynb": ("pass", 3, ""),
    "attack_flood.ipynb": ("pass", 3, ""),
    "honest_a.ipynb": ("pass", 3, ""),
    "honest_b.ipynb": ("pass", 3, ""),
    "wrong.ipynb": ("fail", 0, "differ"),
}


def _stat_manifest(*roots: Path) -> dict[str, tuple]:
    """Every file and folder below ``roots``: path -> (kind, size, mtime, mode), links not followed."""
    found = {}
    for root in roots:
        for folder, dirs, files in os.walk(root, followlinks=False):
            for name in dirs + files:
                path = os.path.join(folder, name)
                info = os.lstat(path)
                found[path] = (stat.S_IFMT(info.st_mode), info.st_size, info.st_mtime_ns, info.st_mode)
    return found


def _hashes(*roots: Path) -> dict[str, str]:
    """sha256 of every regular file below ``roots`` (for the small trees: handouts, submissions, the repo's code)."""
    found = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _as_ordinary_user(argv: list[str]) -> list[str]:
    """``argv`` as uid ``ORDINARY_UID`` with no capability, in a private mount namespace where ``/root`` is
    an empty tmpfs holding only ``/root/.pyenv`` (this machine's Python lives there; an ordinary user could
    not reach it through a 0700 ``/root``). Nothing changes outside that namespace."""
    script = ("set -e; if [ -d /root/.pyenv ]; then mkdir -p /run/course-test-pyenv; "
              "mount --bind /root/.pyenv /run/course-test-pyenv; mount -t tmpfs -o mode=755 tmpfs /root; "
              "mkdir /root/.pyenv; mount --move /run/course-test-pyenv /root/.pyenv; fi; "
              f'exec setpriv --reuid={ORDINARY_UID} --regid={ORDINARY_UID} --clear-groups --inh-caps=-all '
              '--bounding-set=-all -- "$@"')
    return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", *argv]


def _grade(subs: Path, report: Path, root: Path, ordinary: bool, *extra: str,
           timeout: float = 600) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "course_utils", "grade", str(subs), "--handouts", str(FIXTURES / "handouts"),
            "--rubric", str(root / "rubric.json"), "--timeout", "60", "--jobs", "2", "--report", str(report), *extra]
    env = {**os.environ, "TMPDIR": str(root / "tmp"), "HOME": str(root / "home"), "PYTHONDONTWRITEBYTECODE": "1"}
    if ordinary:
        argv = _as_ordinary_user(argv)
    return subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)


def _sandboxes_of(root: Path) -> list[str]:
    """The bwrap processes still running for batches graded in ``root`` (their command lines bind folders of
    the batch's, under ``root``); a sandbox's processes cannot outlive its bwrap (a pid namespace)."""
    lines = subprocess.run(["ps", "-ww", "-eo", "args="], capture_output=True, text=True).stdout.splitlines()
    return [line for line in lines if "bwrap" in line.split(" ", 1)[0] and str(root) in line]


def _rows(report: Path) -> dict[str, dict]:
    with report.open(newline="", encoding="utf-8") as handle:
        return {row["file"]: row for row in csv.DictReader(handle)}


@pytest.fixture
def workspace(tmp_path: Path):
    """A folder to grade in, made by ``make(ordinary)``: under pytest's tmp_path as root; for the ordinary
    user a folder of that user's under /tmp (pytest's own folders are root's, 0700), removed afterwards."""
    made = []

    def make(ordinary: bool) -> Path:
        root = Path(tempfile.mkdtemp(prefix="grading-as-user-")) if ordinary else tmp_path / "root"
        made.append(root)
        for name in ("subs", "tmp", "home", "next"):
            (root / name).mkdir(parents=True)
        (root / "rubric.json").write_text(json.dumps(RUBRIC), encoding="utf-8")
        if ordinary:
            root.chmod(0o755)
            for path in [root, *root.rglob("*")]:
                os.chown(path, ORDINARY_UID, ORDINARY_UID)
        return root

    yield make
    for root in made:
        shutil.rmtree(root, ignore_errors=True)


@needs_bwrap
@pytest.mark.slow
@pytest.mark.parametrize("ordinary", [False, True], ids=["as-root", "as-ordinary-user"])
def test_no_attack_changes_anything_outside_its_scratch_or_costs_a_neighbour_a_point(workspace,
                                                                                      ordinary: bool) -> None:
    if os.geteuid() != 0:
        pytest.skip("runs the grader as root and, through setpriv, as an ordinary user: needs root")
    root = workspace(ordinary)
    subs = root / "subs"
    for name, code in ATTACKS.items():
        nbformat.write(_notebook(code), subs / f"attack_{name}.ipynb")
    for name in ("honest_a", "honest_b"):
        nbformat.write(_notebook(), subs / f"{name}.ipynb")
    nbformat.write(_notebook(wrong=True), subs / "wrong.ipynb")
    for path in subs.iterdir():
        os.chown(path, *((ORDINARY_UID,) * 2 if ordinary else (0, 0)))
    install = [Path(SITE), REPO / "course_staff", REPO / "course_utils", Path(sys.base_prefix) / "lib"]
    before = (_stat_manifest(*install), _hashes(FIXTURES / "handouts", subs, REPO / "course_staff", REPO / "course_utils"))
    report = root / "report.csv"
    started = time.monotonic()
    proc = _grade(subs, report, root, ordinary)
    assert proc.returncode == 0, proc.stderr[-3000:]
    graded_at = report.read_bytes()
    assert report.stat().st_uid == (ORDINARY_UID if ordinary else 0)  # the grader ran as that user
    rows = _rows(report)
    got = {name: (row["status"], float(row["score"])) for name, row in rows.items()}
    assert got == {name: (status, score) for name, (status, score, _) in EXPECTED.items()}, \
        {name: (row["status"], row["score"], row["detail"]) for name, row in rows.items()}
    for name, (_, _, detail) in EXPECTED.items():
        assert detail in rows[name]["detail"], (name, rows[name]["detail"])
        assert rows[name]["sandbox"] == "bwrap"
    assert "raised" not in rows["attack_remount.ipynb"]["detail"]  # every step in it was refused, as it asserts
    time.sleep(max(0.0, 5.0 - (time.monotonic() - started)))  # the survivor would have woken by now
    assert report.read_bytes() == graded_at  # nothing rewrote the report after the batch
    after = (_stat_manifest(*install), _hashes(FIXTURES / "handouts", subs, REPO / "course_staff", REPO / "course_utils"))
    assert after == before  # the grader's install, the Python, the handouts and the submissions are untouched
    assert not list((root / "tmp").iterdir())  # the batch left nothing in its temporary folder
    assert not _sandboxes_of(root)  # no sandbox of this batch is left running
    # the next batch: a plainly wrong notebook, no attack code, gets 0 as it should
    nbformat.write(_notebook(wrong=True), root / "next" / "wrong_next.ipynb")
    os.chown(root / "next" / "wrong_next.ipynb", *((ORDINARY_UID,) * 2 if ordinary else (0, 0)))
    proc = _grade(root / "next", root / "next.csv", root, ordinary)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [(r["status"], r["score"]) for r in _rows(root / "next.csv").values()] == [("fail", "0")]
    assert "owned" not in proc.stdout + proc.stderr


@needs_bwrap
@pytest.mark.parametrize("ordinary", [False, True], ids=["as-root", "as-ordinary-user"])
def test_links_pipes_devices_and_folders_in_the_submissions_are_error_rows_that_quote_nothing(
        workspace, ordinary: bool) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (and setpriv for the ordinary user)")
    root = workspace(ordinary)
    subs, secret = root / "subs", root / "secret.txt"
    secret.write_text("root:$6$SECRETHASH:19000:0:99999:7:::\n")
    classmate = root / "classmate.ipynb"
    nbformat.write(_notebook(), classmate)
    nbformat.write(_notebook(), subs / "honest.ipynb")
    (subs / "shadow.ipynb").symlink_to(secret)
    (subs / "copied_from_classmate.ipynb").symlink_to(classmate)
    (subs / "master.ipynb").symlink_to(REPO / "answers" / "02_rnn_recurrence.ipynb")
    (subs / "zero.ipynb").symlink_to("/dev/zero")
    os.mkfifo(subs / "pipe.ipynb")
    (subs / "folder.ipynb").mkdir()
    (subs / "text.ipynb").write_text(secret.read_text())  # a regular file that is not a notebook
    if ordinary:
        for path in [root, *root.rglob("*")]:
            os.chown(path, ORDINARY_UID, ORDINARY_UID, follow_symlinks=False)
    proc = _grade(subs, root / "report.csv", root, ordinary, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = _rows(root / "report.csv")
    kinds = {"shadow.ipynb": "a symbolic link", "copied_from_classmate.ipynb": "a symbolic link",
             "master.ipynb": "a symbolic link", "zero.ipynb": "a symbolic link", "pipe.ipynb": "a named pipe",
             "folder.ipynb": "a folder", "text.ipynb": "not JSON"}
    for name, kind in kinds.items():
        assert (rows[name]["status"], rows[name]["score"]) == ("error", "0"), rows[name]
        assert kind in rows[name]["detail"], rows[name]["detail"]
    assert (rows["honest.ipynb"]["status"], rows["honest.ipynb"]["score"]) == ("pass", "3")
    text = "".join(p.read_text(encoding="utf-8", errors="replace") for p in root.glob("report*"))
    assert "SECRETHASH" not in text and "root:" not in text


@needs_bwrap
def test_a_batch_killed_by_sigterm_keeps_its_rows_and_the_next_batch_removes_what_a_sigkill_left(
        workspace) -> None:
    root = workspace(False)
    subs = root / "subs"
    for i in range(4):
        nbformat.write(_notebook(), subs / f"a{i}_honest.ipynb")
    nbformat.write(_notebook("import time\ntime.sleep(120)"), subs / "z_hangs.ipynb")
    report = root / "report.csv"
    argv = [sys.executable, "-m", "course_utils", "grade", str(subs), "--handouts", str(FIXTURES / "handouts"),
            "--rubric", str(root / "rubric.json"), "--timeout", "200", "--jobs", "2", "--report", str(report)]
    env = {**os.environ, "TMPDIR": str(root / "tmp")}
    proc = subprocess.Popen(argv, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (report.is_file() and len(_rows(report)) >= 4):
        time.sleep(0.2)  # the report grows as rows finish
    assert report.is_file() and len(_rows(report)) == 4, "the honest rows were not written as they finished"
    assert _sandboxes_of(root)  # the hanging notebook's sandbox runs (the probe below is not blind)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    rows = _rows(report)
    assert {n: (r["status"], r["score"]) for n, r in rows.items() if n != "z_hangs.ipynb"} == \
        {f"a{i}_honest.ipynb": ("pass", "3") for i in range(4)}
    assert rows["z_hangs.ipynb"]["status"] == "error" and "stopped (SIGTERM)" in rows["z_hangs.ipynb"]["detail"]
    assert not list((root / "tmp").iterdir())  # SIGTERM: its folders are gone
    assert not _sandboxes_of(root)  # and so is the hanging kernel
    # SIGKILL (as the OOM killer does) leaves the batch's folder: the next batch removes it
    proc = subprocess.Popen(argv, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list((root / "tmp").glob("course-grade-*/runs/nb-*")):
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    left = list((root / "tmp").glob("course-grade-*"))
    assert left, "SIGKILL left nothing to clean up"
    assert scratch.remove_stale(root / "tmp") == left
    assert not list((root / "tmp").iterdir())
    time.sleep(0.5)
    assert not _sandboxes_of(root)  # --die-with-parent: the killed grader's sandboxes went with it


def test_a_running_batch_s_folder_is_never_removed(tmp_path: Path) -> None:
    with scratch.BatchFolder(tmp_path) as running:
        assert scratch.remove_stale(tmp_path) == []
        assert running.path.is_dir()
    old_layout = tmp_path / "course-sandbox-env-abc"
    old_layout.mkdir()
    assert scratch.remove_stale(tmp_path) == []  # fresh, no lock: perhaps a batch being set up
    assert scratch.remove_stale(tmp_path, now=time.time() + scratch.STALE_UNLOCKED_S + 1) == [old_layout]


CONTAINER_PROBE = """
import json, sys
import pyseccomp as seccomp
profile = json.load(open(sys.argv[1]))
rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
for group in profile["syscalls"]:
    for name in group["names"]:
        rules.add_rule(seccomp.ERRNO(group["errnoRet"]), name)
if sys.argv[2] == "docker-like":  # what Docker's default profile refuses without CAP_SYS_ADMIN
    for name in ("unshare", "setns", "mount", "umount2", "pivot_root"):
        rules.add_rule(seccomp.ERRNO(1), name)
rules.load()
from course_staff.grading import sandbox
print(sandbox.available() or "sandbox ok")
"""


@needs_bwrap
def test_the_container_profile_lets_bwrap_build_its_sandboxes(tmp_path: Path) -> None:
    """The shipped profile is the one the code describes; loaded into the grader's process (as a container
    would load it) it still lets every sandbox be built, and a profile that refuses the setup calls (as
    Docker's default does) makes ``grade`` refuse with the fix named instead of grading unsandboxed."""
    assert json.loads(sandbox.CONTAINER_PROFILE.read_text()) == sandbox.container_seccomp_profile()
    for flavour, expected in (("shipped", "sandbox ok"), ("docker-like", "docs/grading-sandbox.md")):
        done = subprocess.run([sys.executable, "-c", CONTAINER_PROBE, str(sandbox.CONTAINER_PROFILE), flavour],
                              capture_output=True, text=True, timeout=120, env={**os.environ, "TMPDIR": str(tmp_path)})
        assert expected in done.stdout, done.stdout + done.stderr
