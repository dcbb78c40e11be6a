"""One submission per student and notebook in the gradebook (issue 37, item 8).

Canvas names each upload ``<name>_[late_]<userid>_<submissionid>_<original file>``; where a student
uploaded one notebook several times only the latest (the highest submission id; on a tie, the last name)
counts: its check points, its written marks and its points possible. The others are named in the
``superseded`` column and on stderr.
"""

from __future__ import annotations

import csv
from pathlib import Path

from course_staff.formats.report import Row, write_report
from course_staff.written import answers
from course_staff.written import gradebook
from course_staff.written.marking import db
from course_staff.written.marking.command import load_batch
from course_staff.written.marking.rubric import DEFAULT_PATH, load
from course_utils import cli

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "3a74adbd"  # Q2 6.: item 1 worth 1 point, out of 4

# file -> (handout, check points, points possible)
UPLOADS = {
    "alice_101_7_hw3.ipynb": ("fx_rnn", 2.0, 3.0),  # one upload
    "bob_102_3_hw3.ipynb": ("fx_rnn", 3.0, 3.0),  # three uploads of one notebook: only _5_ counts
    "bob_102_5_hw3 copy.ipynb": ("fx_rnn", 1.0, 3.0),
    "bob_102_4_hw3 (1).ipynb": ("fx_rnn", 3.0, 3.0),
    "bob_102_6_notes.ipynb": ("", 0.0, 0.0),  # matches no handout: kept, stands in for nothing
    "carol_103_8_hw3.ipynb": ("fx_rnn", 3.0, 3.0),  # late: the later upload counts, late or not
    "carol_late_103_9_hw3.ipynb": ("fx_rnn", 2.0, 3.0),
    "dave_late_104_11_hw3.ipynb": ("fx_rnn", 1.0, 3.0),  # two notebooks, one upload each: both count
    "dave_late_104_12_lab.ipynb": ("lab", 4.0, 5.0),
    "erin_105_6_a.ipynb": ("fx_rnn", 1.0, 3.0),  # the same submission id: the last name counts
    "erin_105_6_b.ipynb": ("fx_rnn", 2.0, 3.0),
    "frank.ipynb": ("fx_rnn", 3.0, 3.0),  # not a Canvas name: its own student
    "frank copy.ipynb": ("fx_rnn", 1.0, 3.0),
}
COUNTED = {"alice_101": (2.0, 3.0), "bob_102": (1.0 + 1, 3.0 + 4), "carol_103": (2.0 + 1, 3.0 + 4),  # + the answer
           "dave_104": (5.0 + 2, 8.0 + 8), "erin_105": (2.0, 3.0), "frank": (3.0, 3.0), "frank copy": (1.0, 3.0)}
SUPERSEDED = {"bob_102": ["bob_102_3_hw3.ipynb", "bob_102_4_hw3 (1).ipynb"], "carol_103": ["carol_103_8_hw3.ipynb"],
              "erin_105": ["erin_105_6_a.ipynb"]}


def make_batch(folder: Path) -> Path:
    """A report of UPLOADS, a written answer for each fx_rnn/lab upload, and every answer marked with item 1."""
    report = folder / "report.csv"
    rows = [Row(f, "pass" if h else "error", score, most, h, checks={"c1": score} if h else {})
            for f, (h, score, most) in UPLOADS.items()]
    write_report(rows, report, ["c1"])
    written = [answers.Answer(f, h, QUESTION, "prompt", f"answer of {f}") for f, (h, _, _) in UPLOADS.items()
               if h and not f.startswith(("alice", "erin", "frank"))]  # bob, carol, dave: a written answer each
    answers.write_csv(written, report.with_suffix(".answers.csv"))
    load_batch(report, report.with_suffix(".marks.sqlite"))
    conn = db.connect(report.with_suffix(".marks.sqlite"))
    try:
        db.set_mark(conn, [a["id"] for a in db.answers_of(conn, QUESTION)], 0, True, "ta")
    finally:
        conn.close()
    return report


