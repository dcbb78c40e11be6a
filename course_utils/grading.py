"""Batch grading: run submitted notebooks with nbval and write one CSV row per notebook.

Each submission is copied into its own scratch directory and run there by a separate
``pytest --nbval-lax`` process (its own kernel, its own process group), so a notebook that
crashes or hangs cannot take the batch down. The folder of submissions is only read.

Comparison is *lax*: the outputs of the answer cells, the code cells whose first lines carry
``# NBVAL_CHECK_OUTPUT`` (as in the masters), must equal a fresh run after the sanitizers;
every other cell must only run without raising. Before the run the grader removes, in the
scratch copy, the markers a submission could use to dodge the checks (``NBVAL_SKIP``,
``NBVAL_IGNORE_OUTPUT``, ``NBVAL_RAISES_EXCEPTION`` and their tags); with ``--handouts DIR`` a
submission that has fewer ``# NBVAL_CHECK_OUTPUT`` cells than its handout fails (markers deleted
to dodge the comparison). ``--compare full`` compares every code cell instead.

This module is also the pytest plugin (``-p course_utils.grading``) that logs, per cell,
whether its output was compared and how the cell ended, to the file named by ``$GRADE_LOG_ENV``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass, fields
from pathlib import Path

GRADE_LOG_ENV = "COURSE_GRADE_LOG"
SANITIZE_FILE = Path(__file__).resolve().parent / "data" / "nbval_sanitize.cfg"
DODGE_MARKERS = ("NBVAL_SKIP", "NBVAL_IGNORE_OUTPUT", "NBVAL_RAISES_EXCEPTION")
_DODGE_TAGS = {m.lower().replace("_", "-") for m in DODGE_MARKERS} | {"raises-exception"}
_CHECK_LINE = re.compile(r"^\s*#+\s*NBVAL_CHECK_OUTPUT\s*$", re.MULTILINE)
_DODGE_LINE = re.compile(r"^(\s*#+\s*)(" + "|".join(DODGE_MARKERS) + r")\s*$", re.MULTILINE)


@dataclass
class Row:
    """One line of the report: how one submitted notebook fared.

    status: ``pass`` (every cell ran, every compared output matched), ``fail`` (some cell
    raised or some compared output differs), ``error`` (not gradable: not a notebook, kernel
    died, pytest failed) or ``timeout`` (still running after ``--timeout`` seconds; killed).
    """

    file: str
    status: str
    cells_compared: int = 0
    cells_differ: int = 0
    cells_raised: int = 0
    seconds: float = 0.0
    detail: str = ""


REPORT_COLUMNS = tuple(f.name for f in fields(Row))


def grade_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``course-utils grade``."""
    parser.add_argument("dir", type=Path, metavar="DIR", help="folder of submitted *.ipynb (only read)")
    parser.add_argument("--report", type=Path, default=Path("grading_report.csv"),
                        help="CSV report to write (default: ./grading_report.csv)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds per notebook before it is killed (default: 600)")
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                        help="notebooks run at the same time (default: min(4, CPUs))")
    parser.add_argument("--full", action="store_true",
                        help="full mode (COURSE_TINY=0: hub model, real data); default: tiny mode")
    parser.add_argument("--compare", choices=("lax", "full"), default="lax",
                        help="lax: compare only '# NBVAL_CHECK_OUTPUT' cells (default); full: every cell")
    parser.add_argument("--handouts", type=Path, default=None,
                        help="folder of the handouts: a submission whose name contains a handout's name and "
                             "that has fewer '# NBVAL_CHECK_OUTPUT' cells than it fails (markers removed)")
    parser.add_argument("--sanitize-with", type=Path, default=SANITIZE_FILE,
                        help=f"nbval sanitizer file (default: {SANITIZE_FILE})")


