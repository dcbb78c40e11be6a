"""Whose submission is this: the id a notebook is graded as when per-student variants are on.

Three sources, cross-checked (``identify``):

1. the Canvas download name, ``name_<user id>_<upload id>_...`` (``late_`` allowed): the Canvas user id;
2. a roster (``course-utils grade --roster FILE``): a CSV with a column ``id`` (Canvas's own gradebook export
   qualifies: its ``ID`` column is the Canvas user id) and, optionally, ``file``: a submission file name that
   belongs to that id (for downloads not named by Canvas);
3. the notebook's id cell: the literal the student typed in ``STUDENT_ID = "..."`` (read as data with ``ast``;
   nothing of the notebook runs here).

The id from the file name or the roster wins: the notebook is run and judged as that student's variant
whatever its id cell says, and an id cell that disagrees is flagged in the row. Without either, the id cell is
all there is; with a roster, an id cell that is not on it is flagged too.
"""

from __future__ import annotations

import ast
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_utils import variants

CANVAS_NAME = re.compile(r"^(?P<name>[^_]+)_(?:late_)?(?P<id>\d+)_(?P<upload>\d+)_", re.IGNORECASE)
MAX_ROSTER_BYTES = 16 * 2 ** 20


class RosterError(ValueError):
    """A roster file that cannot be used; the message names the fix."""


@dataclass(frozen=True)
class Roster:
    """The ids of a class, and which submission files belong to whom."""

    ids: frozenset[str] = frozenset()
    files: dict[str, str] = field(default_factory=dict)  # file name -> id


@dataclass(frozen=True)
class Identity:
    """Who a notebook is graded as."""

    student: str  # the id it is run and judged as ("" when none is known: variant 0)
    source: str  # "canvas name", "roster", "id cell" or ""
    cell: str  # what its id cell says ("" when empty, absent or not a literal)
    note: str = ""  # the row's flag: an id cell that disagrees, or is not on the roster


def load_roster(path: Path) -> Roster:
    """The roster in ``path`` (see the module docstring). Raises :class:`RosterError`."""
    try:
        data = path.read_bytes()[:MAX_ROSTER_BYTES + 1]
    except OSError as exc:
        raise RosterError(f"--roster {path}: cannot be read ({exc.strerror})") from None
    if len(data) > MAX_ROSTER_BYTES:
        raise RosterError(f"--roster {path}: larger than {MAX_ROSTER_BYTES // 2 ** 20} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RosterError(f"--roster {path}: not UTF-8 text: save it as CSV (UTF-8)") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise RosterError(f"--roster {path}: empty: it needs a header with a column 'id'")
    header = [h.strip().lower() for h in rows[0]]
    if "id" not in header:
        raise RosterError(f"--roster {path}: no column 'id' in its header ({', '.join(rows[0]) or 'none'}): name the "
                          "column of course ids 'id' (Canvas's gradebook export has one)")
    at, file_at = header.index("id"), header.index("file") if "file" in header else None
    ids: set[str] = set()
    files: dict[str, str] = {}
    for number, row in enumerate(rows[1:], start=2):
        raw = row[at].strip() if at < len(row) else ""
        if not raw or "points possible" in " ".join(row).lower():  # Canvas's second line
            continue
        try:
            student = variants.normalise_id(raw)
        except variants.VariantError:
            raise RosterError(f"--roster {path}: line {number}: {raw!r} is not a course id") from None
        ids.add(student)
        if file_at is not None and file_at < len(row) and row[file_at].strip():
            files[row[file_at].strip()] = student
    return Roster(frozenset(ids), files)


def id_cell(nb: nbformat.NotebookNode) -> str:
    """What the notebook's ``STUDENT_ID = ...`` says (the first code cell that assigns it a literal), normalised;
    ``""`` when there is none, it is empty, or it is not a literal id."""
    for cell in nb.cells:
        if cell.get("cell_type") != "code" or "STUDENT_ID" not in str(cell.get("source", "")):
            continue
        try:
            tree = ast.parse(str(cell.source))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "STUDENT_ID" for t in node.targets):
                try:
                    return variants.normalise_id(ast.literal_eval(node.value))
                except (ValueError, TypeError, SyntaxError, RecursionError, variants.VariantError):
                    return ""
    return ""


def canvas_id(file_name: str) -> str:
    """The Canvas user id in a Canvas download name (``doe_123_456_hw3.ipynb`` -> ``"123"``), else ``""``."""
    found = CANVAS_NAME.match(file_name)
    return found.group("id") if found else ""


def identify(file_name: str, nb: nbformat.NotebookNode, roster: Roster | None = None) -> Identity:
    """Who ``file_name`` (with notebook ``nb``) is graded as, and the flag for its row (module docstring)."""
    cell = id_cell(nb)
    official, source = "", ""
    if roster is not None and file_name in roster.files:
        official, source = roster.files[file_name], "roster"
    elif canvas_id(file_name):
        official, source = canvas_id(file_name), "canvas name"
    if official:
        note = ""
        if cell and cell != official:
            note = f"the id cell says {cell!r}, the {source} says {official!r}: graded as {official!r}"
        elif roster is not None and roster.ids and official not in roster.ids:
            note = f"{official!r} (from the {source}) is not on the roster"
        return Identity(official, source, cell, note)
    if not cell:
        return Identity("", "", "", "no id: the id cell is empty and the file name names no student (variant 0)")
    note = f"the id cell's {cell!r} is not on the roster" if roster is not None and roster.ids and cell not in roster.ids else ""
    return Identity(cell, "id cell", cell, note)
