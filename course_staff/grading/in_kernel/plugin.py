"""pytest plugin loaded in each grading subprocess (``-p course_grader_plugin``).

Standalone (pytest and the standard library only): the grader copies this file into the sandbox's
grader folder as ``course_grader_plugin.py``, where ``course_staff`` cannot be imported.

For every notebook cell nbval runs it writes one JSON line to the cell log given by
``--course-grade-log`` (a pytest option, so the kernel's environment never names it): ``fd:N``, a pipe
the grader opened and only this process holds (not inherited by the kernel), or a file path: the cell id,
whether its output was compared and how it ended. The log decides a row's status (pass, fail,
outputs differ), never its points; the grader checks it against the notebook it ran and pytest's
exit status. Each cell's record also carries its seconds (``seconds``: the call; ``setup_s``: its
setup, the kernel's start for the first cell), and a last line ``{"timing": {...}}`` gives the
session's clock times (``configure``, ``first_setup``, ``finish``) and the seconds of every teardown
(the kernel's shutdown is the last): ``course-utils grade --profile`` reads them, nothing else does.
At the end it relays the harness's ``answers.json`` (``COURSE_GRADER_OUT``, at most ``MAX_ANSWERS_BYTES``,
a regular file opened without following links) as one line ``{"answers": text}``, and the scratch
folder's free space as ``{"scratch": {"free": bytes}}``, so the grader reads nothing but this log.
Like ``harness.py`` it is grader code that may run inside the sandbox, where ``course_staff`` is
not importable: it imports only the standard library and pytest.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time

import pytest

MAX_ANSWERS_BYTES = 8 * 2 ** 20  # as the grader's run.MAX_ANSWERS_BYTES
ANSWERS_FILE = "answers.json"
_LOG: list = []  # the open log, once configured

_COMPARED: dict[str, bool] = {}
_SETUP_S: dict[str, float] = {}
_TIMING: dict[str, float] = {"teardown_s": 0.0}


def pytest_addoption(parser: pytest.Parser) -> None:
    """The log file option."""
    parser.addoption("--course-grade-log", default=None, help="append one JSON line per notebook cell here")


def pytest_configure(config: pytest.Config) -> None:
    """The clock time at which pytest, nbval and this plugin are loaded; the log opened."""
    _TIMING["configure"] = time.time()
    target = config.getoption("--course-grade-log")
    if target and target.startswith("fd:"):
        fd = int(target[3:])
        os.set_inheritable(fd, False)  # the kernel and whatever it starts never hold the log
        _LOG.append(os.fdopen(fd, "w", encoding="utf-8", buffering=1))
    elif target:
        _LOG.append(open(target, "a", encoding="utf-8", buffering=1))


def _write(record: dict) -> None:
    if _LOG:
        _LOG[0].write(json.dumps(record) + "\n")
        _LOG[0].flush()


_SENT: list = [None]  # the (inode, size, mtime) of the answers file last relayed


def _answers(only_if_changed: bool = False) -> dict | None:
    """The harness's answers.json, read bounded, as the record the grader reads (None: unchanged since the
    last one sent, with ``only_if_changed``). Sent after every cell too, so that a run killed later (time
    limit, a dead kernel) still hands back what its earlier cells answered."""
    folder = os.environ.get("COURSE_GRADER_OUT")
    if not folder:
        return None if only_if_changed else {"answers_note": "no answers came back from the kernel"}
    try:
        fd = os.open(os.path.join(folder, ANSWERS_FILE), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None if only_if_changed else {"answers_note": "no answers came back from the kernel"}
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return {"answers_note": "the answers file is not a regular file (not read)"}
        seen = (info.st_ino, info.st_size, info.st_mtime_ns)
        if only_if_changed and seen == _SENT[0]:
            return None
        _SENT[0] = seen
        data = os.read(fd, MAX_ANSWERS_BYTES + 1)
        while len(data) <= MAX_ANSWERS_BYTES and (more := os.read(fd, MAX_ANSWERS_BYTES + 1 - len(data))):
            data += more
    except OSError as exc:
        return {"answers_note": f"the answers file cannot be read ({type(exc).__name__})"}
    finally:
        os.close(fd)
    if len(data) > MAX_ANSWERS_BYTES:
        return {"answers_note": f"the answers file is larger than {MAX_ANSWERS_BYTES} bytes (not read)"}
    return {"answers": data.decode("utf-8", "replace")}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item) -> None:
    """The clock time of the first cell's setup (nbval starts the kernel there)."""
    _TIMING.setdefault("first_setup", time.time())


def pytest_sessionfinish(session) -> None:
    """The session's timing line (after the last teardown: the kernel is shut down)."""
    if _LOG:
        record = _answers(only_if_changed=True)
        if record is not None:
            _write(record)
        try:
            info = os.statvfs(".")
            _write({"scratch": {"free": info.f_bavail * info.f_frsize, "total": info.f_blocks * info.f_frsize}})
        except OSError:
            pass
        _TIMING["finish"] = time.time()
        _write({"timing": _TIMING})


def pytest_collection_modifyitems(items: list) -> None:
    """Remember which cells nbval will compare (its ``check`` option, reference cell executed)."""
    for item in items:
        options = getattr(item, "options", {})
        cell = getattr(item, "cell", None)
        ran = cell is not None and cell.get("execution_count") is not None
        _COMPARED[item.nodeid] = bool(options.get("check")) and ran and not options.get("skip")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Log the cell once its call phase (or a failing/skipped setup) has a report."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "setup":
        _SETUP_S[item.nodeid] = report.duration
    elif report.when == "teardown":
        _TIMING["teardown_s"] += report.duration
    if not _LOG or not (report.when == "call" or report.failed or report.skipped):
        return
    cell = getattr(item, "cell", None) or {}
    record = {"id": cell.get("id", ""), "compared": _COMPARED.get(item.nodeid, False),
              "outcome": report.outcome, "kind": _kind(report), "message": _last_line(report.longreprtext),
              "seconds": round(report.duration, 4) if report.when == "call" else 0.0,
              "setup_s": round(_SETUP_S.get(item.nodeid, 0.0), 4)}
    _write(record)
    answers = _answers(only_if_changed=True)
    if answers is not None:
        _write(answers)


def _kind(report) -> str:
    """ok, differ, timeout, raised or crash (nbval failed otherwise: the kernel died, ...)."""
    if not report.failed:
        return "ok"
    text = report.longreprtext
    if "Cell outputs differ" in text or "Unrun reference cell has outputs" in text:
        return "differ"
    if re.search(r"Timeout of .* exceeded", text):
        return "timeout"
    if "Cell execution caused an exception" in text:
        return "raised"
    return "crash"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""
