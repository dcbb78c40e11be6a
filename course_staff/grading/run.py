"""Run one prepared notebook with nbval in its own sandbox (or process group), with a minimal environment.

The notebook runs in a ``pytest --nbval-lax`` subprocess (its own kernel, its own session) in a
scratch folder, inside a bubblewrap sandbox of its own (``sandbox.py``) unless the batch is run with
``--no-sandbox``; past the time limit, or once its kernel has died, the sandbox (or the process, its
kernel and their children) is killed.

The kernel sees only ``kernel_environment``: no variable of the grader's except the few a kernel
needs (``PATH``, locale, ``PYTHONPATH`` where set, model and data caches for ``--full``) and those
named with ``--env``. ``HOME``, ``TMPDIR`` and the Jupyter/IPython/matplotlib folders point into
the scratch folder, which is deleted afterwards.

The grader's values travel through one I/O folder inside the scratch folder (``COURSE_GRADER_IO``
in the kernel's environment, see ``harness.py``): the harness file, the FIFO ``cases`` on which the
run's hidden cases are written only once the kernel opens it, and the harness's ``answers.json``,
read back here (at most ``MAX_ANSWERS_BYTES``). nbval's per-cell log goes to a folder of the
grader's own, outside the kernel's working folder.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from course_staff.grading import sandbox

#: Grader variables a kernel may see (if set): what Python, the locale and full-mode caches need.
PASS_THROUGH = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "HF_HOME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
                "COURSE_UTILS_CACHE", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS")
HARNESS = Path(__file__).resolve().parent / "harness.py"
MAX_ANSWERS_BYTES = 8 * 2 ** 20  # a larger answers.json is not read: every check of that run gets 0
KERNEL_GONE_S = 2.0  # a kernel gone this long with cells left to run has died
POLL_S = 0.25


@dataclass
class Execution:
    """What came back from running one notebook: per-cell records and how the process ended."""

    cells: list[dict]
    returncode: int | None
    timed_out: bool
    output: str
    seconds: float
    kernel_died: bool = False
    answers: str | None = None  # the harness's answers.json as text, None if absent or too large
    answers_note: str = ""  # why answers is None
    timing: dict = dataclasses.field(default_factory=dict)  # the plugin's timing line (see ``profile``)
    started: float = 0.0  # clock time (time.time()) just before the process started
    ended: float = 0.0  # clock time once it had ended and its log was read
    waited: float = 0.0  # seconds it waited for a free run slot before it started (``submission._run_once``)


def profile(execution: Execution, grader_cell: Callable[[str], bool]) -> dict[str, float]:
    """Where one run's seconds went, from the plugin's records (informational: nothing is scored on it).

    launch: process start to pytest configured (bwrap, the interpreter, pytest, nbval); collect: to
    the first cell's setup; kernel: the kernel's start (the first cell's setup); cells: the notebook's
    own cells; grader_cells: the grader's cells (``grader_cell(id)``: start, captures, finish and its
    probe calls); teardown: every cell's teardown (the kernel's shutdown) and the process's exit.
    Zeros where a run ended before reaching a phase.
    """
    timing, cells = execution.timing, execution.cells
    configure = _number(timing.get("configure"))
    first_setup = _number(timing.get("first_setup"))
    finish = _number(timing.get("finish"))

    def seconds(record: dict) -> float:
        return _number(record.get("seconds"))

    kernel = _number(cells[0].get("setup_s")) if cells else 0.0
    other_setup = sum(_number(c.get("setup_s")) for c in cells[1:])
    result = {
        "launch": configure - execution.started if configure else 0.0,
        "collect": first_setup - configure if configure and first_setup else 0.0,
        "kernel": kernel,
        "cells": sum(seconds(c) for c in cells if not grader_cell(str(c.get("id", "")))) + other_setup,
        "grader_cells": sum(seconds(c) for c in cells if grader_cell(str(c.get("id", "")))),
        "teardown": _number(timing.get("teardown_s")) + (execution.ended - finish if finish else 0.0),
    }
    return {name: round(max(value, 0.0), 3) for name, value in result.items()}


def _number(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


MPL_CONFIG = ".mpl"  # MPLCONFIGDIR, in the scratch folder (sandbox.Environment.seed_font_cache fills it)


def kernel_environment(workdir: Path, tiny: bool, extra: Iterable[str] = (),
                       environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment of the grading subprocess and its kernel.

    workdir: the scratch folder (HOME, TMPDIR, config folders). extra: more variable names to pass.
    """
    environ = os.environ if environ is None else environ
    env = {name: environ[name] for name in (*PASS_THROUGH, *extra) if name in environ}
    env.setdefault("PATH", os.defpath)
    env.setdefault("LANG", "C.UTF-8")
    env.update(HOME=str(workdir), TMPDIR=str(workdir), COURSE_TINY="1" if tiny else "0", MPLBACKEND="Agg",
               IPYTHONDIR=str(workdir / ".ipython"), JUPYTER_RUNTIME_DIR=str(workdir / ".runtime"),
               JUPYTER_CONFIG_DIR=str(workdir / ".jupyter"), JUPYTER_DATA_DIR=str(workdir / ".jupyter-data"),
               MPLCONFIGDIR=str(workdir / MPL_CONFIG), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONDONTWRITEBYTECODE="1")
    return env


