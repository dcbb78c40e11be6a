"""Grading notebooks as Colab saves them (tests/fixtures/colab/: a Q3 submission saved by Colab, a copy Colab
saved, and its cells pasted into a notebook made new in Colab; sources in the fixtures' README)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from course_staff.formats.handouts import load_handouts, match, read_notebook
from course_staff.grading import colab, locking
from tests import colab_format

HERE = Path(__file__).resolve().parent / "fixtures" / "colab"
NAME = "03_self_attention"
SAVED, COPY, PASTED = f"{NAME}.ipynb", f"Copy of {NAME}.ipynb", "Untitled0.ipynb"


@pytest.fixture(scope="module")
def handouts():
    return load_handouts(HERE / "handouts")


def _read(file: str):
    return read_notebook((HERE / "submissions" / file).read_text(encoding="utf-8"))


def test_the_fixtures_are_written_as_colab_writes(handouts):
    handout = handouts[NAME]
    saved, copied, pasted = (json.loads((HERE / "submissions" / f).read_text()) for f in (SAVED, COPY, PASTED))
    assert (saved["nbformat_minor"], copied["nbformat_minor"], pasted["nbformat_minor"]) == (5, 5, 0)
    assert [c["id"] for c in saved["cells"]] == handout.order == [c["metadata"]["id"] for c in saved["cells"]]
    assert copied["cells"][0]["metadata"] == {"id": "view-in-github", "colab_type": "text"}
    assert copied["metadata"]["colab"]["include_colab_link"] is True
    assert not any("id" in c for c in pasted["cells"]) and "course" not in pasted["metadata"]
    assert all(len(c["metadata"]["id"]) == 12 and "tags" not in c["metadata"] for c in pasted["cells"])
    assert pasted["metadata"]["colab"]["authorship_tag"].startswith("ABX9Ty")
    executed = [c for c in saved["cells"] if c["cell_type"] == "code" and c.get("outputs")]
    assert executed and all({"executionInfo", "outputId", "colab"} <= set(c["metadata"]) for c in executed)
    assert (HERE / "handouts" / f"{NAME}.ipynb").read_bytes() == (HERE.parents[1] / ".." / "notebooks" / f"{NAME}.ipynb").read_bytes()


@pytest.mark.parametrize("file, how", [(SAVED, "metadata"), (COPY, "metadata"), (PASTED, "cells")])
def test_matched(handouts, file, how):
    handout, found = match(_read(file), handouts)
    assert handout is handouts[NAME] and found.startswith(how), found


@pytest.mark.parametrize("file", [SAVED, COPY])
def test_saved_by_colab_locks_by_id_and_notes_nothing(handouts, file):
    nb = _read(file)
    prepared = locking.prepare(nb, handouts[NAME], "tiny")
    assert prepared.notes == [] and prepared.mode == "tiny"
    assert colab.ids_lost(nb, handouts[NAME], prepared) == ""
    assert set(handouts[NAME].locked) <= set(prepared.positions)


def test_an_edited_check_in_a_colab_file_is_restored(handouts):
    nb = _read(SAVED)
    check = next(c for c in nb.cells if c.get("id") in handouts[NAME].calls)
    check.source = 'print("q3.norms: correct.")'
    prepared = locking.prepare(nb, handouts[NAME], "tiny")
    assert any("edited (restored)" in n and check.id in n for n in prepared.notes), prepared.notes
    restored = next(c for c in prepared.nb.cells if c.get("id") == check.id)
    assert restored.source == handouts[NAME].locked[check.id].source


def test_pasted_cells_get_their_ids_back_by_source_and_the_row_says_what_to_resubmit(handouts):
    nb = _read(PASTED)
    handout = handouts[NAME]
    prepared = locking.prepare(nb, handout, "tiny")
    assert set(handout.locked) <= set(prepared.positions)  # every check cell found, by its unchanged source
    line = colab.ids_lost(nb, handout, prepared)
    assert line.startswith("cell ids gone (nbformat 4.0") and "\n" not in line
    assert f"resubmit {NAME}.ipynb itself" in line and "written answer(s) not found" in line, line


def test_colab_format_keeps_nothing_of_the_handout_ids_when_pasted(handouts):
    data = json.loads((HERE.parents[1] / ".." / "notebooks" / f"{NAME}.ipynb").read_text())
    pasted = colab_format.pasted(data)
    assert not {c["metadata"]["id"] for c in pasted["cells"]} & set(handouts[NAME].order)


@pytest.mark.slow
def test_graded_full_marks(tmp_path):
    report = tmp_path / "report.csv"
    cli = Path(sys.executable).with_name("course-utils")
    done = subprocess.run([str(cli), "grade", str(HERE / "submissions"), "--handouts", str(HERE / "handouts"),
                           "--report", str(report), "--timeout", "300", "--jobs", "2"],
                          cwd=HERE.parents[2], capture_output=True, text=True)
    rows = {row["file"]: row for row in csv.DictReader(report.open())}
    assert set(rows) == {SAVED, COPY, PASTED}, done.stdout + done.stderr
    for file, row in rows.items():
        assert (row["status"], row["handout"], row["score"]) == ("pass", NAME, row["max_score"]), row
        assert float(row["max_score"]) > 0
        assert "suspicious" not in row["detail"], row["detail"]
    assert "cell ids gone" in rows[PASTED]["detail"] and "cell ids gone" not in rows[SAVED]["detail"] + rows[COPY]["detail"]
