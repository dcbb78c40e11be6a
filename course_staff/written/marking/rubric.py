"""Rubric items of the written answers, declared with the questions in ``answers/written_rubric.json``.

The file names each written blank by its cell id (the same id ``course_staff.written.answers``
collects it by) and gives its title and its items, in key order (key 1 is the first item)::

    {"default": 2, "questions": {"df663ae2": {"title": "Q2 1. the recurrence",
        "items": [{"id": "rec", "points": 1, "text": "h_t = x_t - h_{t-1}"}, {"points": -1, "text": "a bias"}]}}}

Marks are stored by each item's **id**, never by its position, so reordering the items in the file
moves no mark. An item's id is its ``"id"`` when it has one; otherwise one made from its text
(``t`` and 8 hex digits of the text's SHA-256): reordering keeps it, rewording it by hand does not, so
give an item an ``id`` before rewording it (the marking page writes ids for every item it edits, and
shows marks whose item is gone). A mark made by position before ids existed reads ``#N`` (item N,
counted from 0) until ``db.sync_rubric`` binds it to the id of the item at that position.

An answer's mark is the sum of the items applied to it, kept between 0 and the question's maximum
(the sum of its positive items). A blank the file does not name gets one item, "correct and
complete", worth ``default``. The marking page adds items and changes their points and text
(``add_item``, ``edit_item``): it rewrites the file in place (locked, atomically), so the gradebook and
the feedback read the same rubric, and a changed item changes the mark of every answer it is on.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PATH = Path("answers/written_rubric.json")
MAX_ITEMS = 9  # one key per item: 1..9
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,39}")  # never all digits: "#N" and bare numbers are positions


def variant_values(variant: str) -> dict[str, object]:
    """The numbers of the variants in a report's ``variant`` text (``"q2=7"``, several separated by spaces) that an
    item may name as ``{name}`` (``course_utils.variants``; plain numbers and words only); without one, those of
    variant 0 (what everyone has while variants are off)."""
    from course_utils import variants

    found: dict[str, object] = {}
    parts = str(variant or "").split()
    if not parts:  # graded without variants: every question's variant 0, the handout as it always was
        from course_utils import checks

        parts = [f"{prefix}=0" for prefix in checks.parts()]
    for part in parts:
        prefix, _, number = part.partition("=")
        try:
            numbers = variants.table(prefix)[int(number)]
        except (ValueError, IndexError):
            continue
        found.update({k: v for k, v in numbers.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)})
    return found


_NAMED = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def with_values(text: str, values: dict[str, object]) -> str:
    """An item's text with each ``{name}`` it holds replaced by that variant's number (unknown names stay as they
    are): one rubric names every student's own numbers, e.g. ``y_t = sigmoid({w_out} h_t)``."""
    return _NAMED.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), text)


def text_id(text: str) -> str:
    """The id of an item that has none in the file: ``t`` and 8 hex digits of its text's SHA-256."""
    return "t" + hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:8]


@dataclass(frozen=True)
class Item:
    """One rubric item: its points, what it rewards (or deducts), and its stable id (from the text if none)."""

    points: float
    text: str
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", text_id(self.text))


@dataclass(frozen=True)
class Question:
    """A written question's title and rubric items."""

    title: str
    items: tuple[Item, ...]

    @property
    def max_points(self) -> float:
        return sum(item.points for item in self.items if item.points > 0)

    def item(self, key: str | int) -> Item | None:
        """The item a stored mark names: an id, ``#N`` or an int N (position N, from 0); None if gone."""
        if isinstance(key, str) and key.startswith("#") and key[1:].isdigit():
            key = int(key[1:])
        if isinstance(key, int):
            return self.items[key] if 0 <= key < len(self.items) else None
        return next((item for item in self.items if item.id == key), None)

    def score(self, applied: Iterable[str | int]) -> float:
        """The mark for the items ``applied`` (ids, or positions as ``#N`` or ints), clipped to [0, max].
        Marks naming an item no longer in the rubric count nothing."""
        found = {item.id: item for item in (self.item(key) for key in applied) if item is not None}
        total = sum(item.points for item in found.values())
        return min(max(total, 0.0), self.max_points)


@dataclass(frozen=True)
class WrittenRubric:
    """Every written question's rubric, with the default for a blank it does not name, and its file."""

    questions: dict[str, Question]
    default: float = 2.0
    path: Path | None = field(default=None, compare=False)

    def question(self, cell_id: str) -> Question:
        return self.questions.get(cell_id) or Question(cell_id, (Item(self.default, "correct and complete"),))


