"""Rubric items of the written answers, declared with the questions in ``answers/written_rubric.json``.

The file names each written blank by its cell id (the same id ``course_staff.grading.answers``
collects it by) and gives its title and its items, in key order (key 1 is the first item)::

    {"default": 2, "questions": {"df663ae2": {"title": "Q2 1. the recurrence",
        "items": [{"points": 1, "text": "h_t = x_t - h_{t-1}"}, {"points": -1, "text": "a bias"}]}}}

An answer's mark is the sum of the items applied to it, kept between 0 and the question's maximum
(the sum of its positive items). A blank the file does not name gets one item, "correct and
complete", worth ``default``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PATH = Path("answers/written_rubric.json")
MAX_ITEMS = 9  # one key per item: 1..9


@dataclass(frozen=True)
class Item:
    """One rubric item: what it rewards (or deducts) and its points."""

    points: float
    text: str


@dataclass(frozen=True)
class Question:
    """A written question's title and rubric items."""

    title: str
    items: tuple[Item, ...]

    @property
    def max_points(self) -> float:
        return sum(item.points for item in self.items if item.points > 0)

    def score(self, applied: set[int]) -> float:
        """The mark for the items ``applied`` (indices into ``items``), clipped to [0, max]."""
        total = sum(self.items[i].points for i in applied if 0 <= i < len(self.items))
        return min(max(total, 0.0), self.max_points)


@dataclass(frozen=True)
class WrittenRubric:
    """Every written question's rubric, with the default for a blank it does not name."""

    questions: dict[str, Question]
    default: float = 2.0

    def question(self, cell_id: str) -> Question:
        return self.questions.get(cell_id) or Question(cell_id, (Item(self.default, "correct and complete"),))


def load(path: Path | None) -> WrittenRubric:
    """Read the written rubric (``None`` or a missing default file: every blank gets the default item).

    ValueError naming the question when an entry is malformed.
    """
    if path is None or not path.is_file():
        if path is not None and path != DEFAULT_PATH:
            raise ValueError(f"no written rubric {path}")
        return WrittenRubric({})
    data = json.loads(path.read_text(encoding="utf-8"))
    questions = {}
    for cell_id, entry in data.get("questions", {}).items():
        items = entry.get("items", [])
        if not items or len(items) > MAX_ITEMS:
            raise ValueError(f"{path}: question {cell_id!r} needs 1 to {MAX_ITEMS} items (one key each)")
        try:
            parsed = tuple(Item(float(item["points"]), str(item["text"])) for item in items)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: question {cell_id!r}: each item needs 'points' (a number) and 'text'") from exc
        questions[cell_id] = Question(str(entry.get("title", cell_id)), parsed)
    return WrittenRubric(questions, float(data.get("default", 2)))
