"""``course-utils gradebook REPORT.csv``: check points plus written marks, one row per student.

The check points come from the grading report as it is now (regrade, then run this again); the
written marks from the marking database (``course-utils mark``), which no regrade touches: the two
are only added up here. A student is recognised from a Canvas download name
(``name_[late_]userid_submissionid_file.ipynb``), else each file is its own student.

One submission per student and handout: where Canvas holds several uploads of one notebook (``doe_123_1_hw3.ipynb``,
``doe_123_2_hw3 copy.ipynb``), only the latest counts (the highest Canvas submission id; where those tie,
the last file name); the others are named in the ``superseded`` column and on stderr, and their check
points and written marks are left out. Files that match no handout (errors) never stand in for a graded one.

Writes ``--out`` (``student, id, files``, one column per check id and per written question, then
``checks, written, total, max, unmarked, changed, superseded``), ``--canvas`` (Canvas's gradebook import:
``Student, ID, SIS User ID, SIS Login ID, Section, <assignment>``, a "Points Possible" row first)
and, with ``--gradescope results.json``, the written marks as tests of that Gradescope result. Text cells
a spreadsheet would run as formulas are escaped (``course_staff.csvsafe``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from course_staff import csvsafe
from course_staff.grading.answers import read_csv as read_answers
from course_staff.grading.report import read_report
from course_staff.marking import db
from course_staff.marking.command import database_path
from course_staff.marking.rubric import DEFAULT_PATH, WrittenRubric, load

CANVAS_NAME = re.compile(r"^(?P<name>[^_]+)_(?:late_)?(?P<id>\d+)_(?P<upload>\d+)_", re.IGNORECASE)


def gradebook_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report", type=Path, metavar="REPORT.csv", help="the grading report (course-utils grade)")
    parser.add_argument("--marks", type=Path, default=None, help="marking database (default: REPORT.marks.sqlite)")
    parser.add_argument("--rubric", type=Path, default=None, help=f"written rubric (default: {DEFAULT_PATH})")
    parser.add_argument("--out", type=Path, default=Path("gradebook.csv"), help="gradebook CSV (default: gradebook.csv)")
    parser.add_argument("--canvas", type=Path, default=None, help="also a Canvas gradebook import CSV")
    parser.add_argument("--assignment", default="Assignment 3", help="the assignment's column name in Canvas")
    parser.add_argument("--gradescope", type=Path, default=None, metavar="results.json",
                        help="add the written marks of its one submission as tests to this Gradescope results.json")


def student_of(file: str) -> tuple[str, str]:
    """(student key, Canvas user id or "") from a submission's file name."""
    found = CANVAS_NAME.match(file)
    if found:
        return f"{found['name']}_{found['id']}", found["id"]
    return Path(file).stem, ""


def latest_uploads(rows: list[dict[str, str]]) -> tuple[list[dict[str, str]], dict[str, str]]:
    """The report rows that count (one per student and handout: the latest upload) and the superseded
    files (file -> the file counted instead).

    The latest is the highest Canvas submission id (the third field of ``name_[late_]userid_subid_file``),
    then the last file name. Rows of no handout (not a notebook, no handout matched) are all kept: they
    score nothing and cannot say which notebook they replace.
    """
    groups: dict[tuple[str, ...], list[dict[str, str]]] = {}
    for row in rows:
        key, _ = student_of(row["file"])
        handout = row.get("handout") or ""
        groups.setdefault((key, handout) if handout else (key, "", row["file"]), []).append(row)
    counted: list[dict[str, str]] = []
    superseded: dict[str, str] = {}

    def order(row: dict[str, str]) -> tuple[int, str]:
        found = CANVAS_NAME.match(row["file"])
        return (int(found["upload"]) if found else -1, row["file"])

    for group in groups.values():
        latest = max(group, key=order)
        counted.append(latest)
        superseded.update({row["file"]: latest["file"] for row in group if row is not latest})
    kept = {id(row) for row in counted}
    return [row for row in rows if id(row) in kept], superseded


