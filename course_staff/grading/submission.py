"""Grade one submitted notebook: read it, find its handout, prepare, run, judge, score, summarise as a Row.

What nbval reports (the per-cell log, checked against the notebook it ran and pytest's exit status)
decides the row's status; the points come only from ``judge.judge_run``: the values the kernel's
harness handed back, judged in the grader's process, probe checks on hidden cases drawn for this
run from an OS-random seed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import queue
import re
import secrets
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_staff.formats.handouts import Handout, match, read_notebook
from course_staff.formats.report import Row
from course_staff.formats.scoring import Rubric, score
from course_staff.formats import identity
from course_staff.grading import colab, judge, locking, run, sandbox, scan
from course_utils import variants


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
    threads: int | None = None  # OMP_NUM_THREADS of each kernel unless the grader set it (batch: CPUs // jobs)
    # --jobs N: at most N notebooks run at once; reading, preparing and judging others go on meanwhile
    slots: "Slots | None" = dataclasses.field(default=None, compare=False)
    limits: sandbox.Limits = sandbox.DEFAULT_LIMITS  # what each sandboxed notebook may use
    font_cache: bool = True  # copy the batch's matplotlib font list into each run
    roster: identity.Roster | None = None  # --roster: the class's ids, and files that belong to them
    term: str | None = None  # the variants' term (None: the installed package's; "": variants off)


class Slots:
    """At most ``n`` runs at once, each holding a slot number of its own, 0 to n-1: as root, the slot names
    its sandbox's host uid (``sandbox.Identity``), so no two running notebooks share a uid."""

    def __init__(self, n: int) -> None:
        self._free: queue.SimpleQueue[int] = queue.SimpleQueue()
        for slot in range(n):
            self._free.put(slot)

    @contextlib.contextmanager
    def take(self):
        """Wait for a free slot; yields its number."""
        slot = self._free.get()
        try:
            yield slot
        finally:
            self._free.put(slot)


NOT_SANDBOXED = "not sandboxed"


def grade_notebook(path: Path, scratch: Path, settings: Settings) -> tuple[Row, nbformat.NotebookNode | None, Handout | None]:
    """Grade ``path`` in fresh scratch folders made under ``scratch`` (``tempfile.mkdtemp``; each removed
    after its run, so whatever a notebook makes beside its own folder cannot collide with the next one's).

    A run that times out or loses its kernel is run again, up to ``settings.retries`` times, in a fresh
    folder: a run can stall for no fault of the notebook (an overloaded machine can hold a notebook that
    takes 8 s past a 45 s limit, none of its checks reached), which must not cost a student the points;
    a notebook that really hangs or dies does so again. The row is the last run's; ``Row.runs`` counts the runs.

    Returns its report row, the submission as read (None if it is not a notebook) and its handout.
    """
    if settings.environment is None:
        environment = sandbox.build_environment(run.GRADER_MODULES)
        try:
            return grade_notebook(path, scratch, dataclasses.replace(settings, environment=environment))
        finally:
            environment.close()
    row, nb, handout = _grade(path, scratch, settings)
    row.sandbox = "bwrap" if settings.sandboxed else "none"
    if not settings.sandboxed:
        row.detail = "; ".join(filter(None, [NOT_SANDBOXED, row.detail]))
    return row, nb, handout


MAX_NOTEBOOK_BYTES = 64 * 2 ** 20  # a larger submission is not read (the largest handout is about 1 MiB)
_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"),
          (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


def read_submission(path: Path) -> str:
    """The text of a submitted file, read only if it is a regular file (``lstat``, then opened with
    ``O_NOFOLLOW``, checked again on the open descriptor) of at most ``MAX_NOTEBOOK_BYTES``. ValueError
    saying what it is otherwise: a link, pipe, device or folder from an unpacked archive is never followed."""
    def kind(mode: int) -> str:
        return next((name for test, name in _KINDS if test(mode)), "not a regular file")

    mode = os.lstat(path).st_mode
    if not stat.S_ISREG(mode):
        raise ValueError(f"{kind(mode)}, not a notebook file: only regular files are graded")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError("a symbolic link, not a notebook file: only regular files are graded") from None
        raise
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{kind(info.st_mode)}, not a notebook file: only regular files are graded")
        data = handle.read(MAX_NOTEBOOK_BYTES + 1)
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"larger than {MAX_NOTEBOOK_BYTES // 2 ** 20} MiB: not read")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None


