"""``course-utils grade DIR``: grade a folder of submitted notebooks; write the report and the written answers.

Each ``DIR/*.ipynb`` is matched to its handout by content, its locked cells are restored, it runs in
its own bubblewrap sandbox and fresh scratch folder (``--jobs`` at a time, ``--timeout`` seconds each;
``sandbox.py``), and it gets one report row with its score. The batch goes on past every failure (an
exception while grading one notebook is that notebook's ``error`` row) and exits 0 when it finished.
Without a working bwrap it refuses (exit 2) unless ``--no-sandbox`` is given.
``--shard K/N`` grades a stable K-th of the folder (``shards.py``); ``--profile FILE`` says where each
notebook's time went (``profile.py``); ``--gradescope FILE`` writes
Gradescope's results.json for a folder holding one submission.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from course_staff.formats.handouts import load_handouts
from course_staff.formats.report import Row, write_report
from course_staff.formats.scoring import load_rubric
from course_staff.formats import identity
from course_staff.grading import gradescope, judge, profile, run, sandbox, scratch, shards
from course_staff.grading.submission import variant_label, NOT_SANDBOXED, Settings, Slots, grade_notebook
from course_staff.written import answers

SANITIZE_FILE = Path(__file__).resolve().parent / "in_kernel" / "nbval_sanitize.cfg"
DEFAULT_RUBRIC = Path("answers/rubric.json")


def grade_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``course-utils grade``."""
    parser.add_argument("dir", type=Path, metavar="DIR", help="folder of submitted *.ipynb (only read)")
    parser.add_argument("--report", type=Path, default=Path("grading_report.csv"),
                        help="CSV report (default: ./grading_report.csv); written answers go beside it "
                             "as REPORT.answers.csv and REPORT.answers.html")
    parser.add_argument("--handouts", type=Path, default=Path("notebooks"),
                        help="folder of the handouts the submissions answer (default: notebooks)")
    parser.add_argument("--rubric", type=Path, default=None,
                        help=f"points per check id (default: {DEFAULT_RUBRIC} if it exists, else 1 per check)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per notebook before it is killed (default: 600)")
    parser.add_argument("--retries", type=int, default=1, metavar="N",
                        help="run a notebook that timed out or whose kernel died again, up to N times (default: 1)")
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                        help="notebooks run at the same time (default: min(4, CPUs))")
    parser.add_argument("--full", action="store_true", help="grade in full mode (COURSE_TINY=0); default: tiny mode")
    parser.add_argument("--shard", type=shards.parse_shard, default=None, metavar="K/N",
                        help="grade only the K-th of N stable parts of DIR (join with course-utils grade-merge)")
    parser.add_argument("--profile", type=Path, default=None, metavar="FILE",
                        help="also write where each notebook's time went: FILE (CSV per notebook), FILE's .cells.csv "
                             "(per cell) and .md (medians per handout, also printed)")
    parser.add_argument("--gradescope", type=Path, default=None, metavar="FILE",
                        help="also write Gradescope's results.json for DIR's one submission")
    parser.add_argument("--roster", type=Path, default=None, metavar="CSV",
                        help="with variants on: the class's ids (a column 'id'; Canvas's gradebook export has one) and "
                             "optionally a column 'file' naming each id's submission; an id cell that disagrees is "
                             "flagged (docs/variants.md)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME",
                        help="pass this variable of yours to the kernels too (repeatable); they get only what they need")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run the notebooks without bubblewrap (a trusted batch only; every row says so)")
    parser.add_argument("--kernel-user", default=None, metavar="NAME",
                        help="run each sandbox (and kernel) as this unprivileged user (needs root; Gradescope: student)")
    defaults = sandbox.DEFAULT_LIMITS
    for name, help_ in (("memory", "address space of each process in a sandbox"),
                        ("disk", "the scratch folder of each notebook (a tmpfs, in memory; /tmp is in it)"),
                        ("file-size", "largest file a notebook may write"),
                        ("output", "most the grader reads back from one notebook (cell log and answers)")):
        default = getattr(defaults, name.replace("-", "_"))
        parser.add_argument(f"--limit-{name}", type=parse_size, default=default, metavar="SIZE",
                            help=f"{help_} (default: {sandbox._size(default)}; e.g. 512M, 4G)")
    parser.add_argument("--limit-processes", type=int, default=defaults.processes, metavar="N",
                        help=f"processes and threads of each notebook (default: {defaults.processes})")
    parser.add_argument("--sanitize-with", type=Path, default=SANITIZE_FILE, help=f"nbval sanitizer file (default: {SANITIZE_FILE})")


