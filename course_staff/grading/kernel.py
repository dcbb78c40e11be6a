"""The grader's side inside a submission's kernel: collect each check's verdict, re-verified.

The grader inserts three kinds of cells into its scratch copy of a submission:

1. before every other cell: ``G = Guard()``, which imports ``course_utils.checks`` and keeps the
   functions it finds (``verify``, ``verdicts``, every function of every ``course_utils.checks*``
   module) and ``hashlib.pbkdf2_hmac``, before any student code has run;
2. after every restored check cell: ``G.after_check(cell_id, {question: lambda: value, ...})``,
   which lists any kept function that student code has replaced since (and puts it back), reads the
   verdict the check recorded (``verdicts()``) and verifies the same value again with the kept ``verify``;
3. at the end: ``G.finish()``, the same integrity list and the final ``verdicts()``.

Each prints exactly one JSON line through the ``sys.stdout`` kept at start; the grader reads it from
that cell's outputs (never from text a student cell prints). A check's points follow the
re-verification; a recorded verdict that disagrees with it, or a replaced function, is reported.

Limit: this runs in the same process as the student's code. It defeats re-bound names, a patched
``check``/``verify``/``verdicts`` and writes into the verdict store; code written against the grader
itself (patching this module's objects, ``json``, the registry file where it is writable) can still
fool it. The container recipe (read-only package) and the grader's source scan (``scan.py``) are
the other layers; a flagged row is for a person to read.
"""

from __future__ import annotations

import hashlib
import json
import sys
import types
from typing import Any, Callable


class Guard:
    """Kept references to the check functions, taken before any student code runs."""

    def __init__(self) -> None:
        import course_utils.checks as checks

        self._verify = checks.verify
        self._verdicts = getattr(checks, "verdicts", None)
        self._out = sys.stdout
        self._dumps = json.dumps
        self._pbkdf2 = hashlib.pbkdf2_hmac
        self._modules = {name: module for name, module in sys.modules.items()
                         if name == "course_utils.checks" or name.startswith("course_utils.checks.")}
        self._functions = {(name, attr): (value, getattr(value, "__code__", None))
                           for name, module in self._modules.items()
                           for attr, value in vars(module).items()
                           if isinstance(value, (types.FunctionType, type))}

    def replaced(self) -> list[str]:
        """Kept objects that are no longer what they were at start, as dotted names."""
        found = [f"sys.modules[{name!r}]" for name, module in self._modules.items()
                 if sys.modules.get(name) is not module]
        for (name, attr), (value, code) in self._functions.items():
            now = vars(self._modules[name]).get(attr)
            if now is not value or getattr(now, "__code__", None) is not code:
                found.append(f"{name}.{attr}")
        if hashlib.pbkdf2_hmac is not self._pbkdf2:
            found.append("hashlib.pbkdf2_hmac")
        return found

    def restore(self) -> None:
        """Put every kept object back where it was found, so that re-verification is the package's own."""
        for name, module in self._modules.items():
            sys.modules[name] = module
        for (name, attr), (value, code) in self._functions.items():
            setattr(self._modules[name], attr, value)
            if code is not None and value.__code__ is not code:
                value.__code__ = code
        hashlib.pbkdf2_hmac = self._pbkdf2

    def after_check(self, cell_id: str, values: dict[str, Callable[[], Any]]) -> None:
        """Print the verdicts of one check cell as one JSON line: question -> {recorded, verified, error}.

        values: question id -> a function returning the value the check cell passed (re-evaluated
        here, right after the cell, in the notebook's namespace).
        """
        replaced = self.replaced()
        if replaced:
            self.restore()
        recorded = self._recorded()
        checks = {}
        for question, get in values.items():
            try:
                ok, error = bool(self._verify(question, get()).ok), ""
            except BaseException as exc:  # noqa: BLE001 - a missing name, a raising value: not correct
                ok, error = False, f"{type(exc).__name__}: {exc}"[:200]
            checks[question] = {"recorded": recorded.get(question), "verified": ok, "error": error}
        self._emit({"cell": cell_id, "checks": checks, "replaced": replaced})

    def finish(self) -> None:
        """Print the end state as one JSON line: every recorded verdict and the integrity list."""
        self._emit({"final": True, "verdicts": self._recorded(), "replaced": self.replaced()})

    def _recorded(self) -> dict[str, bool]:
        if self._verdicts is None:
            return {}
        try:
            return {str(k): bool(v) for k, v in dict(self._verdicts()).items()}
        except Exception:  # noqa: BLE001 - a broken store: nothing recorded
            return {}

    def _emit(self, record: dict) -> None:
        self._out.write(self._dumps(record) + "\n")
        self._out.flush()
