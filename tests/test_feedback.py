"""``course-utils feedback``: one file per student, what it says and what it never says (issue 40, item 1).

On the class of ``tests/canvas_class.py``: An Nguyen lost two function checks (the grader's notes quote a
hidden case and an error message built from one), her first written answer holds ``<script>`` and
Markdown, the TA applied a credit and a deduction and wrote a comment holding HTML and a code fence.
The files are checked as text, as Markdown rendered by markdown-it (raw HTML allowed: the strictest
reader), and in a real browser (chromium), which takes a screenshot of her file.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

import canvas_class
from course_staff.formats.report import Row
from course_staff.grading.gradescope import results as gradescope_results
from course_staff.written import feedback
from course_utils import cli

NGUYEN = "nguyenan_48213_9120331_02_rnn_recurrence"
ARTIFACTS = canvas_class.ROOT / "test-artifacts" / "feedback"
LEAKS = ("h_6", "[4, 7, -2]", "list index out of range", "hidden sequence")  # from the grader's notes


def checks_rubric(folder: Path) -> Path:
    path = folder / "rubric.json"
    path.write_text(json.dumps({"default": 1, "points": canvas_class.MAX}), encoding="utf-8")
    return path


def make(folder: Path, *extra: str, unmarked: bool = False) -> tuple[int, Path]:
    report = canvas_class.make(folder, unmarked=unmarked)
    out = folder / "feedback"
    code = cli.main(["feedback", str(report), "--out", str(out), "--checks-rubric", str(checks_rubric(folder)), *extra])
    return code, out


def test_one_file_per_student_named_as_the_canvas_download(tmp_path, capsys):
    code, out = make(tmp_path)
    assert code == 0, capsys.readouterr().err
    names = {p.name for p in out.iterdir()}
    latest = [f for f in canvas_class.SUBMISSIONS if not f.startswith("obriensiobhan_48227_9120345")]
    assert names == {Path(f).stem + ext for f in latest for ext in (".html", ".md")}


def test_a_lost_check_says_the_hint_and_why_never_the_hidden_case(tmp_path):
    from course_utils import checks

    assert make(tmp_path)[0] == 0
    for ext in (".html", ".md"):
        text = (tmp_path / "feedback" / f"{NGUYEN}{ext}").read_text(encoding="utf-8")
        plain = re.sub(r"\\(.)", r"\1", text) if ext == ".md" else feedback.html.unescape(text)
        assert not [leak for leak in LEAKS if leak in plain], ext
        assert "Your function raised IndexError on one of the grader's own cases" in plain
        assert "differs from the reference's on one of the grader's own cases" in plain  # q2.closed_form
        for check in ("q2.step", "q2.closed_form"):
            assert " ".join(checks.spec_of(check).hint.split()) in " ".join(plain.split())
        assert "Total: 6 / 15" in re.sub(r"<[^>]+>|\*\*", "", plain)
    garcia = (tmp_path / "feedback" / "garcialopezmariajose_48240_9120362_02_rnn_recurrence.html").read_text()
    assert "did not run when the grader ran your notebook from the top" in garcia  # q2.output_b: not run
    assert "a cell raised an error" in garcia  # the notebook's status: fail


def test_written_answers_show_items_points_and_the_comment(tmp_path):
    assert make(tmp_path)[0] == 0
    page = (tmp_path / "feedback" / f"{NGUYEN}.html").read_text(encoding="utf-8")
    assert "Q2 1. the recurrence: 0 / 3" in page and "Q2 6. what y_2N computes: 2 / 4" in page
    assert "<b>+1</b> h_t = 1 x_t - h_{t-1}" in page and "<b>-1</b> sigmoid(1000 - h_t) or another bias" in page
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in page and "<script" not in page
    assert "&lt;b&gt;not bold&lt;/b&gt; &amp; ```fence```" in page
    assert "Content-Security-Policy" in page and "src=" not in page.replace("src=x", "")  # nothing loaded


def test_markdown_renders_as_text(tmp_path):
    from markdown_it import MarkdownIt

    assert make(tmp_path)[0] == 0
    source = (tmp_path / "feedback" / f"{NGUYEN}.md").read_text(encoding="utf-8")
    rendered = MarkdownIt("commonmark").render(source)  # raw HTML passes through this preset: none may be there
    assert "<script" not in rendered and "<img" not in rendered and "<b>not bold" not in rendered
    assert "<strong>bold</strong>" not in rendered  # the student's **bold** stays as typed
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in rendered
    assert "h_t = x_t - h_{t-1}" in rendered and "&lt;b&gt;not bold&lt;/b&gt; &amp; ```fence```" in rendered
    assert "<li>+1 h_t = 1 x_t - h_{t-1}</li>" in rendered


def test_unmarked_answers_stop_the_feedback_unless_allowed(tmp_path, capsys):
    code, out = make(tmp_path, unmarked=True)
    assert code == 2 and not out.exists()
    assert "1 written answers of 1 students are not marked yet" in capsys.readouterr().err
    code, out = make(tmp_path, "--allow-unmarked", unmarked=True)
    assert code == 0
    assert "Not marked yet (0 points for now)" in (out / "mullerjorg_48231_9120350_02_rnn_recurrence.html").read_text()


def test_gradescope_tests_carry_the_hints_items_and_comments(tmp_path):
    report = canvas_class.make(tmp_path)
    status, points, detail, _ = canvas_class.SUBMISSIONS["garcialopezmariajose_48240_9120362_02_rnn_recurrence.ipynb"]
    row = Row("garcia.ipynb", status, sum(points.values()), 8.0, canvas_class.HANDOUT, "tiny", detail=detail,
              checks=points, check_max=dict(canvas_class.MAX))
    results = tmp_path / "results.json"
    results.write_text(json.dumps(gradescope_results(row)), encoding="utf-8")
    assert cli.main(["feedback", str(report), "--gradescope", str(results),
                     "--checks-rubric", str(checks_rubric(tmp_path))]) == 0
    data = json.loads(results.read_text(encoding="utf-8"))
    tests = {t["name"]: t for t in data["tests"]}
    assert "check's cell did not run" in tests["q2.output_b"]["output"] and "Hint: " in tests["q2.output_b"]["output"]
    assert tests["q2.step"]["output"].startswith("q2.step: 2 / 2 points: correct")
    computes = tests["written: Q2 6. what y_2N computes"]
    assert computes["score"] == 1 and "+1  h_2N = even-position sum" in computes["output"]
    assert "TA's comment: =1+1" in computes["output"] and data["score"] == 6
    assert "notebook" in tests  # the grader's own test stays


def test_a_checks_rubric_that_disagrees_with_the_report_is_refused(tmp_path, capsys):
    report = canvas_class.make(tmp_path)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"default": 1, "points": {}}), encoding="utf-8")
    assert cli.main(["feedback", str(report), "--out", str(tmp_path / "f"), "--checks-rubric", str(wrong)]) == 2
    assert "--checks-rubric" in capsys.readouterr().err


@pytest.mark.browser
def test_the_feedback_page_in_a_browser_runs_nothing_and_shows_the_text(tmp_path):
    from markdown_it import MarkdownIt
    from playwright.sync_api import sync_playwright
    from test_browser import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.is_file():
        missing = pytest.fail if os.environ.get("CI") else pytest.skip
        missing(f"no chromium at {CHROMIUM}: apt-get install -y chromium (or set COURSE_CHROMIUM)")
    assert make(tmp_path)[0] == 0
    page_file = tmp_path / "feedback" / f"{NGUYEN}.html"
    rendered = tmp_path / "feedback-md.html"
    rendered.write_text("<!doctype html><meta charset='utf-8'>" + MarkdownIt("commonmark").render(
        (tmp_path / "feedback" / f"{NGUYEN}.md").read_text(encoding="utf-8")), encoding="utf-8")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda r: None if r.url.startswith("file:") else errors.append(r.url))  # nothing fetched
            for path in (page_file, rendered):
                page.goto(path.as_uri())
                page.wait_for_load_state("load")
                page.wait_for_timeout(300)  # an onerror handler of a broken image would have fired by now
                assert page.evaluate("window.pwned") is None, path
                text = page.inner_text("body")
                assert canvas_class.SCRIPT in text and "<b>not bold</b> & ```fence```" in text, path
                assert page.locator("script, img").count() == 0, path
            page.goto(page_file.as_uri())
            assert page.inner_text("#total") == "Total: 6 / 15 points"
            assert page.locator("tr.lost").count() == 2 and page.locator(".comment").count() == 1
            page.screenshot(path=str(ARTIFACTS / f"{NGUYEN}.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()
