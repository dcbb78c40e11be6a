"""Grade one submitted notebook: read it, find its handout, prepare, run, score, summarise as a Row."""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_staff.grading import colab, locking, run, sandbox, scan
from course_staff.grading.handouts import Handout, match, read_notebook
from course_staff.grading.report import Row
from course_staff.grading.scoring import Rubric, score


@dataclass(frozen=True)
class Settings:
    """How a batch is graded (the options of ``course-utils grade``)."""

    handouts: dict[str, Handout]
    rubric: Rubric
    timeout: float = 600.0
    tiny: bool = True
    sanitize: Path | None = None
    extra_env: tuple[str, ...] = ()
    retries: int = 1  # runs again after a timeout or a dead kernel (a stall can be the machine's fault)
    sandboxed: bool = True  # each run in a bubblewrap sandbox (False: --no-sandbox, said in every row)
    environment: sandbox.Environment | None = None  # the release and grader folders (None: made per call)
    user: tuple[int, int] | None = None  # (uid, gid) the kernels run as (--kernel-user; Gradescope: student)


NOT_SANDBOXED = "not sandboxed"


def grade_notebook(path: Path, scratch: Path, settings: Settings) -> tuple[Row, nbformat.NotebookNode | None, Handout | None]:
    """Grade ``path`` in fresh scratch folders made under ``scratch`` (``tempfile.mkdtemp``; each removed
    after its run, so whatever a notebook makes beside its own folder cannot collide with the next one's).

    A run that times out or loses its kernel is run again, up to ``settings.retries`` times, in a fresh
    folder: a run that stalls for no fault of the notebook (seen once in CI: a notebook that takes 8 s
    killed at its 45 s limit, none of its checks reached) must not cost a student the points; a notebook
    that really hangs or dies does so again. The row is the last run's; ``Row.runs`` counts the runs.

    Returns its report row, the submission as read (None if it is not a notebook) and its handout.
    """
    if settings.environment is None:
        environment = sandbox.build_environment(run.GRADER_MODULES)
        try:
            return grade_notebook(path, scratch, dataclasses.replace(settings, environment=environment))
        finally:
            environment.close()
    row, nb, handout = _grade(path, scratch, settings)
    if not settings.sandboxed:
        row.detail = "; ".join(filter(None, [NOT_SANDBOXED, row.detail]))
    return row, nb, handout


def _grade(path: Path, scratch: Path, settings: Settings) -> tuple[Row, nbformat.NotebookNode | None, Handout | None]:
    try:
        nb = read_notebook(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return Row(path.name, "error", detail=f"not a valid notebook: {exc}"), None, None
    handout, how = match(nb, settings.handouts)
    if handout is None:
        return Row(path.name, "error", detail=how), nb, None
    grading_mode = "tiny" if settings.tiny else "full"
    prepared = locking.prepare(nb, handout, grading_mode)
    for runs in range(1, settings.retries + 2):
        execution = _run_once(prepared.nb, scratch, settings)
        if not (execution.timed_out or execution.kernel_died):
            break
    row = summarise(path.name, handout, prepared, execution, settings.rubric)
    row.runs = runs
    row.detail = "; ".join(filter(None, [row.detail, colab.ids_lost(nb, handout, prepared), *scan.suspicious(nb, handout)]))
    return row, nb, handout


def _run_once(nb: nbformat.NotebookNode, scratch: Path, settings: Settings) -> run.Execution:
    """Execute ``nb`` once in a fresh scratch folder made under ``scratch`` (then removed)."""
    scratch.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="nb-", dir=scratch))
    if settings.user is not None:  # the kernel user may pass through the batch folder, and owns only its own
        scratch.chmod(0o711)
        os.chown(workdir, *settings.user)
    try:
        notebook = workdir / "submission.ipynb"
        notebook.write_text(nbformat.writes(nb), encoding="utf-8")
        env = run.grading_environment(workdir, settings.tiny, settings.extra_env, settings.environment,
                                      settings.sandboxed)
        return run.execute(notebook, settings.timeout, env, settings.sanitize, settings.environment,
                           settings.sandboxed, settings.user)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def summarise(name: str, handout: Handout, prepared: locking.Prepared, execution: run.Execution,
              rubric: Rubric) -> Row:
    """The report row from the per-cell log, the grader's records and the process's end."""
    student = [c for c in execution.cells if not c["id"].startswith(locking.GRADER_PREFIX)]
    grader = [c for c in execution.cells if c["id"].startswith(locking.GRADER_PREFIX)]
    records = [c.get("grader") for c in grader if c["kind"] == "ok" and c["id"] != locking.GRADER_PREFIX + "start"]
    result = score(handout.check_ids, records, rubric)
    row = Row(name, "pass", result.total, result.maximum, handout.name, prepared.mode or "unknown",
              cells_compared=sum(c["compared"] and c["outcome"] != "skipped" for c in student),
              cells_differ=sum(c["kind"] == "differ" for c in student),
              cells_raised=sum(c["kind"] == "raised" for c in student),
              seconds=execution.seconds, checks=result.points, check_max=result.max_points)
    where = {cell_id: f"cell {n} [{cell_id}]" for cell_id, n in prepared.positions.items()}
    problems = [f"{where.get(c['id'], '[' + c['id'] + ']')}: {c['kind']}" for c in student if c["kind"] in {"differ", "raised"}]
    broken = [c for c in execution.cells if c["kind"] in {"timeout", "crash"}]
    tampered = [n for n in result.notes if "tamper" in n or "replaced" in n]
    if execution.timed_out or any(c["kind"] == "timeout" for c in broken):
        row.status, lead = "timeout", f"killed after the time limit ({execution.seconds:g} s)"
    elif execution.kernel_died:
        row.status, lead = "error", f"the kernel died (after {execution.seconds:g} s)"
    elif broken or execution.returncode not in (0, 1) or not execution.cells:
        row.status = "error"
        lead = broken[0]["message"] if broken else f"pytest exit {execution.returncode}: {_last_line(execution.output)}"
    else:
        lead = ""
        if problems or prepared.notes or tampered:
            row.status = "fail"
    row.detail = "; ".join(dict.fromkeys(filter(None, [lead, *problems, *prepared.notes, *result.notes])))
    return row


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""
