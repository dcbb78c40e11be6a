"""Each written answer's mark as the student reads it: the rubric items the TA applied, the points, the
TA's comment and any regrade, read from the marking database (``course-utils mark``), and in plain text.

``course-utils feedback`` shows them in each student's file; ``course-utils gradebook --gradescope`` writes
them as the output of the written questions' tests.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from course_staff.written.answers import read_csv as read_answers
from course_staff.written.marking import db
from course_staff.written.marking.rubric import WrittenRubric, variant_values, with_values


def _number(value: float) -> str:
    return f"{value:g}"


@dataclass
class WrittenLine:
    """One written answer with its mark."""

    question: str
    title: str
    answer: str
    items: list[tuple[float, str]]  # the applied rubric items: (points, text)
    points: float
    max_points: float
    comment: str
    marked: bool
    regrades: list[str] = field(default_factory=list)  # each change of mark on a regrade, in words


def read_comments(marks: Path) -> dict[tuple[str, str], str]:
    """(file, question) -> the TA's comment (read here, beside ``db.scores``, which has no comments)."""
    if not marks.is_file():
        return {}
    conn = db.connect(marks)
    try:
        return {(r["file"], r["question"]): r["comment"] for r in conn.execute(
            "SELECT a.file, a.question, c.comment FROM comments c JOIN answers a ON a.id = c.answer_id "
            "WHERE a.present = 1 AND c.comment != ''")}
    except sqlite3.Error:
        return {}
    finally:
        conn.close()


def read_scores(marks: Path) -> dict[tuple[str, str], dict]:
    if not marks.is_file():
        return {}
    conn = db.connect(marks)
    try:
        return db.scores(conn)
    finally:
        conn.close()


def read_regrades(marks: Path) -> dict[tuple[str, str], list[dict]]:
    """(file, question) -> its regrades, oldest first, where the marking database keeps them (``db.regrades``)."""
    if not marks.is_file() or not hasattr(db, "regrades"):
        return {}
    conn = db.connect(marks)
    try:
        found: dict[tuple[str, str], list[dict]] = {}
        for regrade in db.regrades(conn):
            found.setdefault((regrade["file"], regrade["question"]), []).append(regrade)
        return found
    except sqlite3.Error:
        return {}
    finally:
        conn.close()


def applied_items(spec, keys) -> list:
    """The rubric items a stored mark names, in the rubric's order: item ids (``Question.item``), or positions
    where the rubric has no ids; marks whose item is gone are left out (they count nothing either)."""
    lookup = getattr(spec, "item", None)
    named = [lookup(key) if lookup else (spec.items[key] if isinstance(key, int) and 0 <= key < len(spec.items)
                                         else None) for key in keys]
    chosen = {id(item) for item in named if item is not None}
    return [item for item in spec.items if id(item) in chosen]


def written_line(rubric: WrittenRubric, answer, scores: dict, comments: dict, changes: dict) -> WrittenLine:
    spec = rubric.question(answer.question)
    state = scores.get((answer.file, answer.question))
    keys = list(state["items"]) if state else []
    items = applied_items(spec, keys)
    said = []
    for regrade in changes.get((answer.file, answer.question), []):
        if regrade.get("closed") is None:
            said.append(f"Being regraded: {regrade.get('reason', '')}")
            continue
        before, after = spec.score(regrade.get("before") or []), spec.score(regrade.get("after") or [])
        said.append(f"Regraded from {before:g} to {after:g} points: {regrade.get('reason', '')}")
    values = variant_values(getattr(answer, "variant", ""))  # an item naming {w_out} says the student's own
    return WrittenLine(answer.question, spec.title, answer.answer, [(i.points, with_values(i.text, values)) for i in items],
                       spec.score(keys) if state else 0.0, spec.max_points,
                       comments.get((answer.file, answer.question), ""), bool(state and state["marked"]), said)


def written_text(line: WrittenLine) -> str:
    """One written answer's mark as plain text: points, the items applied, the comment."""
    if not line.marked:
        return f"{line.title}: not marked yet (0 / {_number(line.max_points)} points for now)."
    parts = [f"{line.title}: {_number(line.points)} / {_number(line.max_points)} points."]
    parts += [f"{points:+g}  {text}" for points, text in line.items] or ["No rubric item applied."]
    if line.comment:
        parts.append(f"TA's comment: {line.comment}")
    parts += line.regrades
    return "\n".join(parts)


def written_outputs(report: Path, marks: Path, rubric: WrittenRubric, row: dict) -> dict[str, str]:
    """Written column (``written:<question>``) -> :func:`written_text` for the gradebook row ``row``."""
    scores, comments, changes = read_scores(marks), read_comments(marks), read_regrades(marks)
    answers_csv = report.with_suffix(".answers.csv")
    return {f"written:{a.question}": written_text(written_line(rubric, a, scores, comments, changes))
            for a in (read_answers(answers_csv) if answers_csv.is_file() else []) if a.file in row["files"]}