def _grade(path: Path, scratch: Path, settings: Settings) -> tuple[Row, nbformat.NotebookNode | None, Handout | None]:
    begun = time.time()
    try:
        nb = read_notebook(read_submission(path))
    except ValueError as exc:
        return Row(path.name, "error", detail=f"not a valid notebook: {exc}"), None, None
    except OSError as exc:
        return Row(path.name, "error", detail=f"not a valid notebook: cannot be read ({exc.strerror})"), None, None
    handout, how = match(nb, settings.handouts)
    if handout is None:
        return Row(path.name, "error", detail=how), nb, None
    grading_mode = "tiny" if settings.tiny else "full"
    prepared = locking.prepare(nb, handout, grading_mode)
    term = variants.term() if settings.term is None else settings.term
    who = identity.identify(path.name, nb, settings.roster) if term else None
    student = who.student if who is not None else ""
    waited = 0.0  # seconds spent waiting for a free run slot (--jobs), not counted in any phase
    for runs in range(1, settings.retries + 2):
        cases = judge.draw_cases(handout.check_ids, secrets.randbits(64), student, term)  # fresh for every run
        execution = _run_once(prepared.nb, scratch, settings, cases, uses_lab(handout), student, term)
        waited += execution.waited
        if not (execution.timed_out or execution.kernel_died or execution.infrastructure):
            break
    prepare_s = execution.started - begun - waited if execution.started else 0.0  # earlier runs included
    judged = time.time()
    results = judge.judge_run(handout.check_ids, execution.answers, cases, settings.tiny, student=student, term=term)
    row = summarise(path.name, handout, prepared, execution, settings.rubric, results, settings.limits)
    row.runs = runs
    if who is not None:
        row.student, row.variant = who.student, variant_label(handout, who.student, term)
        row.detail = "; ".join(filter(None, [who.note, whose_variant(results, who, handout, term, settings.roster),
                                             row.detail]))
    flagged = scan.suspicious(nb, handout)
    if flagged and row.status == "pass":
        row.status = "fail"  # code that reaches into the checks or the grader: for a person to read
    row.detail = "; ".join(filter(None, [row.detail, colab.ids_lost(nb, handout, prepared), *flagged]))
    after = time.time()
    row.profile = {"prepare": round(max(prepare_s, 0.0), 3),
                   **run.profile(execution, lambda cell_id: cell_id.startswith(locking.GRADER_PREFIX)),
                   "judge": round(after - (execution.ended or judged), 3),  # the run's end to the row
                   "total": round(after - begun - waited, 3)}
    row.cell_seconds = [(str(c.get("id", "")), float(c.get("seconds") or 0.0)) for c in execution.cells
                        if isinstance(c.get("seconds", 0.0), (int, float))]
    return row, nb, handout


def variant_label(handout: Handout, student: str, term: str) -> str:
    """The variants a notebook was graded in, per question of its checks: ``"q2=7"``, ``"q1=0 lab=3"``."""
    from course_utils.checks import canonical_id

    prefixes = dict.fromkeys(canonical_id(q).split(".", 1)[0] for q in handout.check_ids)
    return " ".join(f"{p}={variants.number_for(p, student, term)}" for p in prefixes if variants.count(p) > 1)


