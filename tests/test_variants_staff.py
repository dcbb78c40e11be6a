"""Staff tools per variant: the key of one student's variant, the variant in the gradebook, the feedback and the
marking page (with its numbers), another variant's answers in the similarity pairs, and the settings' term."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_staff import settings
from course_staff.formats.handouts import filled_from_master, load_handouts
from course_staff.formats.report import Row, read_report, write_report
from course_staff.written import answers, feedback, gradebook
from course_staff.written.marking import db
from course_staff.written.marking.command import load_batch
from course_staff.written.marking.rubric import load as load_rubric
from course_staff.written.similarity import variants as similarity_variants
from course_utils import variants

ROOT = Path(__file__).resolve().parents[1]
TERM = "fall-2027"
HANDOUT = "02_rnn_recurrence"


def _student_of_variant(prefix: str, number: int) -> str:
    return next(str(n) for n in range(100000, 300000) if variants.number_for(prefix, str(n), TERM) == number)


def _with_id(honest: nbformat.NotebookNode, student: str, extra: str = "") -> nbformat.NotebookNode:
    """A copy of ``honest`` with ``student`` typed in its id cell and a last code cell ``extra``."""
    nb = nbformat.from_dict(honest)
    for cell in nb.cells:
        if cell.cell_type == "code" and 'STUDENT_ID = ""' in cell.source:
            cell.source = cell.source.replace('STUDENT_ID = ""', f'STUDENT_ID = "{student}"')
    nb.cells.append(nbformat.v4.new_code_cell(extra))
    return nb


def _class(folder: Path) -> tuple[Path, str, str]:
    """A graded Q2 class of two students in variants 3 and 0, with written answers; the report's path."""
    ada, bob = _student_of_variant("q2", 3), _student_of_variant("q2", 0)
    files = {f"ada_{ada}_1_{HANDOUT}.ipynb": (ada, "q2=3"), f"bob_{bob}_1_{HANDOUT}.ipynb": (bob, "q2=0")}
    rows = [Row(f, "pass", 1.0, 1.0, HANDOUT, "tiny", checks={"q2.output_a": 1.0}, check_max={"q2.output_a": 1.0},
                student=s, variant=v) for f, (s, v) in files.items()]
    report = folder / "report.csv"
    write_report(rows, report, ["q2.output_a"])
    rubric = load_rubric(ROOT / "answers" / "written_rubric.json")
    question = "df663ae2"  # Q2 1. the recurrence: its items name the weights
    written = [answers.Answer(f, HANDOUT, question, "the prompt", "my answer", v) for f, (_, v) in files.items()]
    answers.write_csv(written, report.with_suffix(".answers.csv"))
    load_batch(report, report.with_suffix(".marks.sqlite"))
    return report, ada, bob


def test_the_report_gradebook_and_feedback_carry_the_variant(tmp_path):
    report, ada, bob = _class(tmp_path)
    rows, _ = read_report(report)
    assert {r["student"]: r["variant"] for r in rows} == {ada: "q2=3", bob: "q2=0"}
    book, check_ids, written = gradebook.build(report, report.with_suffix(".marks.sqlite"),
                                               load_rubric(ROOT / "answers" / "written_rubric.json"))
    assert {r["id"]: r["variant"] for r in book} == {ada: ["q2=3"], bob: ["q2=0"]}
    out = tmp_path / "gradebook.csv"
    gradebook.write(book, check_ids, written, out)
    assert out.read_text().splitlines()[0].startswith("student,id,files,variant,")
    from course_staff.formats.scoring import Rubric

    items, _ = feedback.build(report, report.with_suffix(".marks.sqlite"),
                              load_rubric(ROOT / "answers" / "written_rubric.json"), Rubric())
    mine = next(i for i in items if i.files[0].startswith("ada_"))
    assert "Graded in your variant: q2 variant 3" in feedback.render_markdown(mine)
    assert "Graded in your variant: q2 variant 3" in feedback.render_html(mine)


def test_a_report_from_before_variants_still_reads(tmp_path):
    old = tmp_path / "old.csv"
    header = "file,status,score,max_score,handout,mode,cells_compared,cells_differ,cells_raised,seconds,runs,detail,sandbox,q2.step"
    old.write_text(header + "\nx.ipynb,pass,2,2,02_rnn_recurrence,tiny,1,0,0,3.0,1,,bwrap,2\n", encoding="utf-8")
    rows, check_ids = read_report(old)
    assert check_ids == ["q2.step"] and rows[0]["variant"] == "" and rows[0]["student"] == ""