def _parse(path: Path, data: dict) -> WrittenRubric:
    questions = {}
    for cell_id, entry in data.get("questions", {}).items():
        items = entry.get("items", [])
        if not items or len(items) > MAX_ITEMS:
            raise ValueError(f"{path}: question {cell_id!r} needs 1 to {MAX_ITEMS} items (one key each)")
        try:
            parsed = tuple(Item(float(item["points"]), str(item["text"]), str(item.get("id", ""))) for item in items)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: question {cell_id!r}: each item needs 'points' (a number) and 'text'") from exc
        ids = [item.id for item in parsed]
        bad = [i for i in ids if not _ID.fullmatch(i)]
        if bad or len(set(ids)) != len(ids):
            raise ValueError(f"{path}: question {cell_id!r}: item ids must be unique, start with a letter and have "
                             f"at most 40 letters, digits, '_', '.', '-' ({', '.join(bad) or 'a repeated id'})")
        questions[cell_id] = Question(str(entry.get("title", cell_id)), parsed)
    return WrittenRubric(questions, float(data.get("default", 2)), path)


def load(path: Path | None) -> WrittenRubric:
    """Read the written rubric (``None`` or a missing default file: every blank gets the default item).

    ValueError naming the question when an entry is malformed.
    """
    if path is None or not path.is_file():
        if path is not None and path != DEFAULT_PATH:
            raise ValueError(f"no written rubric {path}")
        return WrittenRubric({}, path=path)
    return _parse(path, json.loads(path.read_text(encoding="utf-8")))


def dumps(data: dict) -> str:
    """The rubric file's text in its hand-kept layout: one line per item, so an edit is a one-line diff."""
    out = ["{"]
    top = [k for k in data if k != "questions"]
    for key in top:
        out.append(f" {json.dumps(key)}: {json.dumps(data[key], ensure_ascii=False)},")
    out.append(' "questions": {')
    entries = list(data.get("questions", {}).items())
    for n, (cell_id, entry) in enumerate(entries):
        head = {k: v for k, v in entry.items() if k != "items"}
        fields = "".join(f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}, " for k, v in head.items())
        out.append(f"  {json.dumps(cell_id)}: {{{fields}\"items\": [")
        items = entry.get("items", [])
        for i, item in enumerate(items):
            out.append("   " + json.dumps(item, ensure_ascii=False) + ("," if i < len(items) - 1 else "]}")
                       + ("," if i == len(items) - 1 and n < len(entries) - 1 else ""))
    out.append(" }")
    out.append("}")
    return "\n".join(out) + "\n"


@contextmanager
def _editing(path: Path):
    """The file's JSON, to change in place; written back atomically, one editor at a time (a lock file
    beside it: two TAs' servers on one rubric never lose each other's edit)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"default": 2, "questions": {}}
        yield data
        _parse(path, data)  # never write a rubric that would not load
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(dumps(data))
        os.replace(temporary, path)


def _entry(data: dict, rubric: WrittenRubric, question: str) -> dict:
    """The question's entry in ``data``, made from the rubric's (default) items when it has none; every item
    given its id in writing, so that rewording it later by hand keeps its marks."""
    spec = rubric.question(question)
    entry = data["questions"].setdefault(question, {"title": spec.title, "items": [
        {"points": item.points, "text": item.text} for item in spec.items]})
    for item in entry["items"]:
        item.setdefault("id", text_id(str(item["text"])))
    return entry


def _number(points: float) -> float | int:
    return int(points) if float(points).is_integer() else float(points)


def add_item(path: Path, question: str, points: float, text: str) -> str:
    """Add an item to ``question`` in the rubric file at ``path`` (the next key); its new id."""
    text = " ".join(str(text).split())
    if not text:
        raise ValueError("an item needs a text")
    with _editing(path) as data:
        entry = _entry(data, _parse(path, data), question)
        if len(entry["items"]) >= MAX_ITEMS:
            raise ValueError(f"question {question!r} has {MAX_ITEMS} items already (one key each)")
        taken = {item["id"] for item in entry["items"]}
        new = text_id(text)
        while new in taken:  # the same text twice: a second id
            new = text_id(new + text)
        entry["items"].append({"id": new, "points": _number(points), "text": text})
    return new


def edit_item(path: Path, question: str, item_id: str, points: float | None = None, text: str | None = None) -> None:
    """Change the points and/or text of item ``item_id`` of ``question`` in the rubric file; every answer
    already marked with it takes the change (marks name the id). KeyError for an unknown id."""
    with _editing(path) as data:
        entry = _entry(data, _parse(path, data), question)
        item = next((i for i in entry["items"] if i["id"] == item_id), None)
        if item is None:
            raise KeyError(item_id)
        if points is not None:
            item["points"] = _number(points)
        if text is not None and " ".join(str(text).split()):
            item["text"] = " ".join(str(text).split())
