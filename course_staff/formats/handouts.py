"""The handouts a grader grades against, and matching a submission to one by its content.

A handout (``notebooks/NN_name.ipynb``) tells the grader, by cell id (nbformat 4.5 ``id``):

- which cells are **locked**: code cells tagged ``check`` (self-checks, which only call
  ``check("id", value)``) and any cell tagged ``locked``; the grader restores them before running;
- which **check ids** a submission can earn points for (the ``check(...)`` calls in check cells);
- which answer cells are compared (``# NBVAL_CHECK_OUTPUT``) and which of those depend on the mode
  (tagged ``mode-dependent``: vocabulary, split sizes, counts, training numbers, timings);
- where the **written answers** go: the *YOUR ANSWER HERE* blanks, each after its prompt.

A submission names its handout in the notebook metadata (``course.handout``); when that is missing
(or names no handout) the handout sharing the most cell ids wins. The file name is never used.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_staff.authoring.markers import ANSWER_PLACEHOLDER

CHECK_TAG = "check"
LOCKED_TAG = "locked"
MODE_TAG = "mode-dependent"
#: Cells every handout has (generated header and setup): they say nothing about which handout it is.
SHARED_IDS = frozenset({"course-generated", "course-setup"})
#: Share of a handout's own cells a submission must keep (by id or source) to match it without metadata.
MIN_ID_OVERLAP = 0.5
CHECK_LINE = re.compile(r"^\s*#+\s*NBVAL_CHECK_OUTPUT\s*$", re.MULTILINE)
BLANK = f"**{ANSWER_PLACEHOLDER}**"


@dataclass(frozen=True)
class CheckCall:
    """One ``check("question", expression)`` call of a check cell, as source text."""

    question: str
    expression: str


@dataclass
class Handout:
    """What the grader needs from one handout; every cell is referred to by its id."""

    name: str
    nb: nbformat.NotebookNode
    locked: dict[str, nbformat.NotebookNode] = field(default_factory=dict)  # id -> handout cell
    calls: dict[str, list[CheckCall]] = field(default_factory=dict)  # check cell id -> its calls
    compared: set[str] = field(default_factory=set)  # ids of '# NBVAL_CHECK_OUTPUT' code cells
    mode_dependent: set[str] = field(default_factory=set)
    blanks: dict[str, str] = field(default_factory=dict)  # written-answer cell id -> its prompt

    @property
    def check_ids(self) -> list[str]:
        """Question ids checked by this handout, in notebook order, each once."""
        return list(dict.fromkeys(call.question for calls in self.calls.values() for call in calls))

    @property
    def order(self) -> list[str]:
        """Every cell id, in notebook order."""
        return [cell.get("id", "") for cell in self.nb.cells]


def read_notebook(text: str) -> nbformat.NotebookNode:
    """Parse notebook JSON text (version 4); ValueError saying why if it is not one. The reason never quotes
    the text (nbformat's own messages do: a submitted link to ``/etc/shadow`` would reach the report)."""
    try:
        json.loads(text)
    except ValueError as exc:
        where = f", line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise ValueError(f"not JSON ({reason}{where})") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # schema notes (e.g. missing ids) on otherwise fine files
            return nbformat.reads(text, as_version=4)
    except Exception as exc:  # structure and version errors alike
        raise ValueError(f"JSON, but not a Jupyter notebook nbformat can read ({type(exc).__name__})") from None


def tags(cell: nbformat.NotebookNode) -> list[str]:
    """The cell's tags (a malformed tags entry counts as none)."""
    found = cell.get("metadata", {}).get("tags", [])
    return [t for t in found if isinstance(t, str)] if isinstance(found, list) else []


def check_calls(source: str) -> list[CheckCall]:
    """The ``check("id", expr)`` calls in a check cell's source; ValueError if it cannot be parsed."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ValueError(f"check cell is not valid Python: {exc}") from exc
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or len(node.args) != 2:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        question = node.args[0]
        if name == "check" and isinstance(question, ast.Constant) and isinstance(question.value, str):
            calls.append(((node.lineno, node.col_offset),
                          CheckCall(question.value, ast.get_source_segment(source, node.args[1]))))
    return [call for _, call in sorted(calls, key=lambda pair: pair[0])]


def load_handout(path: Path) -> Handout:
    """Read one handout; ValueError naming the file and cell if it cannot serve for grading."""
    nb = read_notebook(path.read_text(encoding="utf-8"))
    name = nb.metadata.get("course", {}).get("handout") or path.stem
    handout = Handout(name=name, nb=nb)
    previous_markdown = ""
    for index, cell in enumerate(nb.cells):
        cell_id, cell_tags = cell.get("id"), tags(cell)
        where = f"{path.name}, cell {index + 1}"
        if not cell_id:
            raise ValueError(f"{where} has no cell id: regenerate the handouts with course-utils keys (nbformat 4.5)")
        if LOCKED_TAG in cell_tags or (CHECK_TAG in cell_tags and cell.cell_type == "code"):
            handout.locked[cell_id] = cell
        if CHECK_TAG in cell_tags and cell.cell_type == "code":
            calls = check_calls(cell.source)
            if not calls:
                raise ValueError(f"{where} is tagged '{CHECK_TAG}' but calls no check(\"id\", value)")
            handout.calls[cell_id] = calls
        if cell.cell_type == "code" and CHECK_LINE.search(cell.source):
            handout.compared.add(cell_id)
            if MODE_TAG in cell_tags:
                handout.mode_dependent.add(cell_id)
        if cell.cell_type == "markdown":
            if cell.source.strip() == BLANK:
                handout.blanks[cell_id] = previous_markdown
            else:
                previous_markdown = cell.source
    return handout


def load_handouts(folder: Path) -> dict[str, Handout]:
    """Every ``folder/*.ipynb`` handout by name; ValueError for a bad file or a repeated name."""
    handouts: dict[str, Handout] = {}
    for path in sorted(folder.glob("*.ipynb")):
        handout = load_handout(path)
        if handout.name in handouts:
            raise ValueError(f"two handouts are named {handout.name!r} (the second is {path.name})")
        handouts[handout.name] = handout
    if not handouts:
        raise ValueError(f"no *.ipynb handouts in {folder}")
    return handouts


def match(nb: nbformat.NotebookNode, handouts: dict[str, Handout]) -> tuple[Handout | None, str]:
    """The handout a submission answers, and how it was found (for the report).

    By ``metadata.course.handout`` first; else the handout whose own cells (header and setup aside)
    the submission keeps the largest share of, by cell id or, for editors that drop ids, by identical
    source; at least ``MIN_ID_OVERLAP``, and no tie.
    """
    course = nb.metadata.get("course", {})
    named = course.get("handout") if isinstance(course, dict) else None
    if named in handouts:
        return handouts[named], "metadata"
    ids = {cell.get("id") for cell in nb.cells}
    sources = {cell.source for cell in nb.cells}
    shares = {}
    for name, handout in handouts.items():
        own = [cell for cell in handout.nb.cells if cell.get("id") not in SHARED_IDS]
        by_id = sum(cell.id in ids for cell in own)
        by_source = sum(cell.source in sources for cell in own if cell.source.strip() != BLANK)
        shares[name] = max(by_id, by_source) / len(own) if own else 0.0
    best = max(shares, key=shares.get)
    ranked = sorted(shares.values(), reverse=True)
    if shares[best] < MIN_ID_OVERLAP or (len(ranked) > 1 and ranked[0] == ranked[1]):
        return None, f"matches no handout (metadata course.handout={named!r}; best share of its cells {shares[best]:.0%})"
    return handouts[best], f"cells ({shares[best]:.0%})"


def filled_from_master(handout: Handout, master: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """What an honest submission looks like: the handout with each cell the master has (same id) taken
    from the master, outputs included (the master's mode). Solution markers are left as comments."""
    by_id = {cell.get("id"): cell for cell in master.cells}
    nb = nbformat.from_dict(nbformat.v4.new_notebook(metadata=dict(handout.nb.metadata)))
    nb.cells = [nbformat.from_dict(dict(by_id.get(cell.get("id"), cell))) for cell in handout.nb.cells]
    for cell, original in zip(nb.cells, handout.nb.cells):
        cell.metadata = dict(original.metadata)  # the handout's tags (a master's 'solution' tag is not a student's)
    return nb