def grade(args: argparse.Namespace) -> int:
    """Grade every ``DIR/*.ipynb``; write the report; 0 when the batch finished, 2 on usage errors."""
    if not args.dir.is_dir():
        print(f"course-utils grade: {args.dir} is not a folder of notebooks", file=sys.stderr)
        return 2
    if args.handouts is not None and not args.handouts.is_dir():
        print(f"course-utils grade: --handouts {args.handouts} is not a folder", file=sys.stderr)
        return 2
    if args.timeout <= 0 or args.jobs < 1:
        print("course-utils grade: --timeout must be > 0 and --jobs >= 1", file=sys.stderr)
        return 2
    notebooks = sorted(args.dir.glob("*.ipynb"))
    if not notebooks:
        print(f"course-utils grade: no *.ipynb in {args.dir}", file=sys.stderr)
        return 2
    sanitize = args.sanitize_with if args.sanitize_with.is_file() else None
    if sanitize is None:
        print(f"course-utils grade: warning: no sanitizer file {args.sanitize_with}; comparing raw outputs",
              file=sys.stderr)
    try:
        expected = _expected_markers(args.handouts)
    except ValueError as exc:
        print(f"course-utils grade: a handout in {args.handouts} is not a notebook: {_one_line(exc)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="course-grade-") as scratch:
        jobs = [(nb, Path(scratch) / f"{i:04d}") for i, nb in enumerate(notebooks)]
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            rows = list(pool.map(lambda job: grade_notebook(
                job[0], job[1], timeout=args.timeout, tiny=not args.full, compare=args.compare,
                sanitize=sanitize, expected_markers=_match(job[0].stem, expected)), jobs))
    write_report(rows, args.report)
    for row in rows:
        print(f"{row.status:7s} {row.file}  compared={row.cells_compared} differ={row.cells_differ} "
              f"raised={row.cells_raised} {row.seconds:.1f}s {row.detail}")
    print(f"report: {args.report}")
    return 0


def grade_notebook(path: Path, workdir: Path, timeout: float, tiny: bool = True, compare: str = "lax",
                   sanitize: Path | None = None, expected_markers: int | None = None) -> Row:
    """Run one submission in ``workdir`` (created) with nbval; return its report row.

    timeout: seconds for the whole notebook, kernel start included; past it the pytest
    process, its kernel and their children are killed.
    expected_markers: the handout's number of ``# NBVAL_CHECK_OUTPUT`` cells, if known.
    """
    start = time.monotonic()
    workdir.mkdir(parents=True)
    try:
        notebook, markers = _disarm(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return Row(path.name, "error", detail=f"not a valid notebook: {_one_line(exc)}")
    copy = workdir / path.name
    copy.write_text(notebook, encoding="utf-8")
    (workdir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    log = workdir / "cells.jsonl"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "nbval.plugin",
               "-p", "course_utils.grading", "--nbval" if compare == "full" else "--nbval-lax",
               "--nbval-current-env", f"--nbval-cell-timeout={timeout:g}", copy.name]
    if sanitize is not None:
        command.insert(-1, f"--nbval-sanitize-with={sanitize.resolve()}")
    env = dict(os.environ, COURSE_TINY="1" if tiny else "0", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
               PYTHONDONTWRITEBYTECODE="1", TMPDIR=str(workdir), IPYTHONDIR=str(workdir / ".ipython"),
               JUPYTER_RUNTIME_DIR=str(workdir / ".runtime"), MPLCONFIGDIR=str(workdir / ".mpl"),
               **{GRADE_LOG_ENV: str(log)})
    proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=max(0.0, timeout - (time.monotonic() - start)))
        timed_out = False
    except subprocess.TimeoutExpired:
        _kill_tree(proc.pid)
        output, _ = proc.communicate()
        timed_out = True
    row = _summarise(path.name, _read_log(log), proc.returncode, timed_out,
                     output.decode("utf-8", "replace"))
    row.seconds = round(time.monotonic() - start, 2)
    if expected_markers is not None and markers < expected_markers:
        row.status = "fail" if row.status == "pass" else row.status
        removed = f"{expected_markers - markers} NBVAL_CHECK_OUTPUT marker(s) removed"
        row.detail = f"{row.detail}; {removed}" if row.detail else removed
    return row


def write_report(rows: list[Row], report: Path) -> None:
    """Write the rows as CSV with the columns ``REPORT_COLUMNS``."""
    report.parent.mkdir(parents=True, exist_ok=True)
    with report.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REPORT_COLUMNS)
        writer.writerows(astuple(row) for row in rows)


def _expected_markers(handouts: Path | None) -> dict[str, int]:
    """Handout name (stem) -> its number of ``# NBVAL_CHECK_OUTPUT`` cells."""
    if handouts is None:
        return {}
    return {path.stem: _disarm(path.read_text(encoding="utf-8"))[1] for path in sorted(handouts.glob("*.ipynb"))}


