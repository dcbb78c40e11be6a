"""What the sandbox costs a grading run: the same batch graded with and without it, side by side in one run.

    .venv/bin/python ci/grading_cost.py [--copies N] [--rounds R] [--jobs J]

The batch: every real handout filled honestly from its master (as tests/test_grading.py does), N copies
each under other names. Each round grades the batch sandboxed and with ``--no-sandbox`` (the order
alternates between rounds), both with the points judged outside the kernel. Printed: per handout, the
median seconds per notebook of each path and their ratio, also as multiples of the time to import torch,
transformers and the lab package in a fresh interpreter on this machine (median of 3), and whether every
row of both paths is ``pass`` with full marks.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from course_staff.formats import handouts

REPO = Path(__file__).resolve().parent.parent
# The yardstick of machine speed, the same for every revision: BertModel is in it because the package
# imported it until aa4d2ed (the tiny lab now builds its BERT without it), so that multiples of it stay
# comparable with the figures measured before, here and on another machine.
IMPORTS = "import torch, transformers, course_utils.lab.workflow; from transformers import BertModel"


def import_seconds(repeats: int = 3) -> float:
    """Median wall time of a fresh interpreter importing torch, transformers (with ``BertModel``) and the lab
    package: ``IMPORTS``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", IMPORTS], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_batch(folder: Path, copies: int) -> dict[str, str]:
    """Honest submissions of every handout, ``copies`` each; returns file name -> handout name."""
    known = handouts.load_handouts(REPO / "notebooks")
    made = {}
    for name, handout in sorted(known.items()):
        honest = handouts.filled_from_master(handout, nbformat.read(REPO / "answers" / f"{name}.ipynb", 4))
        for copy in range(copies):
            file = f"student{copy:02d} {name}.ipynb"
            nbformat.write(honest, folder / file)
            made[file] = name
    return made


def grade(folder: Path, report: Path, jobs: int, sandboxed: bool) -> tuple[list[dict], float]:
    """Rows of ``course-utils grade`` over ``folder`` and the batch's wall time."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "course_utils", "grade", str(folder), "--handouts", str(REPO / "notebooks"),
                    "--rubric", str(REPO / "answers" / "rubric.json"), "--jobs", str(jobs), "--report", str(report),
                    *([] if sandboxed else ["--no-sandbox"])], cwd=REPO, check=True, capture_output=True)
    return list(csv.DictReader(report.open(encoding="utf-8"))), time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="grading-cost-"))
    try:
        batch = work / "batch"
        batch.mkdir()
        made = make_batch(batch, args.copies)
        unit = import_seconds()
        seconds = {mode: {name: [] for name in sorted(set(made.values()))} for mode in ("sandbox", "no-sandbox")}
        walls = {"sandbox": [], "no-sandbox": []}
        all_full = True
        for round_ in range(args.rounds):
            for mode in (("sandbox", "no-sandbox") if round_ % 2 == 0 else ("no-sandbox", "sandbox")):
                rows, wall = grade(batch, work / f"{mode}-{round_}.csv", args.jobs, mode == "sandbox")
                walls[mode].append(wall)
                for row in rows:
                    seconds[mode][made[row["file"]]].append(float(row["seconds"]))
                    if not (row["status"] == "pass" and row["score"] == row["max_score"]):
                        all_full = False
                        print(f"{mode}: {row['file']}: {row['status']} {row['score']}/{row['max_score']} {row['detail']}")
        print(f"import torch + transformers + the lab package: {unit:.2f} s (median of 3)")
        print(f"{'handout':24s} {'sandbox':>9s} {'no-sandbox':>11s} {'ratio':>6s}   (median s/notebook; x import time)")
        for name in seconds["sandbox"]:
            boxed, free = statistics.median(seconds["sandbox"][name]), statistics.median(seconds["no-sandbox"][name])
            print(f"{name:24s} {boxed:8.2f}s {free:10.2f}s {boxed / free:6.3f}   ({boxed / unit:.1f}x vs {free / unit:.1f}x)")
        print(f"batch wall: sandbox {sum(walls['sandbox']):.1f} s, no-sandbox {sum(walls['no-sandbox']):.1f} s, "
              f"ratio {sum(walls['sandbox']) / sum(walls['no-sandbox']):.3f} "
              f"({len(made)} notebooks x {args.rounds} rounds, --jobs {args.jobs})")
        print(f"every row pass with full marks: {all_full}")
        return 0 if all_full else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
