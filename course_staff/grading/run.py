"""Run one prepared notebook with nbval in its own sandbox (or process group), with a minimal environment.

The notebook runs in a ``pytest --nbval-lax`` subprocess (its own kernel, its own session) in a
scratch folder, inside a bubblewrap sandbox of its own (``sandbox.py``) unless the batch is run with
``--no-sandbox``; past the time limit, or once its kernel has died, the sandbox (or the process, its
kernel and their children) is killed.

The kernel sees only ``kernel_environment``: no variable of the grader's except the few a kernel
needs (``PATH``, locale, ``PYTHONPATH`` where set, model and data caches for ``--full``) and those
named with ``--env``. ``HOME``, ``TMPDIR`` and the Jupyter/IPython/matplotlib folders point into
the scratch folder, which is deleted afterwards.

The grader's values travel through one read-only I/O folder (``COURSE_GRADER_IO`` in the kernel's
environment, see ``in_kernel/harness.py``): the harness file and the FIFO ``cases`` on which the run's hidden
cases are written only once the kernel opens it. Everything comes back through pipes the grader opened,
each read with a cap (``sandbox.Limits.output``): pytest's output, and the cell log, which the plugin
writes to a descriptor only the pytest process holds (``--course-grade-log=fd:N``; pytest makes itself
non-dumpable, so the kernel, the same uid, cannot open it through ``/proc``) and to which it adds, at the
end, the harness's ``answers.json`` (from ``COURSE_GRADER_OUT``, at most ``MAX_ANSWERS_BYTES``). The
grader never opens a path the sandbox could have written or swapped.
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
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from course_staff.grading import sandbox

#: Grader variables a kernel may see (if set): what Python, the locale and full-mode caches need.
PASS_THROUGH = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "HF_HOME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
                "COURSE_UTILS_CACHE", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS")
IN_KERNEL = Path(__file__).resolve().parent / "in_kernel"  # the grader's files that run in the sandbox
HARNESS = IN_KERNEL / "harness.py"
MAX_ANSWERS_BYTES = 8 * 2 ** 20  # a larger answers.json is not read: every check of that run gets 0
OUTPUT_TAIL_BYTES = 256 * 2 ** 10  # pytest's output kept (its end: the last line is the one read)
STOPPING = threading.Event()  # the batch is stopping (SIGINT/SIGTERM): no new run starts (``stop_all``)
_RUNNING: set = set()  # the processes of the runs under way
_RUNNING_LOCK = threading.Lock()
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
    limit: str = ""  # the sandbox limit the run went over, if the grader could tell (``sandbox.Limits`` field)
    infrastructure: str = ""  # why the run failed for a cause outside the notebook (then it is run again)
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
GRADER_MODULES = {"course_grader_plugin.py": IN_KERNEL / "plugin.py",
                  "course_grader_pytest.py": IN_KERNEL / "pytest_launch.py",
                  "course_grader_kernel.py": IN_KERNEL / "kernel_launch.py"}
LOG_OPTION = "--course-grade-log"
SANITIZE_INSIDE = f"{sandbox.ROOT}/sanitize.cfg"


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


CACHE_INSIDE = f"{sandbox.ROOT}/cache"  # full-mode and tiny-mode caches, read-only, under their variable's name


def _cache_binds(env: dict[str, str], sandboxed: bool = True) -> list[tuple[str, str]]:
    """Caches named in the kernel's environment (``HF_HOME``, ``COURSE_UTILS_CACHE``), bound read-only at
    ``CACHE_INSIDE``/NAME; ``env`` is changed to name them there (sandboxed only)."""
    binds = []
    for name in ("HF_HOME", "COURSE_UTILS_CACHE"):
        if name in env and os.path.isdir(env[name]) and sandboxed:
            binds.append((env[name], f"{CACHE_INSIDE}/{name}"))
            env[name] = f"{CACHE_INSIDE}/{name}"
    return binds


def execute(notebook: Path, timeout: float, env: dict[str, str], sanitize: Path | None,
            environment: sandbox.Environment | None = None, sandboxed: bool = False,
            user: tuple[int, int] | None = None, cases: dict | None = None, slot: int = 0,
            limits: sandbox.Limits = sandbox.DEFAULT_LIMITS, font_cache: Path | None = None) -> Execution:
    """Run ``notebook`` (in its folder, a fresh folder of the grader's) under nbval; never raises for what
    the notebook does. timeout: seconds for everything, kernel start included. env: the process's whole
    environment (``grading_environment``). environment: the release and grader folders (needed when
    ``sandboxed``; unsandboxed, the grader's modules must be on env's ``PYTHONPATH`` or installed).
    Sandboxed, the notebook runs in a tmpfs of its own (``limits``) as run slot ``slot``'s uid (``user``'s
    where given, as root): nothing it writes reaches the host. cases: the hidden cases of the run's probe
    checks, served on the I/O folder's FIFO. font_cache: matplotlib's font list, copied into MPLCONFIGDIR."""
    start = time.monotonic()
    workdir = notebook.parent
    io_dir = prepare_io(workdir)
    inside = Path(sandbox.WORK) if sandboxed else workdir
    out_dir = inside / OUT_DIR
    env = {**env, "COURSE_GRADER_IO": IO_INSIDE if sandboxed else str(io_dir), "COURSE_GRADER_OUT": str(out_dir)}
    if not sandboxed:
        out_dir.mkdir()
    log_read, log_write = os.pipe()
    stop = threading.Event()
    server = threading.Thread(target=serve_cases, args=(io_dir / "cases", json.dumps(cases or {}) + "\n", stop),
                              daemon=True)
    server.start()
    proc = None
    try:
        (workdir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        command = [sys.executable, "-m", "course_grader_pytest", "-q", "-p", "no:cacheprovider", "-p", "nbval.plugin",
                   "-p", "course_grader_plugin", "--nbval-lax", "--nbval-current-env",
                   f"--nbval-cell-timeout={timeout:g}", f"{LOG_OPTION}=fd:{log_write}"]
        binds = [(io_dir, IO_INSIDE)]
        if sanitize is not None:
            command.append(f"--nbval-sanitize-with={SANITIZE_INSIDE if sandboxed else sanitize.resolve()}")
            binds.append((sanitize.resolve(), SANITIZE_INSIDE))
        command.append(notebook.name)
        n_cells = sum(cell.get("cell_type") == "code"
                      for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"])
        started = time.time()
        if STOPPING.is_set():
            return Execution([], None, False, "", 0.0, started=started, ended=started,
                             infrastructure="not run: the batch is stopping")
        if sandboxed:
            files = [(notebook, f"{sandbox.WORK}/{notebook.name}"), (workdir / "pytest.ini", f"{sandbox.WORK}/pytest.ini")]
            dirs = [str(out_dir), f"{sandbox.WORK}/{MPL_CONFIG}"]
            if font_cache is not None:
                files.append((font_cache, f"{sandbox.WORK}/{MPL_CONFIG}/{font_cache.name}"))
            cache_binds = _cache_binds(env)
            try:
                proc = sandbox.start(command, env, slot=slot, identity=sandbox.Identity.for_grader(user), files=files,
                                     dirs=dirs, pass_fds=(log_write,), environment=environment, limits=limits,
                                     ro_binds=[*binds, *cache_binds])
            except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                return Execution([], None, False, "", round(time.monotonic() - start, 2), started=started,
                                 ended=time.time(), infrastructure=f"the sandbox could not start: {exc}")
        else:
            if font_cache is not None:
                (workdir / MPL_CONFIG).mkdir(exist_ok=True)
                shutil.copyfile(font_cache, workdir / MPL_CONFIG / font_cache.name)
            proc = subprocess.Popen(command, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True, pass_fds=(log_write,))
        with _RUNNING_LOCK:
            _RUNNING.add(proc)
        if STOPPING.is_set():
            kill_tree(proc.pid)
        os.close(log_write)
        log_write = -1
        output = sandbox.CappedReader(proc.stdout, OUTPUT_TAIL_BYTES, tail=True)
        log = sandbox.CappedReader(log_read, limits.output)
        log_read = -1
        ending = _watch(proc, start + timeout, lambda: len(read_log(log.text())) < n_cells)  # called rarely
        output.join()
        log.join()
        ended = time.time()
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(proc)
        for fd in (log_read, log_write):
            if fd >= 0:
                os.close(fd)
        stop.set()
        server.join(timeout=5)
    records = parse_log(log.text())
    answers, note = records.answers, records.answers_note
    limit = ""
    if log.overflowed:
        limit, answers, note = "output", None, "the run wrote back more than the output limit (not read)"
    elif records.scratch_full:
        limit = "disk"
    infrastructure = ""
    if proc.returncode not in (0, 1) and not records.cells and not records.timing and ending == "finished":
        last = _last_line(output.text())
        if last.startswith(("bwrap:", "setpriv:", "prlimit:")):  # the sandbox's own tools failed, not pytest
            infrastructure = f"the sandbox could not start: {last}"
    return Execution(records.cells, proc.returncode, ending == "timeout", output.text(),
                     round(time.monotonic() - start, 2), kernel_died=ending == "kernel died", answers=answers,
                     answers_note=note, timing=records.timing, started=started, ended=ended, limit=limit,
                     infrastructure=infrastructure)


IO_INSIDE = f"{sandbox.ROOT}/io"  # the I/O folder, read-only in the sandbox
OUT_DIR = ".grader"  # in the working folder: where the harness writes answers.json for the plugin to send


def prepare_io(workdir: Path) -> Path:
    """The run's I/O folder in ``workdir``: the harness and the FIFO ``cases`` (see ``in_kernel/harness.py``), readable
    by the kernel's uid, writable by no one but the grader."""
    io_dir = workdir / "grader-io"
    io_dir.mkdir()
    shutil.copyfile(HARNESS, io_dir / "harness.py")
    os.mkfifo(io_dir / "cases", 0o600)
    for path, mode in ((io_dir, 0o755), (io_dir / "harness.py", 0o644), (io_dir / "cases", 0o644)):
        path.chmod(mode)
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