def parse_size(text: str) -> int:
    """Bytes from ``512M``, ``4G``, ``1.5G``, ``65536`` (K, M, G: powers of 1024)."""
    units = {"": 1, "K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30}
    number, unit = text.strip().upper().removesuffix("IB").removesuffix("B"), ""
    if number and number[-1] in units:
        number, unit = number[:-1], number[-1]
    try:
        value = int(float(number) * units[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (e.g. 512M, 4G)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a size must be positive")
    return value


def _usage(message: str) -> int:
    print(f"course-utils grade: {message}", file=sys.stderr)
    return 2


def grade(args: argparse.Namespace) -> int:
    """Grade ``DIR``; write the report (and results.json); 0 when the batch finished, 2 on usage errors."""
    if not args.dir.is_dir():
        return _usage(f"{args.dir} is not a folder of notebooks")
    if args.timeout <= 0 or args.jobs < 1 or args.retries < 0:
        return _usage("--timeout must be > 0, --jobs >= 1 and --retries >= 0")
    user = None
    if args.kernel_user is not None:
        import pwd  # POSIX only, as the sandbox is

        try:
            entry = pwd.getpwnam(args.kernel_user)
        except KeyError:
            return _usage(f"--kernel-user {args.kernel_user}: no such user")
        if os.geteuid() != 0:
            return _usage("--kernel-user needs the grader to run as root")
        user = (entry.pw_uid, entry.pw_gid)
    if not args.no_sandbox and (why := sandbox.available(user)) is not None:
        return _usage(f"cannot sandbox the notebooks: {why}; or pass --no-sandbox for a trusted batch")
    if not args.handouts.is_dir():
        return _usage(f"--handouts {args.handouts} is not a folder (run from the repository root, or pass --handouts)")
    rubric_path = args.rubric or (DEFAULT_RUBRIC if DEFAULT_RUBRIC.is_file() else None)
    try:
        handouts = load_handouts(args.handouts)
        rubric = load_rubric(rubric_path)
        roster = identity.load_roster(args.roster) if args.roster is not None else None
    except ValueError as exc:
        return _usage(str(exc))
    check_ids = list(dict.fromkeys(q for h in handouts.values() for q in h.check_ids))
    unknown = sorted(set(rubric.points) - set(check_ids))
    if unknown:
        print(f"course-utils grade: warning: the rubric {rubric_path} names check ids no handout checks "
              f"(a typo, or a check removed?): {', '.join(unknown)}", file=sys.stderr)
    notebooks = _submissions(args.dir, gradescope_mode=args.gradescope is not None)
    if args.gradescope is not None and len(notebooks) != 1:
        found = ", ".join(p.name for p in notebooks) or "none"
        gradescope.write(gradescope.failure(f"Submit exactly one .ipynb notebook (found: {found})."), args.gradescope)
        print(f"no single notebook in {args.dir}; wrote {args.gradescope}")
        return 0
    notebooks = shards.select(notebooks, args.shard)
    if not notebooks and args.shard is None:
        return _usage(f"no *.ipynb in {args.dir}")
    sanitize = args.sanitize_with if args.sanitize_with.is_file() else None
    if sanitize is None:
        print(f"course-utils grade: warning: no sanitizer file {args.sanitize_with}; comparing raw outputs", file=sys.stderr)
    if args.no_sandbox:
        print(f"course-utils grade: {NOT_SANDBOXED}: --no-sandbox runs every notebook as you, unconfined",
              file=sys.stderr)
    limits = sandbox.Limits(memory=args.limit_memory, processes=args.limit_processes, disk=args.limit_disk,
                            file_size=args.limit_file_size, output=args.limit_output)
    run.STOPPING.clear()
    removed = scratch.remove_stale()
    if removed:
        print(f"course-utils grade: removed {len(removed)} folder(s) that killed batches left: "
              f"{', '.join(p.name for p in removed)}", file=sys.stderr)
    folder = scratch.BatchFolder()
    stopped: list[str] = []
    previous = _stop_on_signals(stopped)
    graded: dict[int, tuple[Row, object, object]] = {}
    try:
        environment = sandbox.build_environment(run.GRADER_MODULES, parent=folder.path)
        settings = Settings(handouts, rubric, args.timeout, not args.full, sanitize, tuple(args.env), args.retries,
                            sandboxed=not args.no_sandbox, environment=environment, user=user,
                            threads=max(1, (os.cpu_count() or 1) // args.jobs), slots=Slots(args.jobs),
                            limits=limits, roster=roster)
        runs = folder.path / "runs"
        with _torch_cache_in(folder.path):
            # twice as many threads as run slots: while --jobs notebooks run, others are read, prepared
            # and judged (the grader's own work per notebook, 0.05-0.4 s, holds no slot)
            pool = ThreadPoolExecutor(max_workers=2 * args.jobs)
            try:
                futures = {pool.submit(_grade_one, path, runs, settings): i for i, path in enumerate(notebooks)}
                for future in as_completed(futures):
                    graded[futures[future]] = future.result()
                    # the report as rows finish, replaced atomically: a batch killed later keeps them
                    write_report(_rows(notebooks, graded), args.report, check_ids)
            except KeyboardInterrupt:
                if not stopped:
                    stopped.append("SIGINT")
                run.stop_all()  # the running sandboxes and kernels; no new run starts
                pool.shutdown(wait=True, cancel_futures=True)
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    finally:
        _restore_signals(previous)
        judge.close_workers()
        folder.close()
    if stopped:
        rows = _rows(notebooks, graded, missing=f"not graded: the batch was stopped ({stopped[0]}) first; grade again")
        write_report(rows, args.report, check_ids)
        print(f"course-utils grade: stopped by {stopped[0]}: {len(graded)} of {len(notebooks)} notebooks graded, "
              f"the rest are error rows in {args.report}", file=sys.stderr)
        return 130 if stopped[0] == "SIGINT" else 143
    rows = _rows(notebooks, graded)
    graded_list = [graded[i] for i in range(len(notebooks))]
    flag_shared_id_cells(graded_list, roster)
    write_report(rows, args.report, check_ids)
    written = [a for row, nb, handout in graded_list if handout is not None
               for a in answers.collect(row.file, nb, handout, row.variant or variant_label(handout, "", ""))]
    answers.write_csv(written, args.report.with_suffix(".answers.csv"))
    answers.write_html(written, args.report.with_suffix(".answers.html"))
    if args.gradescope is not None:
        gradescope.write(gradescope.results(rows[0]), args.gradescope)
    _print(rows, args.report)
    if args.profile is not None:
        print(profile.write(rows, args.profile), end="")
        print(f"profile: {args.profile}, {args.profile.with_suffix('.cells.csv')}, {args.profile.with_suffix('.md')}")
    if args.no_sandbox:
        print(f"{NOT_SANDBOXED} (--no-sandbox)")
    return 0


def flag_shared_id_cells(graded: list[tuple[Row, object, object]], roster: identity.Roster | None) -> None:
    """Where nothing but the id cell names a notebook's owner (no Canvas name, no roster line), two notebooks of one
    handout naming the same id are graded as the same student: each row says so (a copy that kept its source's id)."""
    claimed: dict[tuple[str, str], list[Row]] = {}
    for row, nb, handout in graded:
        if nb is None or handout is None or not row.student:
            continue
        if identity.identify(row.file, nb, roster).source == "id cell":
            claimed.setdefault((row.student, handout.name), []).append(row)
    for rows in claimed.values():
        for row in rows if len(rows) > 1 else ():
            others = ", ".join(r.file for r in rows if r is not row)
            row.detail = "; ".join(filter(None, [f"its id cell's {row.student!r} is also the id cell of {others}",
                                                 row.detail]))


def _rows(notebooks: list[Path], graded: dict, missing: str | None = None) -> list[Row]:
    """The report's rows in the folder's order: those graded, and (``missing``) an error row for each other."""
    rows = []
    for i, path in enumerate(notebooks):
        if i in graded:
            rows.append(graded[i][0])
        elif missing is not None:
            rows.append(Row(path.name, "error", detail=missing))
    return rows


def _stop_on_signals(stopped: list[str]) -> dict:
    """SIGTERM (and SIGHUP) stop the batch as Ctrl-C does: a KeyboardInterrupt in the main thread, after which
    the running notebooks are killed and the rows graded so far written. Returns the handlers replaced."""
    previous = {}
    if threading.current_thread() is not threading.main_thread():
        return previous

    def interrupt(signum: int, frame: object) -> None:
        stopped.append(signal.Signals(signum).name)
        raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGHUP):
        previous[signum] = signal.signal(signum, interrupt)
    return previous


def _restore_signals(previous: dict) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


@contextlib.contextmanager
def _torch_cache_in(scratch: Path) -> Iterator[None]:
    """``TORCHINDUCTOR_CACHE_DIR`` in the batch's scratch folder while it grades, unless the grader set it.

    Drawing the hidden cases imports the keys, the lab's imports transformers, which imports torch._dynamo,
    which makes ``$TMPDIR/torchinductor_<user>`` at import (and the judging workers inherit the variable):
    without it, every batch would leave that folder behind in the grader's temporary folder.
    """
    if "TORCHINDUCTOR_CACHE_DIR" in os.environ:
        yield
        return
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(scratch / "torch-cache")
    try:
        yield
    finally:
        os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)


def _grade_one(path: Path, scratch: Path, settings: Settings) -> tuple[Row, object, object]:
    """``grade_notebook``, with any exception of the grader's turned into that notebook's ``error`` row."""
    try:
        return grade_notebook(path, scratch, settings)
    except Exception as exc:  # noqa: BLE001 - one notebook's failure is its own row, never the batch's
        detail = f"the grader failed on this notebook: {type(exc).__name__}: {exc}".splitlines()[0][:300]
        if not settings.sandboxed:
            detail = f"{NOT_SANDBOXED}; {detail}"
        return Row(path.name, "error", detail=detail), None, None


def _submissions(folder: Path, gradescope_mode: bool) -> list[Path]:
    """The notebooks to grade: the entries of ``folder`` named ``*.ipynb`` (not hidden); for Gradescope, anywhere
    below it (uploads may be zipped). Nothing is followed or opened here: a link, pipe, device or folder named
    ``*.ipynb`` is listed, and grading it gives its error row (``submission.read_submission``)."""
    if not gradescope_mode:
        with os.scandir(folder) as entries:
            return sorted(folder / e.name for e in entries if e.name.endswith(".ipynb") and not e.name.startswith("."))
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if d != ".ipynb_checkpoints" and not os.path.islink(os.path.join(root, d))]
        found += [Path(root) / name for name in files + [d for d in dirs if d.endswith(".ipynb")]
                  if name.endswith(".ipynb")]
    return sorted(found)


def _print(rows: list[Row], report: Path) -> None:
    for row in rows:
        runs = f" (run {row.runs} times)" if row.runs > 1 else ""
        print(f"{row.status:7s} {row.score:g}/{row.max_score:g}  {row.file}  [{row.handout or '-'}, {row.mode or '-'}] "
              f"{row.seconds:.1f}s{runs} {row.detail}")
    print(f"report: {report} ({len(rows)} notebooks)")
