"""A small graded and marked class of Q2 submissions named as Canvas downloads them, for feedback and the import.

The students are those of ``tests/fixtures/canvas/gradebook_export.csv`` (Canvas's own gradebook export of
the course), plus one who dropped the course (not in the export); Okafor and the test student submitted
nothing. ``make(folder)`` writes the grading report (``report.csv``), its written answers
(``report.answers.csv``) and the TAs' marks (``report.marks.sqlite``); ``unmarked=True`` leaves one
answer unmarked.
"""

from __future__ import annotations

from pathlib import Path

from course_staff.formats.report import Row, write_report
from course_staff.written import answers
from course_staff.written.marking import db
from course_staff.written.marking.command import load_batch

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT / "tests" / "fixtures" / "canvas" / "gradebook_export.csv"
IMPORT = ROOT / "tests" / "fixtures" / "canvas" / "gradebook_import.csv"
ASSIGNMENT = "Assignment 3: RNN recurrence (1203315)"
HANDOUT = "02_rnn_recurrence"
CHECKS = ["q2.step", "q2.final_hidden", "q2.closed_form", "q2.output_a", "q2.output_b"]
MAX = {"q2.step": 2.0, "q2.final_hidden": 2.0, "q2.closed_form": 2.0, "q2.output_a": 1.0, "q2.output_b": 1.0}
RECURRENCE, COMPUTES = "df663ae2", "3a74adbd"  # Q2 1. (items 1-3: +1, item 4: -1; max 3), Q2 6. (4 items of +1)
SCRIPT = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
# what the grader's notes say that no student may read: a hidden case's length, its numbers
SECRET_NOTE = "hidden case 2: the claimed h_6 differs from the network's on a hidden sequence. "
SECRET_ERROR = "hidden case 1: the function raised IndexError: list index out of range at x=[4, 7, -2]"

# file -> (status, points per check, detail, {question: (answer, items applied, comment)})
SUBMISSIONS = {
    "nguyenan_48213_9120331_02_rnn_recurrence.ipynb": (
        "pass", {"q2.step": 0.0, "q2.final_hidden": 2.0, "q2.closed_form": 0.0, "q2.output_a": 1.0, "q2.output_b": 1.0},
        f"q2.step: {SECRET_ERROR}; q2.closed_form: {SECRET_NOTE}",
        {RECURRENCE: (f"h_t = x_t - h_{{t-1}} {SCRIPT} and y_t = sigmoid(1000 - h_t) | **bold** `code` $x$",
                      {0, 3}, "Right recurrence, but the output has no bias: look again at the layer's "
                              "weights. <b>not bold</b> & ```fence```"),
         COMPUTES: ("It compares the even-position sum with the odd-position sum.", {0, 1}, "")}),
    "obriensiobhan_48227_9120345_02_rnn_recurrence.ipynb": (  # superseded by the late upload below
        "pass", {c: 0.0 for c in CHECKS}, "", {RECURRENCE: ("first try", {3}, ""), COMPUTES: ("first try", set(), "")}),
    "obriensiobhan_late_48227_9120388_02_rnn_recurrence.ipynb": (
        "pass", {"q2.step": 2.0, "q2.final_hidden": 2.0, "q2.closed_form": 2.0, "q2.output_a": 1.0, "q2.output_b": 0.0},
        "", {RECURRENCE: ("h_t = x_t - h_{t-1}, h_0 = 0", {0, 1}, ""), COMPUTES: ("even minus odd", {0, 1, 2, 3}, "")}),
    "mullerjorg_48231_9120350_02_rnn_recurrence.ipynb": (
        "pass", dict(MAX), "", {RECURRENCE: ("h_t = x_t - h_{t-1}, h_0 = 0, y_t = sigmoid(1000 h_t)", {0, 1, 2},
                                             "Complete."),
                                COMPUTES: ("all four points", {0, 1, 2, 3}, "")}),
    "garcialopezmariajose_48240_9120362_02_rnn_recurrence.ipynb": (
        "fail", {"q2.step": 2.0, "q2.final_hidden": 0.0, "q2.closed_form": 2.0, "q2.output_a": 1.0, "q2.output_b": 0.0},
        "q2.output_b: check cell did not run", {RECURRENCE: ("(not answered)", set(), ""),
                                                 COMPUTES: ("=HYPERLINK(\"http://x\")", {0}, "=1+1")}),
    "zhangwei_48299_9120400_02_rnn_recurrence.ipynb": (  # dropped the course: not in the export
        "pass", dict(MAX), "", {RECURRENCE: ("complete", {0, 1, 2}, ""), COMPUTES: ("complete", {0, 1, 2, 3}, "")}),
}
# Canvas ID -> the total the import must give (checks + written marks of the latest upload)
TOTALS = {"48213": 4.0 + 0 + 2, "48227": 7.0 + 2 + 4, "48231": 8.0 + 3 + 4, "48240": 5.0 + 0 + 1}


def make(folder: Path, unmarked: bool = False) -> Path:
    """Write the class's report, answers and marks into ``folder``; returns the report's path."""
    report = folder / "report.csv"
    rows = [Row(f, status, sum(points.values()), sum(MAX.values()), HANDOUT, "tiny", detail=detail, checks=points,
                check_max=dict(MAX)) for f, (status, points, detail, _) in SUBMISSIONS.items()]
    write_report(rows, report, CHECKS)
    written = [answers.Answer(f, HANDOUT, q, "prompt of " + q, text) for f, (*_, marks) in SUBMISSIONS.items()
               for q, (text, _, _) in marks.items()]
    answers.write_csv(written, report.with_suffix(".answers.csv"))
    load_batch(report, report.with_suffix(".marks.sqlite"))
    conn = db.connect(report.with_suffix(".marks.sqlite"))
    try:
        ids = {(a["file"], q): a["id"] for q in (RECURRENCE, COMPUTES) for a in db.answers_of(conn, q)}
        for file, (*_, marks) in SUBMISSIONS.items():
            for question, (_, items, comment) in marks.items():
                if unmarked and file.startswith("mullerjorg") and question == COMPUTES:
                    continue
                db.set_mark(conn, [ids[file, question]], -1, True, "ta")  # marked, even with no item
                for item in items:
                    db.set_mark(conn, [ids[file, question]], item, True, "ta")
                if comment:
                    db.set_comment(conn, ids[file, question], comment, "ta")
    finally:
        conn.close()
    return report
