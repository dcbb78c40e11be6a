"""``course-utils grade DIR --profile FILE``: where each notebook's grading time went.

Per notebook (``FILE``, CSV): the grader's work before the run (``prepare``: read, match the handout,
restore the locked cells, draw the hidden cases), the run's phases (``run.profile``: ``launch`` of
bwrap, the interpreter, pytest and nbval; ``collect``; the ``kernel``'s start; the notebook's own
``cells``; the ``grader_cells``, probe calls included; ``teardown``), the grader's work after it
(``judge``: judging, scoring, the scan) and the ``total``. Per cell (``FILE`` with ``.cells.csv``): the
seconds of each cell's call, in the order run. The summary (printed, and written as ``FILE`` with
``.md``) gives the medians per handout and each handout's slowest cells.

Every figure is read off clocks and the grading plugin's records; none of it is scored.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

from course_staff import csvsafe
from course_staff.formats.report import Row

PHASES = ("prepare", "launch", "collect", "kernel", "cells", "grader_cells", "teardown", "judge", "total")
SLOWEST = 3  # cells named per handout in the summary


def write(rows: list[Row], path: Path) -> str:
    """Write the per-notebook and per-cell CSVs (formula-like text escaped: ``csvsafe``) and the summary
    beside ``path``; returns the summary."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csvsafe.writer(handle)
        writer.writerow(["file", "handout", "status", *PHASES])
        for row in rows:
            writer.writerow([row.file, row.handout, row.status, *(row.profile.get(p, "") for p in PHASES)])
    with path.with_suffix(".cells.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csvsafe.writer(handle)
        writer.writerow(["file", "handout", "position", "cell_id", "seconds"])
        for row in rows:
            for position, (cell_id, seconds) in enumerate(row.cell_seconds, start=1):
                writer.writerow([row.file, row.handout, position, cell_id, seconds])
    text = summary(rows)
    path.with_suffix(".md").write_text(text, encoding="utf-8")
    return text


def summary(rows: list[Row]) -> str:
    """A Markdown table: per handout, the median seconds of each phase, then its slowest cells (medians)."""
    by_handout: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        if row.profile:
            by_handout[row.handout or "-"].append(row)
    lines = ["| handout | notebooks | " + " | ".join(PHASES) + " |", "|---|---:|" + "---:|" * len(PHASES)]
    slow = []
    for handout, group in sorted(by_handout.items()):
        medians = [statistics.median(r.profile.get(p, 0.0) for r in group) for p in PHASES]
        lines.append(f"| {handout} | {len(group)} | " + " | ".join(f"{m:.2f}" for m in medians) + " |")
        per_cell: dict[str, list[float]] = defaultdict(list)
        for row in group:
            for cell_id, seconds in row.cell_seconds:
                per_cell[cell_id].append(seconds)
        top = sorted(((statistics.median(v), k) for k, v in per_cell.items()), reverse=True)[:SLOWEST]
        slow.append(f"- {handout}: " + ", ".join(f"`{k}` {m:.2f} s" for m, k in top))
    return "\n".join(["Median seconds per notebook:", "", *lines, "", "Slowest cells (median s):", *slow, ""])
