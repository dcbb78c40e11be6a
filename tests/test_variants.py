"""Per-student variants, the core: who gets which variant, that it never changes for one id, that it is off
without a term or an id, and whose submission a grader takes a notebook for (``course_staff.formats.identity``)."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import threading

import nbformat
import pytest

from course_utils import variants
from course_staff.formats import identity

QUESTIONS = ("q1", "q2", "q3", "lab")
CLASS = [str(100000 + 37 * i) for i in range(300)]  # a 300-student class of Canvas-like ids


@pytest.fixture()
def term(monkeypatch):
    monkeypatch.setenv(variants.TERM_ENV, "fall-2027")
    monkeypatch.delenv(variants.GRADER_ENV, raising=False)
    monkeypatch.delenv(variants.ID_ENV, raising=False)
    return "fall-2027"


def test_off_without_a_term_or_an_id(monkeypatch):
    monkeypatch.setenv(variants.TERM_ENV, "")
    monkeypatch.delenv(variants.GRADER_ENV, raising=False)
    variants.use("123456")
    assert [variants.number(q) for q in QUESTIONS] == [0, 0, 0, 0]
    monkeypatch.setenv(variants.TERM_ENV, "fall-2027")
    variants.use("")
    assert [variants.number(q) for q in QUESTIONS] == [0, 0, 0, 0]
    assert "STUDENT_ID is empty" in variants.describe("q2") or variants.count("q2") == 1


def test_the_installed_package_ships_variants_off():
    """Off is the committed default: course.toml's [variants] term is "" and keys wrote it into the package."""
    env = {k: v for k, v in os.environ.items() if k not in (variants.TERM_ENV, variants.ID_ENV, variants.GRADER_ENV)}
    out = subprocess.run([sys.executable, "-c", "from course_utils import variants; print(repr(variants.term()))"],
                         capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert out == "''"


def test_the_same_id_always_gets_the_same_variant(term):
    """A re-run, a fresh process (a fresh runtime, a re-download) and any spelling of the id agree."""
    here = {q: variants.number_for(q, "AB123 ", term) for q in QUESTIONS}
    assert here == {q: variants.number_for(q, "ab123", term) for q in QUESTIONS}
    code = ("from course_utils import variants; variants.use('ab123'); "
            "print(' '.join(str(variants.number(q)) for q in ('q1', 'q2', 'q3', 'lab')))")
    env = {**os.environ, variants.TERM_ENV: term}
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert fresh.split() == [str(here[q]) for q in QUESTIONS]


def test_the_term_and_the_question_change_the_variant(term):
    """Another term re-deals every question; within one term, one student's questions are drawn independently."""
    multi = [q for q in QUESTIONS if variants.count(q) > 1]
    assert multi == list(QUESTIONS)
    moved = sum(variants.number_for(q, s, "fall-2027") != variants.number_for(q, s, "spring-2028")
                for q in multi for s in CLASS)
    assert moved > 0.5 * len(multi) * len(CLASS)


def test_a_class_of_300_is_spread_over_every_variant(term):
    """Every variant of every question is dealt, none to more than about twice its share, and whole assignments
    (one variant per question) are almost all distinct."""
    counted = {q: collections.Counter(variants.number_for(q, s, term) for s in CLASS) for q in QUESTIONS}
    for q, counts in counted.items():
        n = variants.count(q)
        assert set(counts) == set(range(n)), q
        assert max(counts.values()) <= max(3, 2.2 * len(CLASS) / n), (q, counts)
    tuples = collections.Counter(tuple(variants.number_for(q, s, term) for q in QUESTIONS) for s in CLASS)
    assert len(tuples) >= 0.95 * len(CLASS), len(tuples)


@pytest.mark.parametrize("bad", [None, 3.5, True, ["1"], "a b", "x" * 65, "id;rm -rf"])
def test_an_id_that_cannot_name_a_student_says_how_to_type_it(bad):
    with pytest.raises(variants.VariantError, match="STUDENT_ID"):
        variants.normalise_id(bad)


def test_ints_and_padded_text_are_ids():
    assert variants.normalise_id(123456) == variants.normalise_id(" 123456\n") == "123456"
    assert variants.normalise_id("Jane.Doe@uni.edu") == "jane.doe@uni.edu"


def test_the_grader_id_wins_over_the_notebook(term, monkeypatch):
    monkeypatch.setenv(variants.GRADER_ENV, "555")
    assert variants.use("a-classmate") == "555" and variants.student_id() == "555"


def test_pinned_and_as_student_are_per_thread(term):
    """The grader judges several students at once: one thread's student is not another's."""
    multi = "q2"
    a, b = next((x, y) for x in CLASS for y in CLASS
                if variants.number_for(multi, x, term) != variants.number_for(multi, y, term))
    seen = {}
    barrier = threading.Barrier(2)

    def judge(student):
        with variants.as_student(student, term):
            barrier.wait()
            seen[student] = variants.number(multi)
            barrier.wait()

    threads = [threading.Thread(target=judge, args=(s,)) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {a: variants.number_for(multi, a, term), b: variants.number_for(multi, b, term)}
    with variants.pinned(multi, variants.count(multi) - 1):
        assert variants.number(multi) == variants.count(multi) - 1
    with pytest.raises(variants.VariantError, match="variants 0 to"):
        with variants.pinned(multi, variants.count(multi)):
            pass


def _notebook(source: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Q2"), nbformat.v4.new_code_cell(source)]
    return nb


@pytest.mark.parametrize("source, want", [
    ('from course_utils import mode, variants\nTINY = mode.is_tiny()\nSTUDENT_ID = "123456"  # mine\n', "123456"),
    ("STUDENT_ID = 123456", "123456"),
    ('STUDENT_ID = " AB12 "', "ab12"),
    ('STUDENT_ID = ""', ""),
    ("STUDENT_ID = input()", ""),  # not a literal: nothing of the notebook runs to find out
    ("STUDENT_ID = open('/etc/passwd').read()", ""),
    ('STUDENT_ID = "a b c"', ""),
    ("STUDENT_ID = (", ""),  # a syntax error
])
def test_the_id_cell_is_read_as_data(source, want):
    assert identity.id_cell(_notebook(source)) == want


def test_the_canvas_name_or_the_roster_wins_and_a_disagreeing_cell_is_flagged(tmp_path):
    roster_file = tmp_path / "roster.csv"
    roster_file.write_text("Student,ID,file\n    Points Possible,,\nDoe Jane,123456,\nRoe Rick,777777,rick.ipynb\n",
                           encoding="utf-8")
    roster = identity.load_roster(roster_file)
    assert roster.ids == {"123456", "777777"} and roster.files == {"rick.ipynb": "777777"}
    mine = _notebook('STUDENT_ID = "123456"')
    assert identity.identify("doe_123456_9_hw.ipynb", mine, roster) == identity.Identity("123456", "canvas name", "123456")
    copied = _notebook('STUDENT_ID = "777777"')
    who = identity.identify("doe_123456_9_hw.ipynb", copied, roster)
    assert who.student == "123456" and "the id cell says '777777'" in who.note
    assert identity.identify("rick.ipynb", copied, roster).note == ""
    stranger = identity.identify("x.ipynb", _notebook('STUDENT_ID = "999"'), roster)
    assert stranger.student == "999" and "not on the roster" in stranger.note
    nobody = identity.identify("x.ipynb", _notebook('STUDENT_ID = ""'), None)
    assert nobody.student == "" and "variant 0" in nobody.note


@pytest.mark.parametrize("text, fix", [("name,sis\nx,1\n", "column 'id'"), ("", "empty"),
                                       ("id\nnot an id!\n", "not a course id")])
def test_a_roster_that_cannot_be_used_names_the_fix(tmp_path, text, fix):
    path = tmp_path / "r.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(identity.RosterError, match=fix):
        identity.load_roster(path)


def test_the_instructors_page_states_each_questions_variants():
    """docs/variants.md's table gives every question's number of variants as the package has them."""
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "variants.md").read_text(encoding="utf-8")
    for label, prefix in (("Q1", "q1"), ("Q2", "q2"), ("Q3", "q3"), ("Lab", "lab")):
        assert f"| {label} | {variants.count(prefix)} |" in page, prefix


def test_two_notebooks_named_only_by_one_id_cell_are_flagged():
    """Without a Canvas name or a roster line the id cell names the owner; two notebooks of one handout naming the
    same id would be graded as one student, so both rows say so (the batch's last step before the report)."""
    from course_staff.formats.report import Row
    from course_staff.grading.batch import flag_shared_id_cells

    class Handout:
        name = "02_rnn_recurrence"

    rows = [Row(f, "pass", student="777") for f in ("copy.ipynb", "mine.ipynb")]
    canvas = Row("doe_777_1_x.ipynb", "pass", student="777")  # named by Canvas: its id is not the id cell's
    nb = _notebook('STUDENT_ID = "777"')
    flag_shared_id_cells([(r, nb, Handout()) for r in (*rows, canvas)], None)
    assert rows[0].detail == "its id cell's '777' is also the id cell of mine.ipynb"
    assert rows[1].detail == "its id cell's '777' is also the id cell of copy.ipynb" and canvas.detail == ""
