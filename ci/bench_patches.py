"""What each change the grader makes to another library's behaviour saves, side by side in one process.

    .venv/bin/python ci/bench_patches.py [--rounds R]

The sandbox's launchers (``course_staff/grading/in_kernel/pytest_launch.py`` and ``kernel_launch.py``)
change two things of other libraries: jsonschema's optional import of ``rfc3987_syntax`` is marked
missing (``schema``), and CPython's full garbage collections are made rarer in pytest and the kernel
(``gc``). Each is kept only while it saves at least 5% of a class's grading time
(docs/grading-sandbox.md, "Library patches, measured"). This grades one honest notebook of every
handout (filled from its master, as tests/test_grading.py does) through the production path
(``submission.grade_notebook``: sandboxed, tiny mode, one at a time), with the launchers as they are
and with copies lacking one change each, in turns (A B A B ..., the order rotating each round), so a
machine's load weighs on both alike.

Printed: per handout, the median seconds of one notebook's grading (``grade_notebook``'s wall time:
prepare, the sandboxed run, judging) with every change and without each, the median of the paired
ratios without/with, and for the four notebooks together the share of their time each change saves.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import nbformat  # noqa: E402

from course_staff.formats import handouts  # noqa: E402
from course_staff.formats.scoring import load_rubric  # noqa: E402
from course_staff.grading import batch, judge, run, sandbox, submission  # noqa: E402

PYTEST, KERNEL = "course_grader_pytest.py", "course_grader_kernel.py"
#: each variant: (grader file, text, replacement) edits of the launchers that leave one change out
VARIANTS = {
    "schema": [(PYTEST, 'SKIPPED_IMPORTS = ("rfc3987_syntax",)', "SKIPPED_IMPORTS = ()")],
    "gc": [(PYTEST, "\nfewer_full_collections()  # before", "\npass  # before"),
           (PYTEST, "if __name__ == \"__main__\":\n    start_kernels_with_the_course_launcher()\n",
            "if __name__ == \"__main__\":\n")],
}


def grader_files(edits: list[tuple[str, str, str]]) -> dict[str, bytes]:
    """``run.GRADER_MODULES`` as bytes, with ``edits`` made (each must match once)."""
    files = {name: path.read_text(encoding="utf-8") for name, path in run.GRADER_MODULES.items()}
    for name, old, new in edits:
        if files[name].count(old) != 1:
            raise SystemExit(f"{name} changed: {old!r} is not there once; update ci/bench_patches.py")
        files[name] = files[name].replace(old, new)
    return {name: text.encode("utf-8") for name, text in files.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="notebooks graded per handout and variant (default: 5)")
    args = parser.parse_args()
    os.chdir(REPO)
    work = Path(tempfile.mkdtemp(prefix="bench-patches-"))
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(work / "torch-cache"))
    names = ["with", *VARIANTS]
    environments = {"with": sandbox.build_environment(run.GRADER_MODULES, parent=work),
                    **{v: sandbox.build_environment(grader_files(e), parent=work) for v, e in VARIANTS.items()}}
    found = handouts.load_handouts(Path("notebooks"))
    rubric = load_rubric(Path("answers/rubric.json"))
    notebooks = {}
    for name, handout in sorted(found.items()):
        notebooks[name] = work / f"student {name}.ipynb"
        nbformat.write(handouts.filled_from_master(handout, nbformat.read(Path("answers") / f"{name}.ipynb", 4)),
                       notebooks[name])
    settings = {k: submission.Settings(found, rubric, 600.0, True, batch.SANITIZE_FILE, (), 0, environment=e,
                                       threads=os.cpu_count() or 1, slots=submission.Slots(1))
                for k, e in environments.items()}
    seconds: dict[tuple[str, str], list[float]] = {}
    try:
        for k in names:  # warm-up, not counted: the page cache, the judging worker
            submission.grade_notebook(notebooks[min(notebooks)], work / "runs", settings[k])
        for r in range(args.rounds):
            for handout, path in notebooks.items():
                for k in names[r % len(names):] + names[:r % len(names)]:
                    start = time.perf_counter()
                    row, _, _ = submission.grade_notebook(path, work / "runs", settings[k])
                    seconds.setdefault((handout, k), []).append(time.perf_counter() - start)
                    if row.status != "pass" or row.score != row.max_score:
                        raise SystemExit(f"{handout} ({k}): {row.status} {row.score}/{row.max_score} {row.detail}")
    finally:
        judge.close_workers()
        for environment in environments.values():
            environment.close()
    print(f"{'handout':24s} {'with, s':>8s} " + " ".join(f"{'without ' + v + ', s':>18s} {'ratio':>6s}" for v in VARIANTS))
    totals = {k: 0.0 for k in names}
    for handout in notebooks:
        base = statistics.median(seconds[handout, "with"])
        totals["with"] += base
        cells = []
        for v in VARIANTS:
            ratio = statistics.median(b / a for a, b in zip(seconds[handout, "with"], seconds[handout, v]))
            totals[v] += base * ratio
            cells.append(f"{statistics.median(seconds[handout, v]):18.2f} {ratio:6.3f}")
        print(f"{handout:24s} {base:8.2f} " + " ".join(cells))
    for v in VARIANTS:
        print(f"{v}: saves {(totals[v] - totals['with']) / totals[v] * 100:.1f}% of the four notebooks' time "
              f"({totals['with']:.2f} s with it, {totals[v]:.2f} s without)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