def whose_variant(results: dict[str, tuple[bool, str]], who: identity.Identity, handout: Handout, term: str,
                  roster: identity.Roster | None) -> str:
    """The row's note when wrong checks hold another variant's right answers: which variant, and whose it is
    (the id cell's owner, or the roster's students who have it)."""
    from course_utils.checks import canonical_id

    per_check: dict[str, list[set[int]]] = {}
    for question, (ok, detail) in results.items():
        if not ok and detail.startswith(judge.OTHER_VARIANT):
            listed = detail[len(judge.OTHER_VARIANT):].split("(", 1)[0]
            prefix = canonical_id(question).split(".", 1)[0]
            per_check.setdefault(prefix, []).append({int(n) for n in listed.replace(",", " ").split() if n.isdigit()})
    if not per_check:
        return ""
    # the variants every such check fits (a tie's 0.5 fits many; the checks together name one), else any of them
    numbers = {prefix: set.intersection(*sets) or set.union(*sets) for prefix, sets in per_check.items()}
    parts = []
    for prefix, found in sorted(numbers.items()):
        owners = []
        if who.cell and who.cell != who.student and variants.number_for(prefix, who.cell, term) in found:
            owners = [who.cell]
        elif roster is not None:
            owners = sorted(i for i in roster.ids if i != who.student and variants.number_for(prefix, i, term) in found)
        named = f" (the variant of {', '.join(map(repr, owners[:5]))}{' ...' if len(owners) > 5 else ''})" if owners else ""
        parts.append(f"{prefix}: answers of variant {'/'.join(map(str, sorted(found)))}{named}, not this student's "
                     f"variant {variants.number_for(prefix, who.student, term)}")
    return "another variant's answers: " + "; ".join(parts)


def uses_lab(handout: Handout) -> bool:
    """Whether the handout's code imports the lab's package (then a tiny run gets the batch's lab cache)."""
    return any(c.cell_type == "code" and "course_utils.lab" in c.source for c in handout.nb.cells)


def _run_once(nb: nbformat.NotebookNode, scratch: Path, settings: Settings, cases: dict | None = None,
              lab: bool = False, student: str = "", term: str = "") -> run.Execution:
    """Execute ``nb`` once in a fresh scratch folder made under ``scratch`` (then removed); ``lab``: a
    tiny-mode run gets the batch's synthetic review set (``sandbox.Environment.tiny_cache``). The run
    itself holds one of ``settings.slots`` (``Execution.waited``: the seconds it waited for one)."""
    workdir, waited = None, 0.0
    try:
        scratch.mkdir(parents=True, exist_ok=True)
        # the grader's own folder (0700): the sandbox gets copies of its files, never the folder
        workdir = Path(tempfile.mkdtemp(prefix="nb-", dir=scratch))
        notebook = workdir / "submission.ipynb"
        notebook.write_text(nbformat.writes(nb), encoding="utf-8")
        environment = settings.environment
        fonts = environment.font_cache() if environment is not None and settings.font_cache else None
        cache = environment.tiny_cache() if lab and settings.tiny and environment else None
        env = run.grading_environment(workdir, settings.tiny, settings.extra_env, environment,
                                      settings.sandboxed, settings.threads, cache)
        # the kernel runs as the student's variant, whatever the notebook's id cell says (variants.use)
        env.update({variants.GRADER_ENV: student, variants.ID_ENV: student, variants.TERM_ENV: term})
        queued = time.monotonic()
        with (settings.slots or Slots(1)).take() as slot:
            waited = time.monotonic() - queued
            execution = run.execute(notebook, settings.timeout, env, settings.sanitize, environment,
                                    settings.sandboxed, settings.user, cases, slot=slot, limits=settings.limits,
                                    font_cache=fonts)
    except OSError as exc:  # the grader's own disk or folders, not the notebook: run again
        execution = run.Execution([], None, False, "", 0.0, infrastructure=f"the grader could not prepare the run: {exc}")
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    execution.waited = round(waited, 3)
    return execution


