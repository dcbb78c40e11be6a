"""What per-student variants cost the grader: the same honest class graded with variants off and on, side by side.

    .venv/bin/python ci/bench_variants.py [--copies N] [--rounds R] [--jobs J] [--json]

Every handout is filled honestly from its master (``filled_from_master``: the master's solutions compute from the
variant's numbers, so one filled notebook is honest in every variant), N copies each, named as Canvas downloads
them with N different Canvas user ids, one batch per handout. Off: the copies as today (no id typed, the master's
outputs), graded with ``COURSE_VARIANT_TERM`` empty. On: each copy with its id typed and executed as its student
runs it (outputs of their variant), graded with the term set. Both by this tree's ``course-utils grade``
(sandboxed, ``--jobs J``), in turns, R rounds alternating which goes first.

Printed per handout: the median seconds of one notebook's run (the report's ``seconds``) and of its whole grading
cost (the batch's wall x J / N), off and on, and on/off; how many distinct variants the class was graded in; and
whether every row of both passed with full marks (exit 1 if not). ``--json`` prints the record
``ci/performance.json`` keeps as ``variants_cost``.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TERM = "bench-term"
MAKE_BATCH = """
import os, sys, nbformat
from pathlib import Path
from nbclient import NotebookClient
from course_staff.formats import handouts
folder, copies, term, only = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
env = {**os.environ, "COURSE_VARIANT_TERM": term, "COURSE_TINY": "1", "MPLBACKEND": "Agg"}
for name, handout in sorted(handouts.load_handouts(Path("notebooks")).items()):
    if only and name != only:
        continue
    honest = handouts.filled_from_master(handout, nbformat.read(Path("answers") / f"{name}.ipynb", 4))
    for kind in ("off", "on"):
        (folder / kind / name).mkdir(parents=True)
    for copy in range(copies):
        student = str(200001 + 7919 * copy)
        file = f"student{copy:03d}_{student}_{copy + 1}_{name}.ipynb"
        nbformat.write(honest, folder / "off" / name / file)  # as today: no id, the master's outputs
        mine = nbformat.from_dict(honest)
        for cell in mine.cells:  # the id typed, then run as the student runs it: outputs of their variant
            if cell.cell_type == "code" and 'STUDENT_ID = ""' in cell.source:
                cell.source = cell.source.replace('STUDENT_ID = ""', f'STUDENT_ID = "{student}"')
        NotebookClient(mine, timeout=1800, kernel_name="python3",
                       resources={"metadata": {"path": str(folder)}}).execute(env=env)
        nbformat.write(mine, folder / "on" / name / file)
"""


def grade(folder: Path, report: Path, jobs: int, term: str) -> tuple[list[dict], float]:
    """Rows of ``course-utils grade`` over ``folder`` with the variants' term ``term`` ("" = off), and its wall."""
    env = {**os.environ, "COURSE_VARIANT_TERM": term}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "course_utils", "grade", str(folder), "--jobs", str(jobs),
                    "--report", str(report)], cwd=REPO, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    with report.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle)), wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4, help="honest submissions per handout (default: 4)")
    parser.add_argument("--rounds", type=int, default=2, help="gradings of each batch, off and on (default: 2)")
    parser.add_argument("--jobs", type=int, default=2, help="course-utils grade --jobs (default: 2)")
    parser.add_argument("--only", default=None, help="one handout, e.g. 02_rnn_recurrence")
    parser.add_argument("--json", action="store_true", help="print the performance.json record")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-variants-"))
    try:
        (work / "batches").mkdir()
        subprocess.run([sys.executable, "-c", MAKE_BATCH, str(work / "batches"), str(args.copies), TERM,
                        args.only or ""], cwd=REPO, check=True)
        batches = {kind: {p.name: p for p in sorted((work / "batches" / kind).iterdir())} for kind in ("off", "on")}
        runs: dict[str, dict[str, list[float]]] = {"off": {}, "on": {}}
        whole: dict[str, dict[str, list[float]]] = {"off": {}, "on": {}}
        graded_in: dict[str, set[str]] = {}
        all_full = True
        for round_ in range(args.rounds):
            for name in (("off", "on") if round_ % 2 == 0 else ("on", "off")):
                for handout, folder in batches[name].items():
                    rows, wall = grade(folder, work / f"{name}-{handout}-{round_}.csv", args.jobs,
                                       TERM if name == "on" else "")
                    whole[name].setdefault(handout, []).append(wall * args.jobs / len(rows))
                    for row in rows:
                        runs[name].setdefault(handout, []).append(float(row["seconds"]))
                        if name == "on":
                            graded_in.setdefault(handout, set()).add(row.get("variant", ""))
                        if not (row["status"] == "pass" and row["score"] == row["max_score"]):
                            all_full = False
                            print(f"{name}: {row['file']}: {row['status']} {row['score']}/{row['max_score']} "
                                  f"{row['detail']}")
        table = {}
        print(f"{args.copies} honest notebooks per handout, {args.rounds} rounds, --jobs {args.jobs}, sandboxed. "
              "Seconds per notebook, variants off and on:")
        print(f"{'handout':22s} {'run off':>8s} {'run on':>8s} {'on/off':>7s}   {'cost off':>8s} {'cost on':>8s} "
              f"{'on/off':>7s}  variants graded")
        for handout in sorted(runs["on"]):
            figures = {}
            for label, data in (("run", runs), ("grading", whole)):
                off, on = statistics.median(data["off"][handout]), statistics.median(data["on"][handout])
                figures[label] = {"off": round(off, 2), "on": round(on, 2), "on_over_off": round(on / off, 3)}
            table[handout] = {**figures, "variants": len(graded_in.get(handout, set()))}
            r, g = figures["run"], figures["grading"]
            print(f"{handout:22s} {r['off']:8.2f} {r['on']:8.2f} {r['on_over_off']:7.3f}   {g['off']:8.2f} "
                  f"{g['on']:8.2f} {g['on_over_off']:7.3f}  {table[handout]['variants']}")
        print(f"every row of both pass with full marks: {all_full}")
        if args.json:
            commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                    text=True).stdout.strip()
            print(json.dumps({"command": f"ci/bench_variants.py --copies {args.copies} --rounds {args.rounds} "
                                         f"--jobs {args.jobs}", "commit": commit,
                              "date": datetime.date.today().isoformat(), "per_handout": table,
                              "all_full_marks": all_full}, indent=1))
        return 0 if all_full else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
