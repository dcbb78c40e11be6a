"""Points per check id (the rubric) and a submission's score from the grader's own judgements.

The rubric is one JSON file beside the masters (``answers/rubric.json``)::

    {"default": 1, "points": {"q2.final_hidden": 2, "lab.binary_accuracy": 2}}

A check id it does not name is worth ``default`` points. A check earns its points when the grader,
in its own process, judged the value the kernel handed back right (``judge.py``): the kernel's own
verdicts (what ``check`` printed) are the student's feedback and count for nothing here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Rubric:
    """Points per check id; ``default`` for the ids it does not name."""

    points: dict[str, float] = field(default_factory=dict)
    default: float = 1.0

    def of(self, question: str) -> float:
        """Points for ``question``."""
        return float(self.points.get(question, self.default))


def load_rubric(path: Path | None) -> Rubric:
    """Read a rubric file (None: every check worth 1); ValueError with the fix if it is malformed."""
    if path is None:
        return Rubric()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the rubric {path}: {exc}") from exc
    points, default = data.get("points", {}), data.get("default", 1)
    numbers = [default, *points.values()] if isinstance(points, dict) else []
    if not numbers or any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 for v in numbers):
        raise ValueError(f"{path}: expected {{\"default\": N, \"points\": {{\"check.id\": N, ...}}}} "
                         "with numbers >= 0")
    return Rubric({str(k): float(v) for k, v in points.items()}, float(default))


@dataclass
class Score:
    """Points per check id of one submission, and why any check lost its points."""

    points: dict[str, float]
    max_points: dict[str, float]
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(self.points.values())

    @property
    def maximum(self) -> float:
        return sum(self.max_points.values())


def score(check_ids: list[str], results: dict[str, tuple[bool, str]], rubric: Rubric) -> Score:
    """Score one submission.

    check_ids: its handout's check ids. results: (ok, detail) per check id, as ``judge.judge_run``
    gives them; a check without a result earns nothing. A wrong plain answer gets no note; a check
    that did not run, could not be read or failed a hidden case is named with why.
    """
    result = Score({q: 0.0 for q in check_ids}, {q: rubric.of(q) for q in check_ids})
    for question in check_ids:
        ok, detail = results.get(question, (False, "check cell did not run"))
        if ok:
            result.points[question] = result.max_points[question]
        elif detail:
            result.notes.append(f"{question}: {detail}")
    return result