def build(report: Path, marks: Path, rubric: WrittenRubric) -> tuple[list[dict], list[str], list[str]]:
    """The gradebook rows, the check columns and the written-question columns."""
    rows, check_ids = read_report(report)
    rows, superseded = latest_uploads(rows)
    answers_csv = report.with_suffix(".answers.csv")
    answers = read_answers(answers_csv) if answers_csv.is_file() else []
    scores = {}
    if marks.is_file():
        conn = db.connect(marks)
        try:
            scores = db.scores(conn)
        finally:
            conn.close()
    questions = list(dict.fromkeys(a.question for a in answers))
    students: dict[str, dict] = {}
    for row in rows:
        key, user_id = student_of(row["file"])
        entry = students.setdefault(key, {"student": key, "id": user_id, "files": [], "checks": 0.0, "written": 0.0,
                                          "max": 0.0, "unmarked": 0, "changed": 0, "superseded": []})
        entry["files"].append(row["file"])
        for check in check_ids:
            if row.get(check, "") != "":
                entry[check] = entry.get(check, 0.0) + float(row[check])
        entry["checks"] += float(row["score"] or 0)
        entry["max"] += float(row["max_score"] or 0)
    for old in sorted(superseded):
        students[student_of(old)[0]]["superseded"].append(old)
    for answer in answers:
        key, _ = student_of(answer.file)
        if key not in students or answer.file in superseded:
            continue
        entry, spec = students[key], rubric.question(answer.question)
        state = scores.get((answer.file, answer.question))
        points = spec.score(state["items"]) if state else 0.0
        entry[f"written:{answer.question}"] = entry.get(f"written:{answer.question}", 0.0) + points
        entry["written"] += points
        entry["max"] += spec.max_points
        entry["unmarked"] += int(not state or not state["marked"])
        entry["changed"] += int(bool(state and state["changed"]))
    for entry in students.values():
        entry["total"] = entry["checks"] + entry["written"]
    return [students[k] for k in sorted(students)], check_ids, [f"written:{q}" for q in questions]


def _n(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _cell(value):
    """A number as text (``_n``; ``csvsafe`` leaves plain numbers as they are), anything else as it is."""
    return _n(value) if isinstance(value, (int, float)) else value


def write(rows: list[dict], check_ids: list[str], written: list[str], path: Path) -> None:
    columns = ["student", "id", "files", *check_ids, *written, "checks", "written", "total", "max", "unmarked", "changed",
               "superseded"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csvsafe.writer(handle)
        out.writerow(columns)
        for row in rows:
            out.writerow([" ".join(row.get(c, [])) if c in {"files", "superseded"} else _cell(row.get(c, ""))
                          for c in columns])


def write_canvas(rows: list[dict], assignment: str, path: Path) -> None:
    """Canvas's gradebook import format; students without a Canvas user id are left out (listed on stderr)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csvsafe.writer(handle)
        out.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", assignment])
        out.writerow(["Points Possible", "", "", "", "", _n(max((r["max"] for r in rows), default=0.0))])
        for row in rows:
            if row["id"]:
                out.writerow([row["student"].rsplit("_", 1)[0], row["id"], "", "", "", _n(row["total"])])
    missing = [r["student"] for r in rows if not r["id"]]
    if missing:
        print(f"course-utils gradebook: no Canvas user id in the file names of: {', '.join(missing)}", file=sys.stderr)


def add_to_gradescope(path: Path, row: dict, rubric: WrittenRubric, written: list[str]) -> None:
    """Add one test per written question (its marked points) to a Gradescope results.json, and to its score."""
    data = json.loads(path.read_text(encoding="utf-8"))
    tests = [t for t in data.get("tests", []) if not str(t.get("name", "")).startswith("written: ")]
    for column in written:
        if column not in row:
            continue
        spec = rubric.question(column.split(":", 1)[1])
        tests.append({"name": f"written: {spec.title}", "score": row[column], "max_score": spec.max_points,
                      "output": "marked by a TA", "visibility": "after_published"})
    data["tests"] = tests
    data["score"] = row["total"]
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def gradebook(args: argparse.Namespace) -> int:
    try:
        rubric = load(args.rubric or DEFAULT_PATH)
        rows, check_ids, written = build(args.report, database_path(args.report, args.marks), rubric)
    except (OSError, ValueError) as exc:
        print(f"course-utils gradebook: {exc}", file=sys.stderr)
        return 2
    write(rows, check_ids, written, args.out)
    superseded = [f for r in rows for f in r["superseded"]]
    if superseded:
        print(f"course-utils gradebook: {len(superseded)} earlier uploads not counted (only the latest per student "
              f"and notebook counts; column superseded of {args.out}): {', '.join(superseded)}", file=sys.stderr)
    if args.canvas is not None:
        write_canvas(rows, args.assignment, args.canvas)
    if args.gradescope is not None and rows:
        add_to_gradescope(args.gradescope, rows[0], rubric, written)
    unmarked, changed = sum(r["unmarked"] for r in rows), sum(r["changed"] for r in rows)
    print(f"{len(rows)} students: {args.out}" + (f"; {unmarked} written answers not marked yet" if unmarked else "")
          + (f"; {changed} changed since marked (flagged in course-utils mark)" if changed else ""))
    return 0
