"""Pairs of submissions to review for copying: ``course-utils similarity`` writes them, ``course-utils mark
--pairs`` loads them for a TA to confirm or dismiss.

One CSV row per pair and part (``COLUMNS``: ``a, b, part, question, score, why``), highest score first; file
names and question ids that a spreadsheet would run as a formula are escaped (``csvsafe``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from course_staff import csvsafe

COLUMNS = ("a", "b", "part", "question", "score", "why")


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    part: str  # "code" or "prose"
    question: str  # the written blank's cell id, "" for a notebook's code
    score: float
    lines_a: tuple[int, ...] = ()  # matching lines (code) of a and b, for the side-by-side view
    lines_b: tuple[int, ...] = ()
    why: str = ""  # "top 3", "outlier", "threshold", "group of two" (comma-separated)


def write_csv(pairs: list[Pair], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csvsafe.writer(handle)  # file names and question ids: formula-like text escaped
        writer.writerow(COLUMNS)
        writer.writerows([p.a, p.b, p.part, p.question, f"{p.score:.4f}", p.why] for p in pairs)


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        _, rows = csvsafe.read(handle)
    return [dict(row, score=float(row["score"]), why=row.get("why") or "") for row in rows]  # older files: no why
