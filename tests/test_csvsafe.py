"""Every CSV the package writes: no cell a spreadsheet would run as a formula (issue 37, item 6; OWASP's rule).

A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written behind a ``'``;
numbers (and text that is a plain number, as the writers format them) stay numbers; each reader of these
files gets back exactly what was written.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from course_staff import csvsafe
from course_staff.formats.report import Row, merge_reports, read_report, write_report
from course_staff.grading import profile
from course_staff.written import answers, gradebook
from course_staff.written.marking.rubric import DEFAULT_PATH, load
from course_staff.written.pairs import Pair
from course_staff.written.pairs import read_csv as read_pairs
from course_staff.written.pairs import write_csv as write_pairs

ROOT = Path(__file__).resolve().parents[1]
CALC = "=cmd|' /C calc'!A0.ipynb"
RISKY = [CALC, "-2+3.ipynb", "+1 (555) 0100", "@SUM(A1:A9)", "\t=1+1", "\r=1+1", "=HYPERLINK(\"http://x\",\"y\")",
         "- a markdown bullet", "-", "=", "'=already quoted", "''@twice", "-inf", "1+1", "-1e5x"]
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


@pytest.mark.parametrize(("value", "written"), [
    ("=1+1", "'=1+1"),
    ("+1+1", "'+1+1"),
    ("-1+1", "'-1+1"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"),
    ("\rx", "'\rx"),
    (CALC, "'" + CALC),
    ("-2+3.ipynb", "'-2+3.ipynb"),
    ("-3.ipynb", "'-3.ipynb"),
    ("- a bullet", "'- a bullet"),
    ("-inf", "'-inf"),
    ("'=x", "''=x"),  # text that looks escaped gets one more quote: the round trip is exact
    ("'-", "''-"),
    ("'plain", "'plain"),  # no formula after the quote: as it is
    ("plain = text", "plain = text"),
    (" =1+1", " =1+1"),
    ("", ""),
    (None, ""),
    ("-3", "-3"),  # text that is a plain number (the writers' formatted numbers): a number, not a formula
    ("+3", "+3"),
    ("-1.5e-2", "-1.5e-2"),
    ("-.5", "-.5"),
    (-3, -3),  # numbers stay numbers
    (-1.5, -1.5),
    (0, 0),
    (2.0, 2.0),
])
def test_cell_escapes_formula_text_and_leaves_numbers(value, written):
    assert csvsafe.cell(value) == written
    if isinstance(written, str):
        assert csvsafe.unescape(written) == ("" if value is None else value)


def assert_no_formula(path: Path) -> list[list[str]]:
    """Every cell of ``path`` as a spreadsheet sees it: none that it would run."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    for row in rows:
        for value in row:
            assert not value.startswith(csvsafe.FORMULA_START) or PLAIN_NUMBER.fullmatch(value), (path.name, value)
    return rows


def test_the_writer_and_reader_round_trip_every_risky_text(tmp_path):
    path = tmp_path / "t.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csvsafe.writer(handle)
        out.writerow(["text", "n"])
        out.writerows([text, -i] for i, text in enumerate(RISKY))
    rows = assert_no_formula(path)
    assert [r[1] for r in rows[1:]] == [str(-i) for i in range(len(RISKY))]  # negative numbers as numbers
    with path.open(newline="", encoding="utf-8") as handle:
        header, read = csvsafe.read(handle)
    assert header == ["text", "n"] and [r["text"] for r in read] == RISKY


def test_report_and_merge_escape_file_names_and_detail_and_read_them_back(tmp_path):
    rows = [Row(file, "fail", -1.0, 3.0, "fx_rnn", "tiny", detail=detail, checks={"c1": -1.0, "c2": 0.5})
            for file, detail in zip(RISKY, reversed(RISKY))]
    write_report(rows, tmp_path / "a.csv", ["c1", "c2"])
    raw = assert_no_formula(tmp_path / "a.csv")
    assert raw[1][0] == "'" + CALC and raw[1][2] == "-1" and raw[1][-2:] == ["-1", "0.5"]
    read, checks = read_report(tmp_path / "a.csv")
    assert checks == ["c1", "c2"]
    assert [r["file"] for r in read] == RISKY and [r["detail"] for r in read] == list(reversed(RISKY))
    assert all(r["score"] == "-1" and r["c1"] == "-1" for r in read)
    write_report([Row("@b.ipynb", "pass", 2.0, 2.0, checks={"c3": 2.0})], tmp_path / "b.csv", ["c3"])
    assert merge_reports([tmp_path / "a.csv", tmp_path / "b.csv"], tmp_path / "m.csv") == len(RISKY) + 1
    assert_no_formula(tmp_path / "m.csv")
    merged, checks = read_report(tmp_path / "m.csv")
    assert checks == ["c1", "c2", "c3"] and sorted(r["file"] for r in merged) == sorted([*RISKY, "@b.ipynb"])
    assert next(r for r in merged if r["file"] == CALC)["detail"] == list(reversed(RISKY))[0]