@dataclass
class LogRecords:
    """What the plugin wrote into the cell log: cells, the timing line, the relayed answers."""

    cells: list[dict]
    timing: dict
    answers: str | None
    answers_note: str
    scratch_full: bool


def parse_log(text: str) -> LogRecords:
    """Split the cell log (JSON lines; lines that are not JSON objects are dropped) into its records: per-cell
    records, the last timing line, and the answers the plugin relayed (``{"answers": text}`` or
    ``{"answers_note": why}``)."""
    cells, timings, answers, note, full = [], [], None, "no answers came back from the kernel", False
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if isinstance(record.get("timing"), dict):
            timings.append(record["timing"])
        elif "answers" in record or "answers_note" in record:
            text_ = record.get("answers")
            if isinstance(text_, str) and len(text_.encode("utf-8", "replace")) <= MAX_ANSWERS_BYTES:
                answers, note = text_, ""
            elif isinstance(record.get("answers_note"), str):
                answers, note = None, record["answers_note"][:200]
        elif isinstance(record.get("scratch"), dict):
            free = record["scratch"].get("free")
            full = isinstance(free, int) and free < 2 ** 20
        else:
            cells.append(record)
    return LogRecords(cells, timings[-1] if timings else {}, answers, note, full)


def read_log(text: str) -> list[dict]:
    """The plugin's per-cell records from the log's text (``parse_log``)."""
    return parse_log(text).cells


def read_timing(text: str) -> dict:
    """The plugin's last timing line (``{}`` if none)."""
    return parse_log(text).timing


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


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
        # The processes below pytest, found once and looked up again only when none of them is alive any
        # more: finding them scans /proc (about 3 ms), too much for every poll.
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
        if LOG_OPTION.encode() in b" ".join(argv) and b"--die-with-parent" not in argv:  # not bwrap's line
            return candidate
    return None


def stop_all() -> None:
    """Stop the batch's runs: no new one starts, and each running one is killed with its sandbox."""
    STOPPING.set()
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for proc in running:
        kill_tree(proc.pid)


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
