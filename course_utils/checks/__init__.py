"""Self-checks for students: ``check("q3.norms", norms)`` says right or wrong, never the answer.

Every check prints exactly one line:

- ``"<id>: correct."``
- ``"<id>: not yet. Hint: ..."`` (the hint helps without giving the answer away)
- ``"<id>: no answer yet: ..."`` (the blank still holds ``...``)

and records its verdict in the kernel (``verdicts()``), where the grader reads it.

A question's :class:`Spec` is one of two kinds:

- *hash*: the answer is reduced to canonical text (ints as digits, floats rounded to the decimals
  the prompt states, an expression by its exact values at fixed points, a function by its result
  on fixed inputs) and compared with a salted, slow hash (PBKDF2-SHA256) in
  ``course_utils/data/checks.json``. Floats pass within one unit of the stated last decimal.
- *judge*: a function (``Spec.judge``) runs the student's value, usually a function, on inputs
  chosen to separate right from wrong and compares it with the package's own reference.

Specs live in one module per part (``q2.py``, ``q3.py``, ``lab.py``, ...) and are registered with
:func:`register` when the part is first needed. The registry holds no answer in plain text; it is
built by instructor code (``python -m course_staff.registry --write``) that is not part of
the student release.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from course_utils import mode
from course_utils.checks import _forms

#: The modules that register each question's checks, one per question (its folder holds its demo too).
PARTS = ("course_utils.q1.checks", "course_utils.q2.checks", "course_utils.q3.checks", "course_utils.sentiment.checks")
REGISTRY = Path(__file__).resolve().parents[1] / "data" / "checks.json"
ITERATIONS = 20_000
NO_ANSWER = "replace the ... above with your answer, then run this cell again."

_SPECS: dict[str, Spec] = {}
_VERDICTS: dict[str, bool] = {}
_parts_loaded = False


class NoAnswer(Exception):
    """Raised by a judge when the blank is still empty (e.g. a function whose body is ``...``)."""


@dataclass(frozen=True)
class Spec:
    """How one question is checked.

    kind: "int", "ints", "float", "floats", "mapping", "expr", "rate", "tokens" (hash kinds, read
    by ``_forms``), "custom" (hash of ``forms(value)``) or "judge" (``judge(value)`` decides).
    hint: shown with every "not yet"; it must not state the answer.
    precision: decimals the prompt asks for (float kinds and "rate").
    n_vars: "expr" only, the number of inputs x_1..x_n.
    forms: "custom" only, value -> canonical texts per entry (each entry's first text is the one hashed).
    judge: "judge" only, value -> (ok, detail); ``detail`` is a hint for a wrong answer. It may
    raise :class:`NoAnswer`; any other exception is reported to the student as "not yet".
    """

    kind: str
    hint: str
    precision: int = 0
    n_vars: int = 0
    forms: Callable[[Any], list[list[str]]] | None = None
    judge: Callable[[Any], tuple[bool, str]] | None = None

    @property
    def hashed(self) -> bool:
        """True when the answer is compared with the registry (every kind but "judge")."""
        return self.kind != "judge"


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one check: ``ok`` and the message printed to the student."""

    ok: bool
    message: str


def register(question: str, spec: Spec) -> None:
    """Add ``question`` (e.g. ``"q3.norms"``) to the known checks.

    An id belongs to one spec: registering it again is allowed only with the same kind, hint and
    precision (a reloaded part module), and replaces the old spec.
    """
    if (spec.kind == "judge") != (spec.judge is not None) or (spec.kind == "custom") != (spec.forms is not None):
        raise ValueError(f"{question}: a 'judge' spec needs judge=, a 'custom' spec needs forms=, others neither")
    old = _SPECS.get(question)
    if old is not None and (old.kind, old.hint, old.precision, old.n_vars) != (spec.kind, spec.hint, spec.precision,
                                                                              spec.n_vars):
        raise ValueError(f"check {question!r} is registered twice, with different specs")
    _SPECS[question] = spec


def specs() -> dict[str, Spec]:
    """Every registered check by id, after importing the part modules of this package."""
    global _parts_loaded
    if not _parts_loaded:
        for part in PARTS:
            importlib.import_module(part)
        _parts_loaded = True
    return dict(_SPECS)


def check(question: str, value: Any) -> None:
    """Print whether ``value`` answers ``question``, with a hint if not, and record the verdict."""
    result = verify(question, value)
    _VERDICTS[question] = result.ok
    print(result.message)


def verdicts() -> dict[str, bool]:
    """The last verdict of every ``check`` run in this process, by id (a blank ``...`` is False)."""
    return dict(_VERDICTS)


def verify(question: str, value: Any, registry: dict | None = None) -> CheckResult:
    """Judge ``value`` as an answer to ``question`` in the current mode; never raises on a value.

    registry: the hash registry to use (default: the committed one). Raises KeyError for an
    unknown id: that is an error in the notebook, not in the answer.
    """
    known = specs()
    if question not in known:
        raise KeyError(f"unknown check {question!r}; known: {', '.join(sorted(known))}")
    spec = known[question]
    if value is Ellipsis:
        return CheckResult(False, f"{question}: no answer yet: {NO_ANSWER}")
    try:
        if spec.hashed:
            ok, detail = _compare_hashes(question, spec, value, registry)
        else:
            ok, detail = spec.judge(value)
    except NoAnswer as exc:
        return CheckResult(False, f"{question}: no answer yet: {exc}")
    except Exception as exc:  # the student's value or function failed: say what, never raise
        ok, detail = False, f"cannot use this answer ({type(exc).__name__}: {str(exc)[:200]}). "
    if ok:
        return CheckResult(True, f"{question}: correct.")
    detail = detail if detail.endswith(" ") or not detail else detail + " "
    return CheckResult(False, f"{question}: not yet. Hint: {detail}{spec.hint}")


def _compare_hashes(question: str, spec: Spec, value: Any, registry: dict | None) -> tuple[bool, str]:
    """(ok, detail) for a hash-kind spec: every entry's canonical forms against the registry."""
    registry = load_registry() if registry is None else registry
    hashes = registry.get(question, {}).get(mode.mode_name()) or registry.get(question, {}).get("any")
    if hashes is None:
        return False, f"no answer is registered for {mode.mode_name()} mode; tell your instructor. "
    candidates = candidate_forms(spec, value)
    if len(candidates) != len(hashes):
        return False, f"expected {len(hashes)} value(s), got {len(candidates)}. "
    salt = salt_for(question)
    wrong = [i for i, (forms, want) in enumerate(zip(candidates, hashes))
             if not any(digest(salt, i, form) == want for form in forms)]
    if not wrong:
        return True, ""
    where = f"entries {', '.join(map(str, wrong))} (counting from 0) are off. " if len(hashes) > 1 else ""
    return False, where


def salt_for(question: str) -> str:
    """The question's salt, derived from its id (so the registry regenerates identically)."""
    return hashlib.sha256(f"course_utils.checks:{question}".encode()).hexdigest()[:16]


def digest(salt: str, index: int, form: str) -> str:
    """PBKDF2-SHA256 of one canonical form of entry ``index``, hex."""
    return hashlib.pbkdf2_hmac("sha256", form.encode(), f"{salt}:{index}".encode(), ITERATIONS).hex()


def candidate_forms(spec: Spec, value: Any) -> list[list[str]]:
    """Canonical texts per entry: the rounded value first, then its accepted neighbours (floats)."""
    if spec.kind == "custom":
        return spec.forms(value)
    if spec.kind == "int":
        return [[str(_forms.as_int(value))]]
    if spec.kind == "ints":
        return [[",".join(str(_forms.as_int(v)) for v in _forms.flat(value))]]
    if spec.kind == "tokens":
        return [[",".join(map(str, _forms.token_numbers(value)))]]
    if spec.kind == "mapping":
        return [[_forms.mapping_form(value)]]
    if spec.kind == "expr":
        return [[",".join(str(v) for v in _forms.expr_values(value, spec.n_vars))]]
    if spec.kind == "rate":
        return [_forms.float_forms(_forms.decay_rate(value), spec.precision)]
    if spec.kind == "float":
        return [_forms.float_forms(_forms.as_float(value), spec.precision)]
    if spec.kind == "floats":
        return [_forms.float_forms(_forms.as_float(v), spec.precision) for v in _forms.flat(value)]
    raise ValueError(f"unknown spec kind {spec.kind!r}")


def load_registry(path: Path = REGISTRY) -> dict:
    """The committed hash registry (``course_utils/data/checks.json``): id -> {mode: [hash, ...]}."""
    return json.loads(path.read_text(encoding="utf-8"))["checks"]
