"""The answer key, one module per question: ``course_staff/keys/<prefix>.py`` for the checks ``<prefix>.*``.

Each module is the staff side of ``course_utils/<prefix>/`` (the question's demo and public checks) and may
define:

- ``JUDGES: dict[str, Judge]``: the grader's judge of each function check (hidden cases, oracle, mistakes;
  ``course_staff.judging``);
- ``answers(tiny) -> {check id: value}``: each hash-checked answer in tiny or full mode;
- ``mistakes(tiny, answers) -> {check id: [(wrong value, hint), ...]}``: their known mistakes.

Nothing lists the questions: a module here is found by its name, and its checks by their prefix.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Any


def modules() -> dict[str, ModuleType]:
    """Every question's key module by its prefix (``"q2"``, ``"lab"``), imported."""
    return {info.name: importlib.import_module(f"{__name__}.{info.name}")
            for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")}


def solutions(tiny: bool) -> dict[str, Any]:
    """Every hash-checked answer for tiny or full mode, by check id."""
    found: dict[str, Any] = {}
    for module in modules().values():
        if hasattr(module, "answers"):
            found.update(module.answers(tiny))
    return found


def mistakes(tiny: bool, answers: dict[str, Any]) -> dict[str, list[tuple[Any, str]]]:
    """Every hash-checked answer's known mistakes for tiny or full mode, by check id (``answers``: ``solutions``)."""
    found: dict[str, list[tuple[Any, str]]] = {}
    for module in modules().values():
        if hasattr(module, "mistakes"):
            found.update(module.mistakes(tiny, answers))
    return found