def _match(stem: str, expected: dict[str, int]) -> int | None:
    """The marker count of the longest handout name contained in the submission's name, if any."""
    names = [name for name in expected if name in stem]
    return expected[max(names, key=len)] if names else None


def _disarm(text: str) -> tuple[str, int]:
    """Parse a notebook (ValueError if it is not one) and strip the markers that skip checks.

    Returns the disarmed notebook's JSON text and its number of ``# NBVAL_CHECK_OUTPUT`` cells.
    """
    import nbformat

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # harmless schema notes (e.g. missing cell ids) on honest files
            nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # JSON, structure and version errors: not a notebook nbval could run
        raise ValueError(str(exc)) from exc
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.source = _DODGE_LINE.sub(r"\1removed by grader: \2", cell.source)
        tags = cell.metadata.get("tags")
        if isinstance(tags, list):
            cell.metadata["tags"] = [t for t in tags if t not in _DODGE_TAGS]
    checked = sum(bool(_CHECK_LINE.search(cell.source)) for cell in nb.cells if cell.cell_type == "code")
    return nbformat.writes(nb), checked


def _summarise(name: str, cells: list[dict], returncode: int | None, timed_out: bool, output: str) -> Row:
    """Turn the per-cell log and the pytest exit into a report row."""
    compared = sum(c["compared"] and c["outcome"] != "skipped" for c in cells)
    differ = sum(c["kind"] == "differ" for c in cells)
    raised = sum(c["kind"] == "raised" for c in cells)
    row = Row(name, "pass", compared, differ, raised)
    broken = [c for c in cells if c["kind"] in {"timeout", "crash"}]
    if timed_out or any(c["kind"] == "timeout" for c in broken):
        row.status, row.detail = "timeout", "killed after the time limit"
    elif broken or returncode not in (0, 1) or not cells:
        row.status = "error"
        row.detail = broken[0]["message"] if broken else f"pytest exit {returncode}: {_last_line(output)}"
    elif differ or raised:
        row.status = "fail"
        row.detail = "; ".join(f"cell {c['cell']}: {c['kind']}" for c in cells if c["kind"] != "ok")
    return row


def _read_log(log: Path) -> list[dict]:
    """Per-cell records written by the plugin hooks below (missing file: none)."""
    if not log.is_file():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]


def _kill_tree(pid: int) -> None:
    """SIGKILL ``pid``, its process group and every descendant (kernels start their own session)."""
    family = _descendants(pid)
    for target in [pid, *family]:
        try:
            os.killpg(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            os.kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _descendants(pid: int) -> list[int]:
    """Process ids below ``pid``, from ``/proc`` (empty where there is no ``/proc``)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields_ = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields_[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).replace("\\n", " ").split())[:160]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


# --- pytest plugin side (loaded in the grading subprocess with -p course_utils.grading) ---

_COMPARED: dict[str, bool] = {}


def pytest_collection_modifyitems(items: list) -> None:
    """Remember which cells nbval will compare (its ``check`` option, reference cell executed)."""
    for item in items:
        options = getattr(item, "options", {})
        cell = getattr(item, "cell", None)
        ran = cell is not None and cell.get("execution_count") is not None
        _COMPARED[item.nodeid] = bool(options.get("check")) and ran and not options.get("skip")


def pytest_runtest_logreport(report) -> None:
    """Append one JSON line per cell: number, compared, outcome and why it failed."""
    path = os.environ.get(GRADE_LOG_ENV)
    if not path or not (report.when == "call" or report.failed or report.skipped):
        return
    text = report.longreprtext if report.failed else ""
    if not report.failed:
        kind = "ok"
    elif "Cell outputs differ" in text or "Unrun reference cell has outputs" in text:
        kind = "differ"
    elif "Timeout of" in text and "exceeded executing cell" in text:
        kind = "timeout"
    elif "Cell execution caused an exception" in text:
        kind = "raised"
    else:
        kind = "crash"
    cell = re.search(r"Cell (\d+)$", report.nodeid)
    record = {"cell": int(cell.group(1)) if cell else -1, "compared": _COMPARED.get(report.nodeid, False),
              "outcome": report.outcome, "kind": kind, "message": _last_line(text)}
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