#: What a process says when it meets a sandbox limit (the last line of a cell's error, or pytest's output).
LIMIT_MESSAGES = {"memory": r"MemoryError|Cannot allocate memory|can't allocate memory|not enough memory|std::bad_alloc",
                  "disk": r"No space left on device|Disk quota exceeded",
                  "file_size": r"File too large",
                  "processes": r"can't start new thread|Resource temporarily unavailable|BlockingIOError: \[Errno 11\]",
                  "open_files": r"Too many open files"}


def limit_reached(execution: run.Execution) -> str:
    """The ``sandbox.Limits`` field the run went over ('' if none seen): the grader's own reading (the
    output cap, a full scratch folder), else the error a cell or pytest ended with."""
    if execution.limit:
        return execution.limit
    texts = [str(c.get("message", "")) for c in execution.cells if c.get("kind") in {"raised", "crash", "timeout"}]
    texts.append(run._last_line(execution.output))
    for name, pattern in LIMIT_MESSAGES.items():
        if any(re.search(pattern, text) for text in texts):
            return name
    return ""


def summarise(name: str, handout: Handout, prepared: locking.Prepared, execution: run.Execution,
              rubric: Rubric, results: dict[str, tuple[bool, str]] | None = None,
              limits: sandbox.Limits = sandbox.DEFAULT_LIMITS) -> Row:
    """The report row: status from the per-cell log and the process's end, points from ``results``."""
    result = score(handout.check_ids, results or {}, rubric)
    ran = [c.id for c in prepared.nb.cells if c.cell_type == "code"]
    logged = [c.get("id") for c in execution.cells]
    forged = logged != ran[:len(logged)]
    cells = [] if forged else execution.cells
    student = [c for c in cells if not str(c["id"]).startswith(locking.GRADER_PREFIX)]
    row = Row(name, "pass", result.total, result.maximum, handout.name, prepared.mode or "unknown",
              cells_compared=sum(bool(c.get("compared")) and c.get("outcome") != "skipped" for c in student),
              cells_differ=sum(c.get("kind") == "differ" for c in student),
              cells_raised=sum(c.get("kind") == "raised" for c in student),
              seconds=execution.seconds, checks=result.points, check_max=result.max_points)
    where = {cell_id: f"cell {n} [{cell_id}]" for cell_id, n in prepared.positions.items()}
    problems = [f"{where.get(c['id'], '[' + str(c['id']) + ']')}: {c['kind']}" for c in student
                if c.get("kind") in {"differ", "raised"}]
    broken = [c for c in cells if c.get("kind") in {"timeout", "crash"}]
    disagrees = not forged and execution.returncode == 1 and not problems and not broken \
        and all(c.get("kind") == "ok" for c in cells)
    log_note = "the cell log does not match the notebook the grader ran (tampered with?)" if forged else \
        "nbval reports a failure the cell log does not show (tampered with?)" if disagrees else ""
    if execution.timed_out or any(c.get("kind") == "timeout" for c in broken):
        row.status, lead = "timeout", f"killed after the time limit ({execution.seconds:g} s)"
    elif execution.kernel_died:
        row.status, lead = "error", f"the kernel died (after {execution.seconds:g} s)"
    elif broken or execution.returncode not in (0, 1) or not execution.cells:
        row.status = "error"
        lead = broken[0].get("message", "") if broken else \
            f"pytest exit {execution.returncode}: {_last_line(execution.output)}"
    else:
        lead = ""
        if problems or prepared.notes or log_note:
            row.status = "fail"
    if execution.infrastructure:
        row.status, lead = "error", execution.infrastructure
    elif limit := limit_reached(execution):
        row.status = "timeout" if row.status == "timeout" else "error"
        lead = "; ".join(filter(None, [f"over the sandbox's {limits.describe(limit)}", lead]))
    row.detail = "; ".join(dict.fromkeys(filter(None, [lead, log_note, *problems, *prepared.notes, *result.notes])))
    return row


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""
