"""Grading with per-student variants on, as a grader meets it: an honest class in several variants at full marks,
a notebook copied from a classmate of another variant losing that variant's checks with its row naming whose
variant it holds, an id cell that disagrees with the Canvas name flagged, and the same batch with variants off.

Q2 is the question used: its variants change the weights of the network, so a classmate's numbers differ."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import sympy as sp

from course_staff.formats.handouts import filled_from_master, load_handouts
from course_utils import variants

ROOT = Path(__file__).resolve().parents[1]
TERM = "fall-2027"
HANDOUT = "02_rnn_recurrence"
VARIANT_CHECKS = ("q2.step", "q2.final_hidden", "q2.closed_form", "q2.output_b")  # y_a is 0.5 in every variant


def _ids_with_distinct_q2(count: int) -> list[str]:
    """``count`` Canvas-like ids whose Q2 variants differ pairwise, and differ from variant 0, in ``TERM``; the last
    one's weights differ from the first one's in w_in and in the sign of w_out (so every answer but the tie's
    differs between them)."""
    def weights(student: str) -> tuple[int, bool]:
        numbers = variants.table("q2")[variants.number_for("q2", student, TERM)]
        return numbers["w_in"], numbers["w_out"] > 0

    chosen, taken = [], {0}
    for n in range(100000, 300000, 7):
        student, number = str(n), variants.number_for("q2", str(n), TERM)
        if number in taken:
            continue
        last = len(chosen) == count - 1
        if last and (weights(student)[0] == weights(chosen[0])[0] or weights(student)[1] == weights(chosen[0])[1]):
            continue
        chosen.append(student)
        taken.add(number)
        if len(chosen) == count:
            return chosen
    raise AssertionError("not enough distinct Q2 variants")


def _copied_from(honest: nbformat.NotebookNode, classmate: str) -> nbformat.NotebookNode:
    """A notebook that hard-codes ``classmate``'s numbers: their weights in the step, their h_4, their outputs,
    their closed form, and their id in the id cell (what a copied notebook holds)."""
    from course_staff.keys import q2 as key

    with variants.pinned("q2", variants.number_for("q2", classmate, TERM)) as theirs:
        answers = key.answers(True)
    w_in, w_out = theirs["w_in"], theirs["w_out"]
    nb = nbformat.from_dict(honest)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "STUDENT_ID = " in cell.source:
            cell.source = cell.source.replace('STUDENT_ID = ""', f'STUDENT_ID = "{classmate}"')
        elif cell.get("id") == "q2-step":
            cell.source = ("import math\n\ndef rnn_step(h_prev, x):\n"
                           f"    h = {w_in} * x - h_prev\n"
                           f"    return h, 0.5 * (1 + math.tanh({w_out} * h / 2))\n")
        elif cell.get("id") == "q2-final-hidden":
            cell.source = (f"x_1, x_2, x_3, x_4 = sp.symbols('x_1:5', integer=True)\n"
                           f"h_4 = {sp.sstr(answers['q2.final_hidden'])}\nh_4")
        elif cell.get("id") == "q2-closed-form":
            cell.source = ("x = sp.IndexedBase('x')\nN, k = sp.symbols('N k', integer=True, nonnegative=True)\n"
                           f"h_2N = {w_in} * sp.Sum(x[2 * k] - x[2 * k - 1], (k, 1, N))\nh_2N")
        elif cell.get("id") == "q2-outputs":
            cell.source = f"y_a, y_b = {answers['q2.output_a']!r}, {answers['q2.output_b']!r}\nprint(y_a, y_b)"
    return nb


def _run_as_student(nb: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    """``nb`` executed as a student runs it (tiny mode, variants on): its saved outputs are of its id's variant."""
    from nbclient import NotebookClient

    nb = nbformat.from_dict(nb)
    env = {**os.environ, variants.TERM_ENV: TERM, "COURSE_TINY": "1", "MPLBACKEND": "Agg"}
    env.pop(variants.ID_ENV, None)
    env.pop(variants.GRADER_ENV, None)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(cwd)}})
    with client.setup_kernel(env=env):
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
    return nb


def _grade(folder: Path, report: Path, term: str) -> dict[str, dict]:
    env = {**os.environ, variants.TERM_ENV: term}
    env.pop(variants.ID_ENV, None)
    done = subprocess.run([sys.executable, "-m", "course_utils", "grade", str(folder), "--jobs", "2",
                           "--report", str(report), "--handouts", str(ROOT / "notebooks"), "--timeout", "300"],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    with report.open(encoding="utf-8") as handle:
        return {row["file"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Three honest students of three Q2 variants, and a fourth who copied the first one's numbers and id."""
    handout = load_handouts(ROOT / "notebooks")[HANDOUT]
    honest = filled_from_master(handout, nbformat.read(ROOT / "answers" / f"{HANDOUT}.ipynb", 4))
    ana, ben, cem, dora = _ids_with_distinct_q2(4)
    folder = tmp_path_factory.mktemp("variants") / "submissions"
    folder.mkdir()
    for name, student in (("ana", ana), ("ben", ben), ("cem", cem)):
        nb = nbformat.from_dict(honest)
        for cell in nb.cells:
            if cell.cell_type == "code" and 'STUDENT_ID = ""' in cell.source:
                cell.source = cell.source.replace('STUDENT_ID = ""', f'STUDENT_ID = "{student}"')
        nbformat.write(_run_as_student(nb, folder), folder / f"{name}_{student}_1_{HANDOUT}.ipynb")
    copied = _run_as_student(_copied_from(honest, ana), folder)
    nbformat.write(copied, folder / f"dora_{dora}_1_{HANDOUT}.ipynb")
    out = tmp_path_factory.mktemp("reports")
    return {"ids": (ana, ben, cem, dora), "on": _grade(folder, out / "on.csv", TERM),
            "off": _grade(folder, out / "off.csv", "")}


def test_an_honest_class_in_several_variants_gets_full_marks(batch):
    ana, ben, cem, _ = batch["ids"]
    rows = {row["student"]: row for row in batch["on"].values()}
    for student in (ana, ben, cem):
        row = rows[student]
        assert row["status"] == "pass" and row["score"] == row["max_score"], row
        assert row["variant"] == f"q2={variants.number_for('q2', student, TERM)}"
    assert len({rows[s]["variant"] for s in (ana, ben, cem)}) == 3


def test_a_copied_notebook_loses_the_variants_checks_and_names_whose(batch):
    ana, _, _, dora = batch["ids"]
    row = next(r for r in batch["on"].values() if r["student"] == dora)
    lost = [q for q in VARIANT_CHECKS if float(row[q]) == 0]
    assert lost == list(VARIANT_CHECKS), row
    assert float(row["q2.output_a"]) > 0  # a tie's 0.5 is every variant's answer: nothing to lose there
    assert f"the id cell says '{ana}', the canvas name says '{dora}'" in row["detail"]
    theirs = variants.number_for("q2", ana, TERM)
    assert f"answers of variant {theirs} (the variant of '{ana}')" in row["detail"], row["detail"]


def test_with_variants_off_everyone_is_graded_on_variant_0(batch):
    """Off, the same batch is graded as today: no student, no variant, every notebook run as variant 0. The honest
    notebooks compute from the printed numbers, so every check is right again; their saved outputs, made in their
    own variants, now differ from variant 0's, which the row says (status fail, the cells named)."""
    for file, row in batch["off"].items():
        assert row["student"] == "" and row["variant"] == ""
        if not file.startswith("dora_"):
            assert row["score"] == row["max_score"], row
