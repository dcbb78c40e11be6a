"""Points per check id (the rubric) and a submission's score from the verdicts its kernel reported.

The rubric is one JSON file beside the masters (``answers/rubric.json``)::

    {"default": 1, "points": {"q2.final_hidden": 2, "lab.binary_accuracy": 2}}

A check id it does not name is worth ``default`` points. A check earns its points when the grader's
cell after the restored check cell reported it (the check cell ran) and the grader's re-verification
of the value, with the package's own functions put back if student code had replaced them, says
correct (``kernel.py``). A recorded verdict (``verdicts()``) that disagrees is reported as tampering.
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


def score(check_ids: list[str], records: list[dict], rubric: Rubric) -> Score:
    """Score one submission.

    check_ids: its handout's check ids. records: the grader cells' JSON records in run order
    (``{"cell", "checks": {id: {"recorded", "verified", "error"}}, "replaced"}``; None where a
    grader cell printed something else).
    """
    result = Score({q: 0.0 for q in check_ids}, {q: rubric.of(q) for q in check_ids})
    reported: dict[str, dict] = {}
    for record in records:
        if record is None:
            result.notes.append("a grader cell's output was tampered with (its checks score 0)")
            continue
        if record.get("replaced"):
            result.notes.append(f"check functions replaced before {record.get('cell', 'the end')}: "
                                f"{', '.join(record['replaced'])}")
        for question, verdict in record.get("checks", {}).items():
            reported[question] = verdict
    for question in check_ids:
        verdict = reported.get(question)
        if verdict is None:
            result.notes.append(f"{question}: check cell did not run")
        else:
            if verdict["verified"]:
                result.points[question] = result.max_points[question]
            if bool(verdict["recorded"]) != verdict["verified"]:
                result.notes.append(f"{question}: recorded verdict {verdict['recorded']} but re-verified "
                                    f"{verdict['verified']} (check tampered with?)")
    return result