#: Modules the grader provides to every grading process (name there -> source file): standalone files.
GRADER_MODULES = {"course_grader_plugin.py": Path(__file__).with_name("plugin.py"),
                  "course_grader_pytest.py": Path(__file__).with_name("pytest_launch.py"),
                  "course_grader_kernel.py": Path(__file__).with_name("kernel_launch.py")}
LOG_OPTION = "--course-grade-log"
SANITIZE_INSIDE = f"{sandbox.ROOT}/sanitize.cfg"
LOG_INSIDE = f"{sandbox.ROOT}/log"


def grading_environment(workdir: Path, tiny: bool, extra: Iterable[str] = (),
                        environment: sandbox.Environment | None = None, sandboxed: bool = True,
                        threads: int | None = None, lab_cache: Path | None = None) -> dict[str, str]:
    """``kernel_environment`` for a run in ``workdir``, with ``PYTHONPATH`` the release and the grader's
    modules first; sandboxed, every path is the sandbox's (``sandbox.WORK``) and ``PATH`` the system's.

    threads: ``OMP_NUM_THREADS`` for the kernel unless the grader set it (a batch of ``--jobs`` notebooks
    on as many cores must not start twice as many threads). lab_cache: ``COURSE_UTILS_CACHE`` for a
    tiny-mode lab (``sandbox.Environment.tiny_cache``, bound read-only by ``execute``)."""
    env = kernel_environment(Path(sandbox.WORK) if sandboxed else workdir, tiny, extra)
    if threads is not None:
        env.setdefault("OMP_NUM_THREADS", str(threads))
    if lab_cache is not None:
        env["COURSE_UTILS_CACHE"] = str(lab_cache)
    if sandboxed:
        env["PATH"] = f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin"
        env["PYTHONPATH"] = sandbox.python_path(environment, True)
    elif environment is not None:
        env["PYTHONPATH"] = ":".join(filter(None, [sandbox.python_path(environment, False), env.get("PYTHONPATH")]))
    return env


def _cache_binds(env: dict[str, str]) -> list[tuple[str, str]]:
    """Full-mode caches named in the kernel's environment, bound read-only at their own paths."""
    return [(env[name], env[name]) for name in ("HF_HOME", "COURSE_UTILS_CACHE")
            if name in env and os.path.isdir(env[name])]