def test_written_answers_round_trip(tmp_path):
    written = [answers.Answer(f"doe_1_{i}_{text}.ipynb" if i % 2 else text, "h", f"q{i}", "=prompt()", text)
               for i, text in enumerate(RISKY)]
    answers.write_csv(written, tmp_path / "r.answers.csv")
    raw = assert_no_formula(tmp_path / "r.answers.csv")
    assert raw[1] == ["'" + CALC, "h", "q0", "'=prompt()", "'" + CALC, ""]  # no variant
    assert answers.read_csv(tmp_path / "r.answers.csv") == written


def test_similarity_pairs_round_trip(tmp_path):
    pairs = [Pair(text, "b.ipynb", "prose", "-q", 0.5) for text in RISKY]
    write_pairs(pairs, tmp_path / "pairs.csv")
    assert_no_formula(tmp_path / "pairs.csv")
    read = read_pairs(tmp_path / "pairs.csv")
    assert [p["a"] for p in read] == RISKY and all(p["question"] == "-q" and p["score"] == 0.5 for p in read)


def test_profile_csvs_escape_names_and_keep_seconds(tmp_path):
    rows = [Row(CALC, "pass", handout="@h", profile={"total": 1.5, "cells": 0.25}, cell_seconds=[("=c1", 0.125)])]
    profile.write(rows, tmp_path / "profile.csv")
    raw = assert_no_formula(tmp_path / "profile.csv")
    assert raw[1][:3] == ["'" + CALC, "'@h", "pass"] and raw[1][-1] == "1.5"
    cells = assert_no_formula(tmp_path / "profile.cells.csv")
    assert cells[1] == ["'" + CALC, "'@h", "1", "'=c1", "0.125"]


def test_gradebook_and_canvas_escape_names_and_keep_negative_totals(tmp_path):
    report = tmp_path / "report.csv"
    files = ["=evil_101_1_hw.ipynb", "@mallory_102_2_-1+2.ipynb", "-3.ipynb", "+sum(a1).ipynb"]
    write_report([Row(f, "fail", -1.0 if i == 0 else 1.0, 2.0, "fx_rnn", checks={"c1": -1.0})
                  for i, f in enumerate(files)], report, ["c1"])
    rows, checks, written = gradebook.build(report, tmp_path / "none.sqlite", load(ROOT / DEFAULT_PATH))
    assert {r["student"] for r in rows} == {"=evil_101", "@mallory_102", "-3", "+sum(a1)"}
    gradebook.write(rows, checks, written, tmp_path / "gradebook.csv")
    raw = assert_no_formula(tmp_path / "gradebook.csv")
    evil = next(r for r in raw if r[0] == "'=evil_101")
    assert evil[1] == "101" and evil[2] == "'=evil_101_1_hw.ipynb"
    assert evil[raw[0].index("c1")] == "-1" and evil[raw[0].index("total")] == "-1"
    assert any(r[0] == "-3" for r in raw)  # a name that is a plain number: no formula, left as it is
    with (tmp_path / "gradebook.csv").open(newline="", encoding="utf-8") as handle:
        _, read = csvsafe.read(handle)
    assert sorted(r["files"] for r in read) == sorted(files)
    gradebook.write_canvas(rows, "=Assignment 3", tmp_path / "canvas.csv")
    canvas = assert_no_formula(tmp_path / "canvas.csv")
    assert canvas[0][-1] == "'=Assignment 3" and canvas[1] == ["Points Possible", "", "", "", "", "2"]
    assert sorted(canvas[2:]) == [["'=evil", "101", "", "", "", "-1"], ["'@mallory", "102", "", "", "", "1"]]
