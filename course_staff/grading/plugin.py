"""pytest plugin loaded in each grading subprocess (``-p course_grader_plugin``).

Standalone (pytest and the standard library only): the grader copies this file into the sandbox's
grader folder as ``course_grader_plugin.py``, where ``course_staff`` cannot be imported.

For every notebook cell nbval runs it appends one JSON line to the file given by
``--course-grade-log`` (a pytest option, so the kernel's environment never names it): the cell id,
whether its output was compared and how it ended. The log decides a row's status (pass, fail,
outputs differ), never its points; the grader checks it against the notebook it ran and pytest's
exit status. Each cell's record also carries its seconds (``seconds``: the call; ``setup_s``: its
setup, the kernel's start for the first cell), and a last line ``{"timing": {...}}`` gives the
session's clock times (``configure``, ``first_setup``, ``finish``) and the seconds of every teardown
(the kernel's shutdown is the last): ``course-utils grade --profile`` reads them, nothing else does.
Like ``harness.py`` it is grader code that may run inside the sandbox, where ``course_staff`` is
not importable: it imports only the standard library and pytest.
"""

from __future__ import annotations

import json
import re
import time

import pytest

_COMPARED: dict[str, bool] = {}
_SETUP_S: dict[str, float] = {}
_TIMING: dict[str, float] = {"teardown_s": 0.0}


def pytest_addoption(parser: pytest.Parser) -> None:
    """The log file option."""
    parser.addoption("--course-grade-log", default=None, help="append one JSON line per notebook cell here")


def pytest_configure(config: pytest.Config) -> None:
    """The clock time at which pytest, nbval and this plugin are loaded."""
    _TIMING["configure"] = time.time()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item) -> None:
    """The clock time of the first cell's setup (nbval starts the kernel there)."""
    _TIMING.setdefault("first_setup", time.time())


def pytest_sessionfinish(session) -> None:
    """The session's timing line (after the last teardown: the kernel is shut down)."""
    path = session.config.getoption("--course-grade-log")
    if path:
        _TIMING["finish"] = time.time()
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"timing": _TIMING}) + "\n")


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
    path = item.config.getoption("--course-grade-log")
    if report.when == "setup":
        _SETUP_S[item.nodeid] = report.duration
    elif report.when == "teardown":
        _TIMING["teardown_s"] += report.duration
    if not path or not (report.when == "call" or report.failed or report.skipped):
        return
    cell = getattr(item, "cell", None) or {}
    record = {"id": cell.get("id", ""), "compared": _COMPARED.get(item.nodeid, False),
              "outcome": report.outcome, "kind": _kind(report), "message": _last_line(report.longreprtext),
              "seconds": round(report.duration, 4) if report.when == "call" else 0.0,
              "setup_s": round(_SETUP_S.get(item.nodeid, 0.0), 4)}
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


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