def test_the_marking_page_shows_each_answers_variant_and_its_numbers(tmp_path):
    report, ada, _ = _class(tmp_path)
    conn = db.connect(report.with_suffix(".marks.sqlite"))
    try:
        question = conn.execute("SELECT question FROM answers LIMIT 1").fetchone()[0]
        shown = {a["file"].split("_")[0]: a["variant"] for a in db.answers_of(conn, question)}
    finally:
        conn.close()
    numbers = variants.table("q2")[3]
    assert shown["ada"].startswith("q2=3 (") and all(f"{k} {v}" in shown["ada"] for k, v in numbers.items())
    assert shown["bob"].startswith("q2=0")


def test_a_marking_database_from_before_variants_gets_the_column(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(db.SCHEMA.replace(", variant TEXT NOT NULL DEFAULT ''", ""))
    conn.execute("INSERT INTO answers (file, handout, question, prompt, text, text_hash, anon) "
                 "VALUES ('a.ipynb', 'h', 'q', 'p', 't', 'x', 'A')")
    conn.commit()
    conn.close()
    conn = db.connect(path)
    try:
        assert [tuple(r) for r in conn.execute("SELECT file, variant FROM answers")] == [("a.ipynb", "")]
    finally:
        conn.close()


def test_the_term_is_a_setting_and_keys_writes_it_into_the_package(tmp_path):
    text = (ROOT / "course.toml").read_text(encoding="utf-8")
    assert settings.parse(text).variants == ""  # committed: off
    on = settings.parse(text.replace('term = ""', 'term = "fall-2027"'))
    assert on.variants == "fall-2027"
    with pytest.raises(settings.CourseSettingsError, match=r"\[variants\] term"):
        settings.parse(text.replace('term = ""', 'term = "fall;2027"'))
    from course_staff.authoring import keys

    result = keys.update_variants(settings.parse(text), check=True)
    assert result.changed == [], "course_utils/data/variants.json is stale: run course-utils keys"
    assert keys.update_variants(on, check=True).changed == [variants.SETTINGS]


def test_keys_for_one_student_render_their_variant(tmp_path):
    """``course-utils keys --variant ID`` executes the masters as that student and writes their keys only."""
    student = _student_of_variant("q2", 5)
    toml = tmp_path / "course.toml"
    toml.write_text((ROOT / "course.toml").read_text().replace('term = ""', f'term = "{TERM}"'), encoding="utf-8")
    out = tmp_path / "keys"
    before = {p: p.read_bytes() for p in (ROOT / "answers").glob("02_*")}
    done = subprocess.run([sys.executable, "-m", "course_utils", "keys", "--variant", student, "--only", HANDOUT,
                           "--settings", str(toml), "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "q2: variant 5 of" in done.stdout
    key = (out / f"{HANDOUT}.md").read_text(encoding="utf-8")
    assert f"the key for student '{student}'" in key and f"variant 5 of {variants.count('q2')}" in key
    assert key != (ROOT / "answers" / f"{HANDOUT}.md").read_text(encoding="utf-8")
    assert {p: p.read_bytes() for p in (ROOT / "answers").glob("02_*")} == before  # nothing else written
    off = subprocess.run([sys.executable, "-m", "course_utils", "keys", "--variant", student, "--only", HANDOUT],
                         cwd=ROOT, capture_output=True, text=True)
    assert off.returncode == 2 and "variants are off" in off.stderr


def test_similarity_lists_another_students_variant_first(tmp_path, monkeypatch):
    """A notebook that holds a classmate's numbers, or their id, is paired with the classmate's notebook first."""
    monkeypatch.setenv(variants.TERM_ENV, TERM)
    handouts = load_handouts(ROOT / "notebooks")
    honest = filled_from_master(handouts[HANDOUT], nbformat.read(ROOT / "answers" / f"{HANDOUT}.ipynb", 4))
    ada, bob = _student_of_variant("q2", 4), _student_of_variant("q2", 7)

    folder = tmp_path / "subs"
    folder.mkdir()
    nbformat.write(_with_id(honest, ada), folder / f"ada_{ada}_1_{HANDOUT}.ipynb")
    nbformat.write(_with_id(honest, ada), folder / f"bob_{bob}_1_{HANDOUT}.ipynb")  # bob kept ada's id cell
    pairs = similarity_variants.evidence(folder, handouts, tiny=True, term=TERM)
    found = {(p.a.split("_")[0], p.b.split("_")[0], p.question) for p in pairs}
    assert ("bob", "ada", "") in found
    nbformat.write(_with_id(honest, ada), folder / "copy.ipynb")  # not named by Canvas: only its id cell names it
    nbformat.write(_with_id(honest, ada), folder / "mine.ipynb")
    found = {(p.a.split("_")[0], p.b.split("_")[0], p.why) for p in similarity_variants.evidence(folder, handouts,
                                                                                              tiny=True, term=TERM)}
    assert ("copy.ipynb", "mine.ipynb", f"both name '{ada}' in their id cells") in found
    assert all(p.part == "variant" and p.score == 1.0 for p in pairs)
    monkeypatch.setenv(variants.TERM_ENV, "")
    assert similarity_variants.evidence(folder, handouts, tiny=True, term="") == []


def test_rubric_items_name_each_students_own_numbers(tmp_path):
    """An item written as ``sigmoid({w_out} h_t)`` reads with the student's own w_out on the marking page's data
    and in their feedback; variant 0's reads as the handout without variants does."""
    from course_staff.formats.scoring import Rubric
    from course_staff.written.marking.rubric import with_values, variant_values

    report, ada, bob = _class(tmp_path)
    rubric = load_rubric(ROOT / "answers" / "written_rubric.json")
    item = next(i for i in rubric.question("df663ae2").items if "{w_out}" in i.text)
    conn = db.connect(report.with_suffix(".marks.sqlite"))
    try:
        for answer in db.answers_of(conn, "df663ae2"):
            db.set_mark(conn, [answer["id"]], -1, True, "ta")
            db.set_mark(conn, [answer["id"]], item.id, True, "ta")
        values = {a["file"].split("_")[0]: a["values"] for a in db.answers_of(conn, "df663ae2")}
    finally:
        conn.close()
    w_out = variants.table("q2")[3]["w_out"]
    assert values["ada"]["w_out"] == w_out and values["bob"]["w_out"] == 1000
    assert with_values("sigmoid({w_out} h_t), {unknown}", variant_values("q2=3")) == f"sigmoid({w_out} h_t), {{unknown}}"
    items, _ = feedback.build(report, report.with_suffix(".marks.sqlite"), rubric, Rubric())
    text = {i.files[0].split("_")[0]: feedback.render_markdown(i).replace("\\_", "_") for i in items}
    assert f"sigmoid({w_out} h_t)" in text["ada"] and "sigmoid(1000 h_t)" in text["bob"]
    assert "{w_out}" not in text["ada"] + text["bob"]


def test_similarity_names_a_classmates_numbers_in_a_notebook(tmp_path, monkeypatch):
    """Q3: a notebook whose own code holds a classmate's norms (their variant's answer, not its own) is paired with
    the classmate's notebook, as the strongest evidence; its own variant's numbers are never evidence."""
    monkeypatch.setenv(variants.TERM_ENV, TERM)
    name = "03_self_attention"
    handouts = load_handouts(ROOT / "notebooks")
    honest = filled_from_master(handouts[name], nbformat.read(ROOT / "answers" / f"{name}.ipynb", 4))
    from course_staff.keys import solutions

    numbers = similarity_variants.variant_numbers(True)["q3"]
    ada, bob = next((x, y) for x, y in ((_student_of_variant("q3", a), _student_of_variant("q3", b))
                                        for a in range(14) for b in range(14) if a != b)
                    if set(numbers[variants.number_for("q3", x, TERM)]) - set(numbers[variants.number_for("q3", y, TERM)]))
    with variants.pinned("q3", variants.number_for("q3", ada, TERM)):
        norms = [round(float(v), 4) for v in solutions(True)["q3.norms"]]

    folder = tmp_path / "subs"
    folder.mkdir()
    nbformat.write(_with_id(honest, ada, f"norms = {norms}"), folder / f"ada_{ada}_1_{name}.ipynb")  # her own: no evidence
    nbformat.write(_with_id(honest, bob, f"norms = {norms}"), folder / f"bob_{bob}_1_{name}.ipynb")
    pairs = similarity_variants.evidence(folder, handouts, tiny=True, term=TERM)
    assert [(p.a.split("_")[0], p.b.split("_")[0], p.question) for p in pairs] == [("bob", "ada", "q3")], pairs
    assert "not in its own variant" in pairs[0].why
