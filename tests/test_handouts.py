"""The committed student handouts: valid notebooks, one per master, with no solution in them."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from course_staff.authoring.markers import BEGIN, END, SOLUTION_TAG

ROOT = Path(__file__).resolve().parents[1]
MASTERS = sorted((ROOT / "answers").glob("[0-9][0-9]_*.ipynb"))


def test_every_master_has_exactly_one_handout():
    handouts = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert MASTERS, "no masters in answers/"
    assert handouts == [p.name for p in MASTERS]


def solution_lines(master: nbformat.NotebookNode) -> set[str]:
    """The non-trivial lines that a master hides from students (block bodies and tagged markdown)."""
    hidden: set[str] = set()
    for cell in master.cells:
        if cell.cell_type == "markdown" and SOLUTION_TAG in cell.metadata.get("tags", []):
            hidden |= {line.strip() for line in cell.source.splitlines()}
        elif cell.cell_type == "code":
            inside = False
            for line in cell.source.splitlines():
                if line.strip() in (BEGIN, END):
                    inside = line.strip() == BEGIN
                elif inside:
                    hidden.add(line.strip())
    return {line for line in hidden if len(line) > 12}  # short lines (`return x`) may legitimately recur


@pytest.mark.parametrize("master_path", MASTERS, ids=lambda p: p.stem)
def test_handout_is_valid_and_holds_no_solution(master_path):
    handout_path = ROOT / "notebooks" / master_path.name
    handout = nbformat.read(handout_path, as_version=4)
    nbformat.validate(handout)
    text = handout_path.read_text()
    assert "SOLUTION" not in text and f'"{SOLUTION_TAG}"' not in text
    for cell in handout.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    leaked = [line for line in solution_lines(nbformat.read(master_path, as_version=4)) if line in text]
    assert not leaked, f"solution lines in {handout_path.name}: {leaked}"
