"""The grading report: one CSV row per submitted notebook, and joining the reports of shards.

Columns: ``REPORT_COLUMNS``, then one column per check id (the points that check earned; empty
for checks of another handout). Status is ``pass`` (ran; every compared output reproduced; locked
cells intact; nothing tampered with), ``fail`` (a cell raised, an output differs, a locked cell or
marker was changed, or check functions were tampered with), ``error`` (not a notebook, matches no
handout, or the kernel died) or ``timeout``. The score is separate from the status: it counts only
the checks' verdicts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from course_staff import csvsafe


@dataclass
class Row:
    """One line of the report: how one submitted notebook fared."""

    file: str
    status: str
    score: float = 0.0
    max_score: float = 0.0
    handout: str = ""
    mode: str = ""
    cells_compared: int = 0
    cells_differ: int = 0
    cells_raised: int = 0
    seconds: float = 0.0  # of the last run
    runs: int = 1  # 2 when a run that timed out or lost its kernel was run again (``--retries``)
    detail: str = ""
    sandbox: str = ""  # "bwrap", or "none" where the batch ran with --no-sandbox
    student: str = ""  # the id it was graded as, with variants on (``identity.identify``)
    variant: str = ""  # its variant per question, "q2=7" (variants on only)
    checks: dict[str, float] = field(default_factory=dict)  # check id -> points earned
    check_max: dict[str, float] = field(default_factory=dict)  # check id -> points possible
    profile: dict[str, float] = field(default_factory=dict)  # phase -> seconds (``--profile``; see ``profile.py``)
    cell_seconds: list[tuple[str, float]] = field(default_factory=list)  # (cell id, seconds of its call) as run


REPORT_COLUMNS = tuple(f.name for f in fields(Row) if f.name not in {"checks", "check_max", "profile", "cell_seconds"})
_BEFORE_VARIANTS = tuple(c for c in REPORT_COLUMNS if c not in ("student", "variant"))


def _number(value: float) -> str:
    return f"{value:g}"


def write_report(rows: list[Row], path: Path, check_ids: list[str]) -> None:
    """Write ``rows`` as CSV: ``REPORT_COLUMNS`` then one column per id in ``check_ids``, atomically (a
    temporary file beside it, then renamed over it).

    Text cells a spreadsheet would run as a formula (a file named ``=...``) are escaped (``csvsafe``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.part")
    with part.open("w", newline="", encoding="utf-8") as handle:
        writer = csvsafe.writer(handle)
        writer.writerow([*REPORT_COLUMNS, *check_ids])
        for row in rows:
            values = [_number(v) if isinstance(v, float) else v for v in (getattr(row, c) for c in REPORT_COLUMNS)]
            writer.writerow([*values, *(_number(row.checks[q]) if q in row.checks else "" for q in check_ids)])
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(part, path)  # a reader (or a batch killed now) sees the old report or the new, never half of one


def read_report(path: Path) -> tuple[list[dict[str, str]], list[str]]:
    """A report's rows (column -> text, as before ``csvsafe`` escaped it) and its check-id columns;
    ValueError if it is not a report."""
    with path.open(newline="", encoding="utf-8") as handle:
        header, rows = csvsafe.read(handle)
    if tuple(header[: len(REPORT_COLUMNS)]) == REPORT_COLUMNS:
        return rows, header[len(REPORT_COLUMNS):]
    if tuple(header[: len(_BEFORE_VARIANTS)]) == _BEFORE_VARIANTS:  # a report of a grader without variants
        return [{**row, "student": "", "variant": ""} for row in rows], header[len(_BEFORE_VARIANTS):]
    raise ValueError(f"{path} is not a grading report (its first columns are not {', '.join(REPORT_COLUMNS)})")


def merge_reports(paths: list[Path], out: Path) -> int:
    """Join shard reports into one (rows sorted by file, check columns in first-seen order).

    Returns the number of rows; ValueError if a file appears in two reports.
    """
    rows: dict[str, dict[str, str]] = {}
    check_ids: list[str] = []
    for path in paths:
        shard_rows, shard_checks = read_report(path)
        check_ids += [q for q in shard_checks if q not in check_ids]
        for row in shard_rows:
            if row["file"] in rows:
                raise ValueError(f"{row['file']} is in two reports (the second is {path}): were the shards of one N?")
            rows[row["file"]] = row
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csvsafe.dict_writer(handle, [*REPORT_COLUMNS, *check_ids], restval="")
        writer.writeheader()
        writer.writerows(rows[name] for name in sorted(rows))
    return len(rows)
