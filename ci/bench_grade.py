"""The grading benchmark: the same honest submissions graded by an old and the new grader, side by side.

    .venv/bin/python ci/bench_grade.py [--baseline REF] [--copies N] [--rounds R] [--jobs J]

"Old" is the repository at ``REF`` (a ``git worktree`` in a temporary folder; default: ``b86ed66``, the
last commit before the grading-cost work), "new" is this working tree. Each tree grades notebooks it
makes itself: every real handout filled honestly from that tree's own master (as tests/test_grading.py
does), N copies each, one batch (one ``course-utils grade`` run, sandboxed, ``--jobs J``) per handout, so
each grader grades what its own handouts give out. Both trees run in this interpreter's environment
(``PYTHONPATH`` and the working folder pick the tree's packages); ``R`` rounds alternate which goes first.

Printed: the time to import torch, transformers and the lab package in a fresh interpreter here (median of
5: the unit that makes the figures mean the same on another machine); per handout and tree, the median
seconds of one notebook's run (the report's ``seconds``: bwrap, pytest, the kernel, every cell) and the
whole grading cost of one notebook (the batch's wall time x J / N: the grader's own work before and after
included, its start-up shared by the N), each also as a multiple of the import time, and new/old; whether
every row of both trees passed with full marks (exit 1 if one did not).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The yardstick of machine speed, the same for every revision: BertModel is in it because the package
# imported it until aa4d2ed (the tiny lab now builds its BERT without it), so that multiples of it stay
# comparable with the figures measured before, here and on another machine.
IMPORTS = "import torch, transformers, course_utils.lab.workflow; from transformers import BertModel"
BASELINE = "b86ed66"
MAKE_BATCH = """
import sys, nbformat
from pathlib import Path
try:
    from course_staff.formats import handouts
except ImportError:  # a tree from before course_staff.formats (the baseline)
    from course_staff.grading import handouts
folder, copies = Path(sys.argv[1]), int(sys.argv[2])
for name, handout in sorted(handouts.load_handouts(Path("notebooks")).items()):
    honest = handouts.filled_from_master(handout, nbformat.read(Path("answers") / f"{name}.ipynb", 4))
    for copy in range(copies):
        nbformat.write(honest, folder / f"student{copy:03d} {name}.ipynb")
"""


def import_seconds(repeats: int = 5) -> float:
    """Median wall time of a fresh interpreter importing torch, transformers (with ``BertModel``) and the lab
    package: ``IMPORTS``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", IMPORTS], check=True, cwd=REPO)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def tree_env(tree: Path) -> dict[str, str]:
    """The environment that makes this interpreter import ``tree``'s packages first."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))}


def make_batch(tree: Path, folder: Path, copies: int) -> None:
    """Honest submissions of every handout of ``tree``, ``copies`` each, written into ``folder``."""
    folder.mkdir(parents=True)
    subprocess.run([sys.executable, "-c", MAKE_BATCH, str(folder), str(copies)], cwd=tree, env=tree_env(tree),
                   check=True)


def grade(tree: Path, folder: Path, report: Path, jobs: int, profile: Path | None = None) -> tuple[list[dict], float]:
    """Rows of ``tree``'s ``course-utils grade`` over ``folder`` (sandboxed) and the batch's wall time."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "course_utils", "grade", str(folder), "--jobs", str(jobs),
                    "--report", str(report), *(["--profile", str(profile)] if profile else [])],
                   cwd=tree, env=tree_env(tree), check=True, capture_output=True)
    wall = time.perf_counter() - start
    with report.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle)), wall


def handout_of(file: str) -> str:
    return file.split(" ", 1)[1].removesuffix(".ipynb")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help=f"the old grader's git revision (default: {BASELINE})")
    parser.add_argument("--copies", type=int, default=4, help="honest submissions per handout (default: 4)")
    parser.add_argument("--rounds", type=int, default=2, help="gradings of each batch by each tree (default: 2)")
    parser.add_argument("--jobs", type=int, default=2, help="course-utils grade --jobs (default: 2)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-grade-"))
    old = work / "old"
    try:
        subprocess.run(["git", "worktree", "add", "--detach", str(old), args.baseline], cwd=REPO, check=True,
                       capture_output=True)
        trees = {"old": old, "new": REPO}
        batches: dict[str, dict[str, Path]] = {}
        for name, tree in trees.items():
            everything = work / f"all-{name}"
            make_batch(tree, everything, args.copies)
            for file in sorted(everything.glob("*.ipynb")):
                folder = work / "batches" / name / handout_of(file.name)
                folder.mkdir(parents=True, exist_ok=True)
                file.rename(folder / file.name)
            batches[name] = {folder.name: folder for folder in sorted((work / "batches" / name).iterdir())}
        unit = import_seconds()
        runs = {name: {} for name in trees}
        whole = {name: {} for name in trees}
        all_full = True
        for round_ in range(args.rounds):
            for name in (("old", "new") if round_ % 2 == 0 else ("new", "old")):
                for handout, folder in batches[name].items():
                    rows, wall = grade(trees[name], folder, work / f"{name}-{handout}-{round_}.csv", args.jobs, None)
                    whole[name].setdefault(handout, []).append(wall * args.jobs / len(rows))
                    for row in rows:
                        runs[name].setdefault(handout, []).append(float(row["seconds"]))
                        if not (row["status"] == "pass" and row["score"] == row["max_score"]):
                            all_full = False
                            print(f"{name}: {row['file']}: {row['status']} {row['score']}/{row['max_score']} "
                                  f"{row['detail']}")
        print(f"import torch + transformers + the lab package: {unit:.2f} s (median of 5)")
        print(f"old = {args.baseline}, new = this tree; {args.copies} honest notebooks per handout and batch, "
              f"{args.rounds} rounds, --jobs {args.jobs}, sandboxed. Seconds per notebook (x import time):")
        print(f"{'handout':22s} {'run, old':>14s} {'run, new':>14s} {'new/old':>7s}   "
              f"{'grading, old':>14s} {'grading, new':>14s} {'new/old':>7s}")
        for handout in sorted(runs["new"]):
            cells = []
            for table in (runs, whole):
                before, after = statistics.median(table["old"][handout]), statistics.median(table["new"][handout])
                cells.append(f"{before:6.2f} ({before / unit:4.1f}x) {after:6.2f} ({after / unit:4.1f}x) "
                             f"{after / before:7.3f}")
            print(f"{handout:22s} " + "   ".join(cells))
        print("run: median of the report's seconds; grading: median over rounds of the batch's wall x jobs / notebooks")
        print(f"every row of both trees pass with full marks: {all_full}")
        return 0 if all_full else 1
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=REPO, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