def test_canvas_names_give_the_student_and_the_submission_id():
    assert gradebook.student_of("bob_102_5_hw3 copy.ipynb") == ("bob_102", "102")
    assert gradebook.student_of("carol_LATE_103_9_hw3.ipynb") == ("carol_103", "103")
    assert gradebook.student_of("frank copy.ipynb") == ("frank copy", "")
    found = gradebook.CANVAS_NAME.match("dave_late_104_12_lab.ipynb")
    assert (found["id"], found["upload"]) == ("104", "12")


def test_only_the_latest_upload_per_student_and_notebook_counts(tmp_path):
    report = make_batch(tmp_path)
    rows, checks, written = gradebook.build(report, report.with_suffix(".marks.sqlite"), load(ROOT / DEFAULT_PATH))
    by = {r["student"]: r for r in rows}
    assert set(by) == set(COUNTED)
    for student, (total, most) in COUNTED.items():
        assert (by[student]["total"], by[student]["max"]) == (total, most), student
        assert by[student]["superseded"] == SUPERSEDED.get(student, []), student
        assert by[student]["total"] == by[student]["checks"] + by[student]["written"]
    assert by["bob_102"]["files"] == ["bob_102_5_hw3 copy.ipynb", "bob_102_6_notes.ipynb"]
    assert by["bob_102"]["c1"] == 1.0 and by["bob_102"][f"written:{QUESTION}"] == 1.0  # one answer's mark, not three
    assert by["carol_103"]["files"] == ["carol_late_103_9_hw3.ipynb"]
    assert by["dave_104"]["files"] == ["dave_late_104_11_hw3.ipynb", "dave_late_104_12_lab.ipynb"]
    assert by["erin_105"]["files"] == ["erin_105_6_b.ipynb"]
    assert by["alice_101"]["superseded"] == [] and by["alice_101"]["unmarked"] == 0


def test_the_command_lists_the_superseded_uploads(tmp_path, capsys):
    report = make_batch(tmp_path)
    out, canvas = tmp_path / "gradebook.csv", tmp_path / "canvas.csv"
    assert cli.main(["gradebook", str(report), "--out", str(out), "--canvas", str(canvas)]) == 0
    err = capsys.readouterr().err
    assert "4 earlier uploads not counted" in err and "column superseded" in err
    for files in SUPERSEDED.values():
        assert all(f in err for f in files)
    assert "bob_102_5_hw3 copy.ipynb" not in err.split("not counted")[1].split("\n")[0]
    with out.open(newline="", encoding="utf-8") as handle:
        table = {r["student"]: r for r in csv.DictReader(handle)}
    assert table["bob_102"]["superseded"] == "bob_102_3_hw3.ipynb bob_102_4_hw3 (1).ipynb"
    assert table["bob_102"]["total"] == "2" and table["bob_102"]["max"] == "7" and table["alice_101"]["superseded"] == ""
    with canvas.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[1] == ["Points Possible", "", "", "", "", "16"]  # dave's two notebooks, not bob's three uploads
    assert {r[0]: r[-1] for r in rows[2:]} == {"alice": "2", "bob": "2", "carol": "3", "dave": "7", "erin": "2"}


def test_one_upload_each_supersedes_nothing(tmp_path, capsys):
    report = tmp_path / "report.csv"
    write_report([Row("amy_1_1_hw3.ipynb", "pass", 3.0, 3.0, "fx_rnn"), Row("amy_1_1_lab.ipynb", "pass", 5.0, 5.0, "lab"),
                  Row("ben_late_2_9_hw3.ipynb", "pass", 1.0, 3.0, "fx_rnn")], report, [])
    out = tmp_path / "gradebook.csv"
    assert cli.main(["gradebook", str(report), "--out", str(out)]) == 0
    assert "not counted" not in capsys.readouterr().err
    rows, _, _ = gradebook.build(report, tmp_path / "none.sqlite", load(ROOT / DEFAULT_PATH))
    assert [(r["student"], r["total"], r["max"], r["superseded"]) for r in rows] == [
        ("amy_1", 8.0, 8.0, []), ("ben_2", 1.0, 3.0, [])]
