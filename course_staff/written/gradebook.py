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
and, with ``--gradescope results.json``, the written marks as tests of that Gradescope result, each with
the rubric items applied and the TA's comment as its output. Text cells a spreadsheet would run as
formulas are escaped (``course_staff.csvsafe``).

With ``--roster EXPORT.csv`` (Canvas's own gradebook export: Gradebook > Export) the import copies the
export's identity columns (names, Canvas IDs, SIS IDs, sections) and its assignment header
``Name (id)`` exactly: Canvas matches a column by that id, so the import fills the assignment instead
of creating a new one. Every student of the export gets a row, in its order; one without a graded
submission gets an empty cell (Canvas leaves an empty cell's score as it is).

No Canvas import or Gradescope result is written while written answers are unmarked (they would count
0): ``--allow-unmarked`` writes them anyway and says how many answers get 0.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from course_staff import csvsafe
from course_staff.formats.report import read_report
from course_staff.written.answers import read_csv as read_answers
from course_staff.written.marking import db
from course_staff.written.marking.command import database_path
from course_staff.written.marking.rubric import DEFAULT_PATH, WrittenRubric, load
from course_staff.written.marks import written_outputs

CANVAS_NAME = re.compile(r"^(?P<name>[^_]+)_(?:late_)?(?P<id>\d+)_(?P<upload>\d+)_", re.IGNORECASE)
#: An assignment's column in Canvas's export: its title, then its Canvas id in parentheses.
CANVAS_ASSIGNMENT = re.compile(r"^(?P<title>.*\S)\s*\((?P<id>\d+)\)$")
POINTS_POSSIBLE = "Points Possible"  # Canvas writes it as "    Points Possible" (four spaces first)
DEFAULT_ASSIGNMENT = "Assignment 3"  # the column where the working folder has no course.toml


def default_assignment() -> str:
    """The import's column without --roster and --assignment: ``[course] assignment`` of the course's settings
    (``course.toml`` in the working folder, docs/course-settings.md), else ``DEFAULT_ASSIGNMENT``.
    Raises ``CourseSettingsError`` for a course.toml that is not valid."""
    from course_staff import settings

    return settings.load().assignment if settings.DEFAULT_PATH.is_file() else DEFAULT_ASSIGNMENT


def gradebook_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report", type=Path, metavar="REPORT.csv", help="the grading report (course-utils grade)")
    parser.add_argument("--marks", type=Path, default=None, help="marking database (default: REPORT.marks.sqlite)")
    parser.add_argument("--rubric", type=Path, default=None, help=f"written rubric (default: {DEFAULT_PATH})")
    parser.add_argument("--out", type=Path, default=Path("gradebook.csv"), help="gradebook CSV (default: gradebook.csv)")
    parser.add_argument("--canvas", type=Path, default=None, help="also a Canvas gradebook import CSV")
    parser.add_argument("--roster", type=Path, default=None, metavar="EXPORT.csv",
                        help="Canvas's gradebook export: its names, IDs, SIS IDs, sections and the assignment's "
                             "'Name (id)' header go into the --canvas import")
    parser.add_argument("--assignment", default=None,
                        help="the assignment in Canvas: with --roster its title, its id or its exact 'Name (id)' "
                             "header (needed where the export has several assignments); without, the column name "
                             "(default: [course] assignment of course.toml, else "
                             f"{DEFAULT_ASSIGNMENT!r}; Canvas would import it as a new assignment)")
    parser.add_argument("--allow-unmarked", action="store_true",
                        help="write --canvas / --gradescope although written answers are unmarked (they get 0)")
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
        entry = students.setdefault(key, {"student": key, "id": user_id, "files": [], "variant": [], "checks": 0.0,
                                          "written": 0.0, "max": 0.0, "unmarked": 0, "changed": 0, "superseded": []})
        entry["files"].append(row["file"])
        entry["variant"] += [v for v in row.get("variant", "").split() if v not in entry["variant"]]
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
    columns = ["student", "id", "files", "variant", *check_ids, *written, "checks", "written", "total", "max", "unmarked", "changed",
               "superseded"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csvsafe.writer(handle)
        out.writerow(columns)
        for row in rows:
            out.writerow([" ".join(row.get(c, [])) if c in {"files", "superseded", "variant"} else _cell(row.get(c, ""))
                          for c in columns])


@dataclass
class Roster:
    """What a Canvas gradebook export says about the class and one assignment.

    identity: the export's columns up to ``Section`` (``Student, ID, SIS User ID, SIS Login ID, Section``;
    ``Integration ID`` / ``Root Account`` / ``LastName, FirstName`` where the export has them);
    assignment: the assignment's exact header, ``Name (id)``; points_row: the export's "Points Possible"
    row's first cell (as Canvas wrote it) and points: its value for the assignment; students: each student
    row's identity cells, in the export's order.
    """

    identity: list[str]
    assignment: str
    points_row: str
    points: str
    students: list[dict[str, str]]


def read_roster(path: Path, assignment: str | None) -> Roster:
    """Read Canvas's gradebook export and pick ``assignment`` (its title, its id or its ``Name (id)`` header;
    None: the export's only assignment). ValueError naming the fix when the file or the choice is wrong."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:  # Canvas may write a byte-order mark
            table = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the Canvas export {path}: {exc}") from exc
    header = [cell.strip() for cell in table[0]] if table else []
    if "ID" not in header or "Section" not in header:
        raise ValueError(f"{path} is not Canvas's gradebook export (its header has no ID and Section columns): in "
                         "Canvas open Grades, then Export > Export Entire Gradebook, and pass that file")
    identity = header[: header.index("Section") + 1]
    columns = {h: i for i, h in enumerate(header) if i >= len(identity) and CANVAS_ASSIGNMENT.match(h)}
    chosen = _choose_assignment(list(columns), assignment, path)
    column, id_column = columns[chosen], header.index("ID")
    points_row, points, students = POINTS_POSSIBLE, "", []
    for row in table[1:]:
        row = row + [""] * (len(header) - len(row))
        if row[0].strip() == POINTS_POSSIBLE:
            points_row, points = row[0], row[column].strip()
        elif row[id_column].strip():  # a student; the "Manual Posting" row has no ID
            students.append({name: row[i] for i, name in enumerate(identity)})
    return Roster(identity, chosen, points_row, points, students)


def _choose_assignment(headers: list[str], wanted: str | None, path: Path) -> str:
    listed = ", ".join(repr(h) for h in headers) or "none"
    if wanted is None:
        if len(headers) == 1:
            return headers[0]
        raise ValueError(f"{path} has {len(headers)} assignments ({listed}): pass --assignment with the one to fill")
    found = [h for h in headers if h == wanted.strip()]
    found = found or [h for h in headers if CANVAS_ASSIGNMENT.match(h)["title"] == wanted.strip()]
    found = found or [h for h in headers if CANVAS_ASSIGNMENT.match(h)["id"] == wanted.strip()]
    if len(found) != 1:
        how = "several" if found else "no"
        raise ValueError(f"{path} has {how} assignment {wanted!r}; its assignments: {listed} (pass --assignment "
                         "with a title, an id or a whole header)")
    return found[0]


def write_canvas(rows: list[dict], assignment: str, path: Path, roster: Roster | None = None) -> None:
    """Canvas's gradebook import format.

    Without ``roster``: a column named ``assignment``, the students whose file names carry a Canvas user id
    (the others listed on stderr), no SIS ids or sections. With it: the export's identity columns and the
    assignment's exact header, one row per student of the export (an empty score where no graded
    submission has their Canvas ID), its "Points Possible" row; graded students the export lacks are
    listed on stderr, as is a maximum that differs from the assignment's points possible in Canvas.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    most = max((r["max"] for r in rows), default=0.0)
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csvsafe.writer(handle)
        if roster is None:
            out.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", assignment])
            out.writerow([POINTS_POSSIBLE, "", "", "", "", _n(most)])
            for row in rows:
                if row["id"]:
                    out.writerow([row["student"].rsplit("_", 1)[0], row["id"], "", "", "", _n(row["total"])])
        else:
            by_id = {r["id"]: r for r in rows if r["id"]}
            out.writerow([*roster.identity, roster.assignment])
            out.writerow([roster.points_row, *[""] * (len(roster.identity) - 1), roster.points or _n(most)])
            for student in roster.students:
                graded = by_id.get(student["ID"].strip())
                out.writerow([*(student[c] for c in roster.identity), _n(graded["total"]) if graded else ""])
    missing = [r["student"] for r in rows if not r["id"]]
    if missing:
        print(f"course-utils gradebook: no Canvas user id in the file names of: {', '.join(missing)}", file=sys.stderr)
    if roster is None:
        return
    known = {s["ID"].strip() for s in roster.students}
    absent = [r["student"] for r in rows if r["id"] and r["id"] not in known]
    if absent:
        print(f"course-utils gradebook: not in the Canvas export (dropped the course, or another section's "
              f"export?), left out of {path}: {', '.join(absent)}", file=sys.stderr)
    ungraded = [s["Student"] if "Student" in s else s["ID"] for s in roster.students
                if s["ID"].strip() not in {r["id"] for r in rows}]
    if ungraded:
        print(f"course-utils gradebook: {len(ungraded)} students of the export have no graded submission: their "
              f"cell is empty (Canvas keeps their score as it is): {'; '.join(ungraded)}", file=sys.stderr)
    try:
        differs = roster.points and abs(float(roster.points) - most) > 1e-9
    except ValueError:
        differs = False
    if differs:
        print(f"course-utils gradebook: {roster.assignment!r} is worth {roster.points} points in Canvas but the "
              f"gradebook's maximum is {_n(most)}: set the assignment's points in Canvas (or the rubrics) to agree",
              file=sys.stderr)


def add_to_gradescope(path: Path, row: dict, rubric: WrittenRubric, written: list[str],
                      outputs: dict[str, str] | None = None, checks: dict[str, str] | None = None) -> None:
    """Add one test per written question (its marked points) to a Gradescope results.json, and to its score.

    outputs: written column -> the test's output (the items applied and the TA's comment; default: the
    student's feedback from the marks, :func:`course_staff.written.marks.written_outputs`); checks: check id ->
    a new output for that check's test (the feedback's hint), tests of other names left as they are.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    tests = [t for t in data.get("tests", []) if not str(t.get("name", "")).startswith("written: ")]
    for test in tests:
        if checks and str(test.get("name", "")) in checks:
            test["output"] = checks[str(test["name"])]
    for column in written:
        if column not in row:
            continue
        spec = rubric.question(column.split(":", 1)[1])
        tests.append({"name": f"written: {spec.title}", "score": row[column], "max_score": spec.max_points,
                      "output": (outputs or {}).get(column, "marked by a TA"), "visibility": "after_published"})
    data["tests"] = tests
    data["score"] = row["total"]
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def unmarked_refusal(rows: list[dict], command: str, report: Path, what: str) -> str | None:
    """The message that stops an export while written answers are unmarked (None when all are marked)."""
    unmarked = sum(r["unmarked"] for r in rows)
    if not unmarked:
        return None
    students = sum(1 for r in rows if r["unmarked"])
    return (f"course-utils {command}: {unmarked} written answers of {students} students are not marked yet; "
            f"{what} would give them 0 points. Mark them (course-utils mark {report}), or pass --allow-unmarked "
            "to write it anyway")


def gradebook(args: argparse.Namespace) -> int:
    if args.roster is not None and args.canvas is None:
        print("course-utils gradebook: --roster fills the Canvas import: pass --canvas FILE too", file=sys.stderr)
        return 2
    from course_staff.settings import CourseSettingsError

    try:
        assignment = args.assignment or (default_assignment() if args.canvas is not None else DEFAULT_ASSIGNMENT)
    except CourseSettingsError as exc:
        print(f"course-utils gradebook: {exc} (or pass --assignment NAME)", file=sys.stderr)
        return 2
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
    exports = [str(p) for p in (args.canvas, args.gradescope) if p is not None]
    refusal = unmarked_refusal(rows, "gradebook", args.report, " and ".join(exports)) if exports else None
    if refusal and not args.allow_unmarked:
        print(f"{refusal} ({args.out} is written, its unmarked column says whose)", file=sys.stderr)
        return 2
    if refusal:
        count = sum(r["unmarked"] for r in rows)
        print(f"course-utils gradebook: --allow-unmarked: {count} unmarked written answers of "
              f"{sum(1 for r in rows if r['unmarked'])} students get 0 points in {' and '.join(exports)}",
              file=sys.stderr)
    if args.canvas is not None:
        try:
            roster = read_roster(args.roster, args.assignment) if args.roster is not None else None
        except ValueError as exc:
            print(f"course-utils gradebook: {exc}", file=sys.stderr)
            return 2
        if roster is None:
            column = assignment
            print(f"course-utils gradebook: without --roster the import's column is {column!r}"
                  " with no Canvas id, which Canvas imports as a new assignment: pass --roster with Canvas's "
                  "gradebook export to fill the existing one", file=sys.stderr)
        write_canvas(rows, assignment, args.canvas, roster)
    if args.gradescope is not None and rows:
        add_to_gradescope(args.gradescope, rows[0], rubric, written,
                          written_outputs(args.report, database_path(args.report, args.marks), rubric, rows[0]))
    unmarked, changed = sum(r["unmarked"] for r in rows), sum(r["changed"] for r in rows)
    print(f"{len(rows)} students: {args.out}" + (f"; {unmarked} written answers not marked yet" if unmarked else "")
          + (f"; {changed} changed since marked (flagged in course-utils mark)" if changed else ""))
    return 0
