"""The Canvas import fills the assignment (issue 40, item 3).

``tests/fixtures/canvas/gradebook_export.csv`` is a gradebook export as Canvas writes it (Canvas's
``GradebookExporter``: a byte-order mark, ``Student, ID, SIS User ID, SIS Login ID, Section``, each
assignment as ``Title (id)``, the read-only totals, a "Manual Posting" row, a ``"    Points Possible"``
row, students by sortable name and the test student last). ``gradebook_import.csv`` beside it is the
import ``course-utils gradebook --roster`` makes from it for the class of ``tests/canvas_class.py``;
every header and row is checked against the export here, and the file against a fresh run.
"""

from __future__ import annotations

import csv
import json

import pytest

import canvas_class
from course_staff.written import gradebook
from course_utils import cli


def read(path):
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.reader(handle))


def run(tmp_path, *extra, unmarked=False):
    report = canvas_class.make(tmp_path, unmarked=unmarked)
    out = tmp_path / "canvas.csv"
    code = cli.main(["gradebook", str(report), "--out", str(tmp_path / "gradebook.csv"), "--canvas", str(out),
                     "--roster", str(canvas_class.EXPORT), *extra])
    return code, out


def test_the_import_copies_the_export_row_by_row_and_fills_the_assignment(tmp_path, capsys):
    code, out = run(tmp_path, "--assignment", "Assignment 3: RNN recurrence")
    assert code == 0
    err = capsys.readouterr().err
    made, export = read(out), read(canvas_class.EXPORT)
    identity = export[0][:5]
    assert identity == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    column = export[0].index(canvas_class.ASSIGNMENT)
    assert made[0] == [*identity, canvas_class.ASSIGNMENT]  # the exact header: Canvas fills assignment 1203315
    points = next(r for r in export if r[0].strip() == "Points Possible")
    assert made[1] == [*points[:5], points[column]] == ["    Points Possible", "", "", "", "", "15.00"]
    students = [r for r in export[1:] if r[1]]
    assert len(made) == 2 + len(students)
    for row, student in zip(made[2:], students):  # every student of the export, in its order, cell for cell
        assert row[:5] == student[:5]
        assert row[5] == (f"{canvas_class.TOTALS[student[1]]:g}" if student[1] in canvas_class.TOTALS else "")
    assert made == read(canvas_class.IMPORT)  # the committed import file is what the command makes
    assert "zhangwei_48299" in err and "not in the Canvas export" in err  # graded, but dropped the course
    assert "2 students of the export have no graded submission" in err and "Okafor, Chidi; Student, Test" in err
    assert "obriensiobhan_48227_9120345_02_rnn_recurrence.ipynb" in err  # superseded by the late upload


@pytest.mark.parametrize("wanted", [canvas_class.ASSIGNMENT, "1203315", "Assignment 3: RNN recurrence"])
def test_the_assignment_is_found_by_header_id_or_title(wanted):
    assert gradebook.read_roster(canvas_class.EXPORT, wanted).assignment == canvas_class.ASSIGNMENT


def test_a_wrong_or_missing_assignment_names_the_choices(tmp_path, capsys):
    assert run(tmp_path, "--assignment", "Assignment 4")[0] == 2
    err = capsys.readouterr().err
    assert "no assignment 'Assignment 4'" in err and "'Quiz 2 (1203320)'" in err and "--assignment" in err
    assert run(tmp_path)[0] == 2  # three assignments in the export: which one?
    assert "has 3 assignments" in capsys.readouterr().err


def test_a_file_that_is_not_a_canvas_export_says_how_to_get_one(tmp_path, capsys):
    (tmp_path / "roster.csv").write_text("name,email\nAn,a@x\n", encoding="utf-8")
    report = canvas_class.make(tmp_path)
    assert cli.main(["gradebook", str(report), "--out", str(tmp_path / "g.csv"), "--canvas", str(tmp_path / "c.csv"),
                     "--roster", str(tmp_path / "roster.csv")]) == 2
    assert "Export Entire Gradebook" in capsys.readouterr().err


def test_unmarked_answers_stop_the_export_unless_allowed(tmp_path, capsys):
    code, out = run(tmp_path, "--assignment", "1203315", unmarked=True)
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert "1 written answers of 1 students are not marked yet" in err and "--allow-unmarked" in err
    assert (tmp_path / "gradebook.csv").is_file()  # the TA's own table is written: its unmarked column says whose
    code, out = run(tmp_path, "--assignment", "1203315", "--allow-unmarked", unmarked=True)
    assert code == 0 and "1 unmarked written answers of 1 students get 0 points" in capsys.readouterr().err
    assert {r[1]: r[5] for r in read(out)[2:]}["48231"] == "11"  # Müller's unmarked 4 points: 0


def test_gradescope_written_tests_carry_items_and_comments(tmp_path):
    report = canvas_class.make(tmp_path)
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"score": 0, "tests": [{"name": "q2.step", "score": 2, "max_score": 2}]}))
    rows, _, written = gradebook.build(report, report.with_suffix(".marks.sqlite"),
                                       gradebook.load(canvas_class.ROOT / gradebook.DEFAULT_PATH))
    assert cli.main(["gradebook", str(report), "--out", str(tmp_path / "g.csv"), "--gradescope", str(results)]) == 0
    tests = {t["name"]: t for t in json.loads(results.read_text())["tests"]}
    assert rows[0]["student"] == "garcialopezmariajose_48240"
    computes = tests["written: Q2 6. what y_2N computes"]
    assert computes["score"] == 1 and "+1  h_2N = even-position sum" in computes["output"]
    assert "TA's comment: =1+1" in computes["output"]
