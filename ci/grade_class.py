"""A whole class graded end to end on this machine: N students x every handout, honest, sandboxed.

    .venv/bin/python ci/grade_class.py [--students 300] [--jobs 2] [--keep DIR]

Each student hands in every real handout filled honestly from its master (as tests/test_grading.py
does), under a file name of their own; one ``course-utils grade`` run grades the folder (sandboxed,
``--profile``). Printed: the wall time, the peak memory the machine used above its level before the run
(``MemTotal - MemAvailable`` from ``/proc/meminfo``, sampled every second), the profile's medians per
handout, and whether every row is ``pass`` with full marks (exit 1 if not). ``--keep DIR`` keeps the
report and the profile there. ``--json FILE`` also measures the import-time yardstick (as ci/bench_grade.py
does) and writes the figures, with this commit and today's date, as the ``grading_class`` record of FILE
(other records kept): ``--json ci/performance.json``, then ``python ci/docs_pages.py`` renders docs/performance.md.
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
import threading
import time
from pathlib import Path

import nbformat

from course_staff.formats import handouts

REPO = Path(__file__).resolve().parent.parent


def used_bytes(meminfo: Path = Path("/proc/meminfo")) -> int:
    """Memory in use on the machine: MemTotal - MemAvailable (of ``meminfo``, in bytes)."""
    fields = {}
    for line in meminfo.read_text().splitlines():
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0]) * 1024
    return fields["MemTotal"] - fields["MemAvailable"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the figures as FILE's grading_class record")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="grade-class-"))
    try:
        batch = work / "batch"
        batch.mkdir()
        for name, handout in sorted(handouts.load_handouts(REPO / "notebooks").items()):
            honest = nbformat.writes(handouts.filled_from_master(handout, nbformat.read(REPO / "answers" / f"{name}.ipynb", 4)))
            for student in range(args.students):
                (batch / f"s{student:04d} {name}.ipynb").write_text(honest, encoding="utf-8")
        unit = None
        if args.json is not None:
            from bench_grade import import_seconds  # ci/ is on sys.path: this script's folder

            unit = import_seconds()
        baseline, peak, stop = used_bytes(), [0], threading.Event()

        def sample() -> None:
            while not stop.wait(1.0):
                peak[0] = max(peak[0], used_bytes() - baseline)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "course_utils", "grade", str(batch), "--jobs", str(args.jobs),
                               "--report", str(work / "report.csv"), "--profile", str(work / "profile.csv")],
                              cwd=REPO, capture_output=True, text=True)
        wall = time.perf_counter() - start
        stop.set()
        sampler.join()
        if done.returncode != 0:
            print(done.stdout[-2000:], done.stderr[-2000:])
            return 1
        with (work / "report.csv").open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        wrong = [r for r in rows if not (r["status"] == "pass" and r["score"] == r["max_score"])]
        for row in wrong[:20]:
            print(f"{row['file']}: {row['status']} {row['score']}/{row['max_score']} {row['detail']}")
        print((work / "profile.md").read_text(encoding="utf-8"))
        print(f"{len(rows)} notebooks ({args.students} students x {len(rows) // max(args.students, 1)} handouts), "
              f"--jobs {args.jobs}, sandboxed: wall {wall:.0f} s ({wall / 60:.1f} min); peak memory above the "
              f"machine's level before: {peak[0] / 2 ** 30:.2f} GiB")
        print(f"rows pass with full marks: {len(rows) - len(wrong)} of {len(rows)}")
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            for file in ("report.csv", "profile.csv", "profile.cells.csv", "profile.md"):
                shutil.copy(work / file, args.keep / file)
        if args.json is not None:
            write_record(args, rows, wrong, wall, peak[0], unit, work / "profile.csv")
        return 0 if not wrong and len(rows) == args.students * 4 else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_record(args: argparse.Namespace, rows: list[dict], wrong: list[dict], wall: float, peak: int,
                 unit: float, profile: Path) -> None:
    """The run as the ``grading_class`` record of ``args.json`` (the schema ci/docs_pages.py renders)."""
    with profile.open(encoding="utf-8") as handle:
        timed = list(csv.DictReader(handle))
    phases = [name for name in timed[0] if name not in ("file", "handout", "status")] if timed else []
    medians = {handout: {p: round(statistics.median(float(r[p] or 0) for r in timed if r["handout"] == handout), 2)
                         for p in phases}
               for handout in sorted({r["handout"] for r in timed})}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip()
    data = json.loads(args.json.read_text(encoding="utf-8")) if args.json.exists() else {}
    data["grading_class"] = {
        "command": f"ci/grade_class.py --students {args.students} --jobs {args.jobs}",
        "commit": commit, "date": datetime.date.today().isoformat(),
        "machine": f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at the end",
        "students": args.students, "jobs": args.jobs, "notebooks": len(rows), "full_marks": len(rows) - len(wrong),
        "wall_s": round(wall), "peak_gib": round(peak / 2 ** 30, 2), "import_s": round(unit, 2),
        "medians_s": medians,
    }
    args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"wrote the grading_class record to {args.json}")


if __name__ == "__main__":
    sys.exit(main())
