"""The answer key, one module per question: ``course_staff/keys/<prefix>.py`` for the checks ``<prefix>.*``.

Each module is the staff side of ``course_utils/<prefix>/`` (the question's demo and public checks) and may
define:

- ``JUDGES: dict[str, Judge]``: the grader's judge of each function check (hidden cases, oracle, mistakes;
  ``course_staff.judging``);
- ``answers(tiny) -> {check id: value}``: each hash-checked answer in tiny or full mode;
- ``mistakes(tiny, answers) -> {check id: [(wrong value, hint), ...]}``: their known mistakes;
- ``premise() -> (ok, why not)``: what the question's lesson rests on, as code (Q3: each token's score with
  itself exceeds its scores with the others), checked before any key or registry is made (:func:`premises`).

Nothing lists the questions: a module here is found by its name, and its checks by their prefix.
``Judge`` and ``close`` (how a function check is judged) live here, below the key modules that use them;
``course_staff.judging`` applies them for the grader.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable


def close(got: Any, want: Any, case: Any = None, rtol: float = 1e-6, atol: float = 1e-9) -> tuple[bool, str]:
    """(ok, detail): the same nesting, ints and texts equal, floats within ``rtol``/``atol``."""
    if isinstance(want, (list, tuple)):
        if not isinstance(got, (list, tuple)) or len(got) != len(want):
            return False, "the output's shape differs. "
        for g, w in zip(got, want):
            ok, detail = close(g, w, case, rtol, atol)
            if not ok:
                return ok, detail
        return True, ""
    if isinstance(want, bool) or want is None or isinstance(want, str):
        return (got == want and type(got) is type(want)), "a value differs. "
    if isinstance(want, (int, float)):
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return False, "a value is not a number. "
        if isinstance(want, float) and math.isnan(want):
            return isinstance(got, float) and math.isnan(got), "a value differs. "
        ok = math.isfinite(got) and abs(got - want) <= atol + rtol * abs(want)
        return ok, "a value differs. "
    return got == want, "a value differs. "


@dataclass(frozen=True)
class Judge:
    """How the grader judges one function check (see the module's docstring)."""

    cases: Callable[[random.Random], list]
    oracle: Callable[[Any], Any]
    compare: Callable[[Any, Any, Any], tuple[bool, str]] = close
    mistakes: tuple[tuple[Callable[[Any], Any], str], ...] = field(default=())
    also_right: tuple[Callable[[Any], Any], ...] = field(default=())


def modules() -> dict[str, ModuleType]:
    """Every question's key module by its prefix (``"q2"``, ``"lab"``), imported."""
    return {info.name: importlib.import_module(f"{__name__}.{info.name}")
            for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")}


class PremiseBroken(ValueError):
    """A question's numbers no longer support its lesson (``premise()`` of its key module said why)."""


def premises(only: str | None = None, variant: int | None = None) -> None:
    """Check every question's premise (or question ``only``'s) in the variant this process is in; raise
    :class:`PremiseBroken` naming the question, the variant and why."""
    from course_utils import variants

    for prefix, module in modules().items():
        if only is not None and prefix != only:
            continue
        ok, why = module.premise() if hasattr(module, "premise") else (True, "")
        if not ok:
            number = variants.number(prefix) if variant is None else variant
            where = f" (variant {number})" if number else ""
            raise PremiseBroken(f"{prefix}{where}: the question's premise fails: {why}")


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