def execute(notebook: Path, timeout: float, env: dict[str, str], sanitize: Path | None,
            environment: sandbox.Environment | None = None, sandboxed: bool = False,
            user: tuple[int, int] | None = None, cases: dict | None = None) -> Execution:
    """Run ``notebook`` (in its folder, which must be a scratch folder) under nbval; never raises for
    what the notebook does. timeout: seconds for everything, kernel start included. env: the process's
    whole environment (``grading_environment``). environment: the release and grader folders (needed
    when ``sandboxed``; unsandboxed, the grader's modules must be on env's ``PYTHONPATH`` or installed).
    user: (uid, gid) to run it as (bwrap itself, or pytest unsandboxed); the folder must be that user's.
    cases: the hidden cases of the run's probe checks, served on the I/O folder's FIFO."""
    start = time.monotonic()
    workdir = notebook.parent
    inside = Path(sandbox.WORK) if sandboxed else workdir
    io_dir = prepare_io(workdir)
    env = {**env, "COURSE_GRADER_IO": str(inside / io_dir.name)}
    log_dir = Path(tempfile.mkdtemp(prefix="course-grade-log-"))
    if user is not None:
        os.chown(log_dir, *user)
        for path in (io_dir, io_dir / "cases", io_dir / "harness.py"):
            os.chown(path, *user)
    log = log_dir / "cells.jsonl"
    stop = threading.Event()
    server = threading.Thread(target=serve_cases, args=(io_dir / "cases", json.dumps(cases or {}) + "\n", stop),
                              daemon=True)
    server.start()
    try:
        (workdir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        command = [sys.executable, "-m", "course_grader_pytest", "-q", "-p", "no:cacheprovider", "-p", "nbval.plugin",
                   "-p", "course_grader_plugin", "--nbval-lax", "--nbval-current-env",
                   f"--nbval-cell-timeout={timeout:g}",
                   f"{LOG_OPTION}={LOG_INSIDE + '/' + log.name if sandboxed else log}"]
        binds = []
        if sanitize is not None:
            command.append(f"--nbval-sanitize-with={SANITIZE_INSIDE if sandboxed else sanitize.resolve()}")
            binds.append((sanitize.resolve(), SANITIZE_INSIDE))
        command.append(notebook.name)
        if sandboxed:
            command = sandbox.wrap(command, workdir, env, environment, ro_binds=[*binds, *_cache_binds(env)],
                                   rw_binds=[(log_dir, LOG_INSIDE)])
        with open(workdir / "pytest.out", "w+b") as out:
            started = time.time()
            proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, **sandbox.as_user(user))
            n_cells = sum(cell.get("cell_type") == "code"
                          for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"])
            ending = _watch(proc, start + timeout, lambda: _count_lines(log) < n_cells)
            out.seek(0)
            output = out.read().decode("utf-8", "replace")
        cells, timing = read_log(log), read_timing(log)
        ended = time.time()
    finally:
        stop.set()
        server.join(timeout=5)
        shutil.rmtree(log_dir, ignore_errors=True)
    answers, note = read_answers(io_dir / "answers.json")
    return Execution(cells, proc.returncode, ending == "timeout", output, round(time.monotonic() - start, 2),
                     kernel_died=ending == "kernel died", answers=answers, answers_note=note,
                     timing=timing, started=started, ended=ended)


def prepare_io(workdir: Path) -> Path:
    """The run's I/O folder in ``workdir``: the harness and the FIFO ``cases`` (see ``harness.py``)."""
    io_dir = workdir / "grader-io"
    io_dir.mkdir()
    shutil.copyfile(HARNESS, io_dir / "harness.py")
    os.mkfifo(io_dir / "cases", 0o600)
    return io_dir


def serve_cases(fifo: Path, text: str, stop: threading.Event) -> None:
    """Write ``text`` once into ``fifo`` as soon as a reader has opened it; give up when ``stop`` is set.

    Nothing is written before the kernel's finish cell (or whoever opens the FIFO first) asks, so no
    file the kernel could read earlier holds the cases.
    """
    data = memoryview(text.encode("utf-8"))
    while not stop.is_set():
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: nobody reads yet
                return
            stop.wait(0.02)
            continue
        try:
            while data and not stop.is_set():
                try:
                    data = data[os.write(fd, data):]
                except BlockingIOError:
                    stop.wait(0.01)
        except OSError:  # the reader went away
            pass
        finally:
            os.close(fd)
        return


def _records(log: Path) -> list[dict]:
    records = []
    if log.is_file():
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


def read_log(log: Path) -> list[dict]:
    """The plugin's per-cell records (lines that are not JSON objects, and the timing line, are dropped)."""
    return [record for record in _records(log) if "timing" not in record]


def read_timing(log: Path) -> dict:
    """The plugin's last timing line (``{}`` if none)."""
    timings = [record["timing"] for record in _records(log) if isinstance(record.get("timing"), dict)]
    return timings[-1] if timings else {}


def read_answers(path: Path) -> tuple[str | None, str]:
    """The harness's output file as text (bounded), or None and why."""
    try:
        if not path.is_file() or path.is_symlink():
            return None, "no answers came back from the kernel"
        with open(path, "rb") as handle:
            data = handle.read(MAX_ANSWERS_BYTES + 1)
    except OSError as exc:
        return None, f"the answers file cannot be read ({type(exc).__name__})"
    if len(data) > MAX_ANSWERS_BYTES:
        return None, f"the answers file is larger than {MAX_ANSWERS_BYTES} bytes (not read)"
    return data.decode("utf-8", "replace"), ""


def _count_lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.is_file() else 0


def _watch(proc: subprocess.Popen, deadline: float, cells_left: Callable[[], bool]) -> str:
    """Wait for ``proc``; kill its tree at ``deadline``, or when its kernel has been gone for
    ``KERNEL_GONE_S`` while cells are left to run (nbval would wait for the whole timeout on a dead
    kernel; a kernel gone after the last cell is nbval's normal teardown).

    Returns ``"finished"``, ``"timeout"`` or ``"kernel died"``.
    """
    had_kernel, gone_since, pytest_pid, kernels = False, None, None, []
    while proc.poll() is None:
        now = time.monotonic()
        if now >= deadline:
            kill_tree(proc.pid)
            proc.wait()
            return "timeout"
        pytest_pid = pytest_pid or _pytest_pid(proc.pid)
        # The processes below pytest, found once (a scan of /proc, about 3 ms, was every poll's cost) and
        # looked up again only when none of them is alive any more.
        if not any(_started(pid) == start for pid, start in kernels):
            found = _descendants(pytest_pid) if pytest_pid is not None else []
            kernels = [(pid, start) for pid, start in zip(found, map(_started, found)) if start is not None]
        alive = bool(kernels)
        had_kernel |= alive
        gone_since = None if alive or not had_kernel else (gone_since or now)
        if gone_since is not None and now - gone_since > KERNEL_GONE_S and cells_left():
            kill_tree(proc.pid)
            proc.wait()
            return "kernel died"
        try:
            proc.wait(timeout=POLL_S)  # returns as soon as the run ends (a sleep cost 0.125 s a notebook)
        except subprocess.TimeoutExpired:
            pass
    return "finished"


def _pytest_pid(pid: int) -> int | None:
    """The (host) pid of the pytest process at or below ``pid``: ``pid`` itself unsandboxed, below bwrap and
    its pid-namespace init when sandboxed; the kernel is its child. None until it has started."""
    for candidate in [pid, *_descendants(pid)]:
        try:
            argv = Path(f"/proc/{candidate}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if LOG_OPTION.encode() in b" ".join(argv) and b"--unshare-all" not in argv:  # not bwrap's own line
            return candidate
    return None


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid``, its process group and every descendant (kernels start their own session)."""
    for target in [pid, *_descendants(pid)]:
        for kill in (os.killpg, os.kill):
            try:
                kill(target, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _started(pid: int) -> int | None:
    """When live process ``pid`` started (clock ticks after boot, ``/proc/PID/stat``); None if it is gone
    or a zombie. A pid used again by a new process has another start time."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return None if fields[0] == "Z" else int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _descendants(pid: int) -> list[int]:
    """Live (not zombie) process ids below ``pid``, from ``/proc`` (empty where there is no ``/proc``)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, IndexError, ValueError):
            continue
        if state != "Z":  # an exited kernel nobody has reaped yet is dead
            children.setdefault(int(parent), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
