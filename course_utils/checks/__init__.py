"""Self-checks for students: ``check("q3.norms", norms)`` says right or wrong, never the answer.

Every check prints exactly one line:

- ``"<id>: correct."``
- ``"<id>: not yet. Hint: ..."`` (the hint helps without giving the answer away)
- ``"<id>: no answer yet: ..."`` (the blank still holds ``...``)

and records its verdict in the kernel (``verdicts()``), where the grader reads it.

A question's :class:`Spec` is one of two kinds:

- *hash*: the answer is reduced to canonical text (ints as digits, floats rounded to the decimals
  the prompt states, an expression by its exact values at fixed points) and compared with a
  salted, slow hash (PBKDF2-SHA256) in ``course_utils/data/checks.json``. Floats pass within one
  unit of the stated last decimal.
- *probe*: the answer is a function the student writes. ``Spec.probe(function, case)`` calls it on
  one *public* case (``Spec.public_cases``: inputs anyone may read) and returns what it gave as
  plain data; every number of that output is compared with salted hashes of the instructor's
  reference output on the same case (:func:`probe_forms`). The release holds no reference
  implementation: only these hashes, and hashes of known mistakes with a hint for each. The
  grader calls the same probe on *hidden* cases it draws for each run and judges the outputs
  outside the student's process, against the instructor's oracle (``course_staff.judging``), so a
  function that only reproduces the public cases earns nothing there.

Specs live in each question's folder, ``course_utils/<prefix>/checks.py`` for the checks ``<prefix>.*``
(:func:`part_of`), and are registered with :func:`register` when first needed. The registry holds no answer in plain text; it
is built by instructor code (``python -m course_staff.registry --write``) that is not part of the
student release.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from course_utils import mode, variants
from course_utils.checks import _forms

REGISTRY = Path(__file__).resolve().parents[1] / "data" / "checks.json"
ITERATIONS = 20_000
NO_ANSWER = "replace the ... above with your answer, then run this cell again."
#: Renamed check ids: old id (in older handouts and submissions) -> the id it is checked as now.
ALIASES = {"q2.tie_output": "q2.output_a", "q2.even_larger_output": "q2.output_b"}

_SPECS: dict[str, Spec] = {}
_VERDICTS: dict[str, bool] = {}


class NoAnswer(Exception):
    """Raised by a judge when the blank is still empty (e.g. a function whose body is ``...``)."""


@dataclass(frozen=True)
class Spec:
    """How one question is checked.

    kind: "int", "ints", "float", "floats", "mapping", "expr", "rate", "tokens" (hash kinds, read
    by ``_forms``), "custom" (hash of ``forms(value)``), "probe" (a function, run on public cases)
    or "judge" (``judge(value)`` decides, with no reference answer).
    hint: shown with every "not yet"; it must not state the answer.
    precision: decimals the prompt asks for (float kinds and "rate").
    n_vars: "expr" only, the number of inputs x_1..x_n.
    forms: "custom" only, value -> canonical texts per entry (each entry's first text is the one hashed).
    entries: what each entry of a several-entry answer is, in words a student reads ("the dropout"), so a
    wrong entry is named by what it means, not by its position.
    judge: "judge" only, value -> (ok, detail); ``detail`` is a hint for a wrong answer. It may
    raise :class:`NoAnswer`; any other exception is reported to the student as "not yet".
    probe: "probe" only, (function, case) -> plain output (``plain.to_plain`` data: numbers, lists);
    raises :class:`NoAnswer` while the function's body is still ``...``. The probe builds the
    inputs from the case and calls the function; it computes nothing the blank asks for.
    public_cases: "probe" only, JSON-ready cases (shown to anyone), or a function of no arguments that returns
    them for the current variant (:meth:`cases`); ``precision``: decimals to
    which the output's floats are compared; ``callable_only``: False where the answer may also be a
    value the probe reads (an expression), not only a function; ``follow_up``: value -> (ok, detail),
    run once the public cases pass, for what the grader also requires of every answer and a public case
    cannot show (Q2's closed form: that sympy can follow its induction step).
    """

    kind: str
    hint: str
    precision: int = 0
    n_vars: int = 0
    forms: Callable[[Any], list[list[str]]] | None = None
    entries: tuple[str, ...] = ()
    judge: Callable[[Any], tuple[bool, str]] | None = None
    probe: Callable[[Any, Any], Any] | None = None
    public_cases: tuple | Callable[[], tuple] = ()
    callable_only: bool = True
    follow_up: Callable[[Any], tuple[bool, str]] | None = None

    def cases(self) -> tuple:
        """The public cases in this process's variant: ``public_cases``, or what it returns where it is a function
        of no arguments (a question whose public cases differ per variant, ``course_utils.variants``)."""
        return tuple(self.public_cases()) if callable(self.public_cases) else tuple(self.public_cases)

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
    if (spec.kind == "judge") != (spec.judge is not None) or (spec.kind == "custom") != (spec.forms is not None) \
            or (spec.kind == "probe") != (spec.probe is not None and bool(spec.public_cases)):
        raise ValueError(f"{question}: a 'judge' spec needs judge=, a 'custom' spec forms=, a 'probe' spec probe= "
                         "and public_cases=; others none of them")
    if question in ALIASES:
        raise ValueError(f"{question} is the old name of {ALIASES[question]}; register the new id")
    old = _SPECS.get(question)
    if old is not None and (old.kind, old.hint, old.precision, old.n_vars) != (spec.kind, spec.hint, spec.precision,
                                                                              spec.n_vars):
        raise ValueError(f"check {question!r} is registered twice, with different specs")
    _SPECS[question] = spec


@functools.lru_cache(maxsize=1)
def parts() -> tuple[str, ...]:
    """The question folders of this package: each ``course_utils/<prefix>/`` that holds a ``checks.py``."""
    root = Path(__file__).resolve().parents[1]
    return tuple(sorted(p.parent.name for p in root.glob("*/checks.py") if p.parent.name != "checks"))


def part_of(question: str) -> str:
    """The module that registers the checks of ``question``'s prefix (``"q2.step"`` -> ``course_utils.q2.checks``)."""
    return f"course_utils.{question.split('.', 1)[0]}.checks"


def specs() -> dict[str, Spec]:
    """Every registered check by id, after importing every question's checks module."""
    for prefix in parts():
        importlib.import_module(part_of(prefix))
    return dict(_SPECS)


def canonical_id(question: str) -> str:
    """The id ``question`` is checked as now: itself, or the new id of a renamed one (:data:`ALIASES`)."""
    return ALIASES.get(question, question)


def spec_of(question: str) -> Spec:
    """The spec of ``question``, importing only its question's module; KeyError for an unknown id."""
    question = canonical_id(question)
    if question.split(".", 1)[0] in parts():
        importlib.import_module(part_of(question))
    if question not in _SPECS:
        known = specs()
        raise KeyError(f"unknown check {question!r}; known: {', '.join(sorted(known))}")
    return _SPECS[question]


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
    unknown id: that is an error in the notebook, not in the answer. An old id (:data:`ALIASES`)
    is checked as its new one; the message names the id as called.
    """
    spec = spec_of(question)
    if value is Ellipsis:
        return CheckResult(False, f"{question}: no answer yet: {NO_ANSWER}")
    try:
        if spec.kind == "probe":
            ok, detail = _compare_probe(canonical_id(question), spec, value, registry)
        elif spec.hashed:
            ok, detail = _compare_hashes(canonical_id(question), spec, value, registry)
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
    hashes = entry_of(registry, question).get(mode.mode_name()) or entry_of(registry, question).get("any")
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
    mistake = named_mistake(question, [entry[0] for entry in candidates], registry)
    if mistake:
        return False, mistake
    unordered = entry_of(registry, question).get("unordered", {})
    unordered = unordered.get(mode.mode_name()) or unordered.get("any")
    if unordered and digest(salt, "unordered", unordered_text(spec, value)) == unordered:
        return False, "the right values, in the wrong order: mind the order the prompt asks for. "
    coarse = _coarse(spec, value, wrong, salt, hashes)
    if coarse:
        return False, coarse
    if spec.entries:
        return False, f"{_join([spec.entries[i] for i in wrong])} {'is' if len(wrong) == 1 else 'are'} off. "
    where = f"entries {', '.join(map(str, wrong))} (counting from 0) are off. " if len(hashes) > 1 else ""
    return False, where


#: Answer kinds that are sequences of whole numbers, whose order the prompt fixes.
ORDERED_KINDS = ("ints", "tokens")


def unordered_text(spec: Spec, value: Any) -> str:
    """The canonical text of a sequence answer's values, sorted (the fingerprint of "right values, wrong order")."""
    numbers = _forms.token_numbers(value) if spec.kind == "tokens" else [_forms.as_int(v) for v in _forms.flat(value)]
    return ",".join(map(str, sorted(numbers)))


def _coarse(spec: Spec, value: Any, wrong: list[int], salt: str, hashes: list[str]) -> str:
    """A hint when a wrong float entry was given with fewer decimals than the prompt asks for and a value it
    rounds is the right one ("" otherwise): the student learns it is the precision, not the algebra."""
    if spec.kind not in ("float", "floats") or spec.precision < 1:
        return ""
    try:
        values = [_forms.as_float(v) for v in (_forms.flat(value) if spec.kind == "floats" else [value])]
    except Exception:  # noqa: BLE001 - not numbers: nothing to say about decimals
        return ""
    for i in wrong:
        if i >= len(values) or not math.isfinite(values[i]):
            continue
        shown = next((d for d in range(spec.precision) if round(values[i], d) == values[i]), None)
        if shown is None or spec.precision - shown > 2:
            continue
        step, unit = 10.0 ** -shown, 10 ** (spec.precision - shown)
        candidates = (round(values[i] + (k - unit / 2) * step / unit, spec.precision) for k in range(unit + 1))
        if any(digest(salt, i, _forms.float_forms(c, spec.precision)[0]) == hashes[i] for c in candidates):
            return (f"give every value to at least {spec.precision} decimals: a value you rounded to "
                    f"{shown} decimal{'' if shown == 1 else 's'} is off only by its rounding. ")
    return ""


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def mistake_text(texts: list[str]) -> str:
    """The fingerprint text of a hash-kind answer: each entry's first canonical form, joined."""
    return "|".join(texts)


def named_mistake(question: str, texts: list[str], registry: dict | None = None) -> str:
    """The hint of the known mistake whose canonical texts (one per entry) are ``texts``, or "".

    Known mistakes are stored as salted slow hashes, like right answers (``registry[id]["mistakes"][mode]``):
    a mistake's fingerprint tells no more about the answer than the answer's own hash does.
    """
    question = canonical_id(question)
    registry = load_registry() if registry is None else registry
    table = entry_of(registry, question).get("mistakes", {})
    table = table.get(mode.mode_name()) or table.get("any") or {}
    if not table:
        return ""
    return table.get(digest(salt_for(question), "mistake", mistake_text(texts)), "")


def verify_forms(question: str, texts: list[str], registry: dict | None = None) -> bool:
    """Whether ``texts``, one canonical text per entry (the first form a "custom" spec gives), are the
    registered answer of ``question`` in the current mode: how the grader judges an answer that cannot
    travel as data (a built model), from the texts the kernel computed. One text per entry: no
    neighbours, so a list of guesses cannot match."""
    question = canonical_id(question)
    registry = load_registry() if registry is None else registry
    hashes = entry_of(registry, question).get(mode.mode_name()) or entry_of(registry, question).get("any")
    if hashes is None or len(texts) != len(hashes):
        return False
    salt = salt_for(question)
    return all(digest(salt, i, text) == want for i, (text, want) in enumerate(zip(texts, hashes)))


def verify_neighbours(question: str, forms: list[list[str]], registry: dict | None = None) -> bool:
    """Whether ``forms`` (per entry: its canonical text and at most two neighbours, as ``candidate_forms`` gives
    them) are the registered answer: how the grader judges a function given as an "expr" or "rate" answer, from
    the texts the kernel computed (the same tolerance as the self-check, and no more)."""
    question = canonical_id(question)
    registry = load_registry() if registry is None else registry
    hashes = entry_of(registry, question).get(mode.mode_name()) or entry_of(registry, question).get("any")
    if hashes is None or len(forms) != len(hashes) or any(not 1 <= len(entry) <= 3 for entry in forms):
        return False
    salt = salt_for(question)
    return all(any(digest(salt, i, form) == want for form in entry) for i, (entry, want) in enumerate(zip(forms, hashes)))


def _compare_probe(question: str, spec: Spec, function: Any, registry: dict | None) -> tuple[bool, str]:
    """(ok, detail) for a probe spec: the function's output on each public case against the registry."""
    registry = load_registry() if registry is None else registry
    entry = entry_of(registry, question)
    cases = entry.get(mode.mode_name()) or entry.get("any")
    if cases is None or len(cases) != len(spec.cases()):
        return False, f"no reference is registered for {mode.mode_name()} mode; tell your instructor. "
    if spec.callable_only and not callable(function):
        return False, "pass your function itself (its name, without calling it). "
    salt = salt_for(question)
    also = entry.get("also", [])  # other right outputs (a loop that computes its accuracy itself)
    for number, (case, want) in enumerate(zip(spec.cases(), cases)):
        output = spec.probe(function, case)
        forms = probe_forms(output, spec.precision)
        if not any(_matches(salt, number, forms, right) for right in [want, *(other[number] for other in also)]):
            return False, _probe_mistake(question, spec, function, entry, number, output)
    return spec.follow_up(function) if spec.follow_up is not None else (True, "")


def _probe_mistake(question: str, spec: Spec, function: Any, entry: dict, first: int, output: Any) -> str:
    """The detail for a function whose output on public case ``first`` is wrong: the known mistake that explains
    its output on every public case where it is wrong (where two explain one case, the other cases tell them
    apart), that it never changes its output, or where it differs."""
    salt = salt_for(question)
    table = entry.get("mistakes", {})

    def hints(number: int, got: Any) -> list[str]:
        found = table.get(fast_digest(salt, f"{number}.mistake", probe_text(got, spec.precision)), [])
        return [found] if isinstance(found, str) else list(found)

    candidates = hints(first, output)
    texts = {probe_text(output, spec.precision)}
    try:
        for number, case in enumerate(spec.cases()):
            if number == first:
                continue
            got = spec.probe(function, case)
            texts.add(probe_text(got, spec.precision))
            if number > first and len(candidates) > 1:
                here = hints(number, got)
                if here and any(h in here for h in candidates):  # a case where the function is right names none
                    candidates = [h for h in candidates if h in here]
    except Exception:  # noqa: BLE001 - a case it cannot run on: judge by what is known
        texts.add("")
    if candidates:
        return candidates[0]
    if entry.get("varies") and len(texts) == 1 and len(spec.cases()) > 1:
        return "your function gives the same output on every public case, whatever its inputs: compute the output from them. "
    return f"on public case {first + 1} of {len(spec.cases())} your output differs from the right one. "


def _matches(salt: str, number: int, forms: list[list[str]], want: list[str]) -> bool:
    """Whether the canonical ``forms`` of an output on public case ``number`` hash to ``want``, value by value."""
    return len(forms) == len(want) and all(any(fast_digest(salt, f"{number}.{i}", f) == h for f in entry_forms)
                                           for i, (entry_forms, h) in enumerate(zip(forms, want)))


def probe_forms(output: Any, precision: int) -> list[list[str]]:
    """Canonical texts of a probe's plain output, one entry per value: its shape first, then each leaf.

    An int or bool is its digits; a float is rounded to ``precision`` decimals, with its neighbours
    one unit away (so a float that rounds the other way still matches); text is itself.
    """
    leaves: list = []
    shape = _shape(output, leaves)
    forms = [[shape]]
    for leaf in leaves:
        if isinstance(leaf, bool) or leaf is None or isinstance(leaf, str):
            forms.append([repr(leaf)])
        elif isinstance(leaf, int):
            forms.append([str(leaf)])
        elif isinstance(leaf, float) and math.isfinite(leaf):
            forms.append(_forms.float_forms(leaf, precision))
        else:
            forms.append([repr(leaf)])
    return forms


#: Significant digits of a float that a fingerprint keeps: float64 work agrees to about this many digits across
#: torch and BLAS versions, so a mistake's output of 968665973.86226 is fingerprinted as 968665973.862.
FINGERPRINT_DIGITS = 12


def probe_text(output: Any, precision: int) -> str:
    """One canonical text for a whole probe output (each value's first form, a float to ``precision`` decimals but
    at most ``FINGERPRINT_DIGITS`` significant digits): the fingerprint of a mistake."""
    leaves: list = []
    texts = [_shape(output, leaves)]
    for leaf in leaves:
        if isinstance(leaf, float) and math.isfinite(leaf):
            whole = len(str(int(abs(leaf)))) if abs(leaf) >= 1 else 0
            texts.append(_forms.float_forms(leaf, max(0, min(precision, FINGERPRINT_DIGITS - whole)))[0])
        else:
            texts.append(probe_forms(leaf, precision)[1][0])
    return "|".join(texts)


def _shape(value: Any, leaves: list) -> str:
    """The nesting of ``value`` as text (``[2:[3:.]]``-like), collecting its leaves in order."""
    if isinstance(value, (list, tuple)):
        inner = [_shape(v, leaves) for v in value]
        return f"[{len(inner)}:{','.join(inner)}]" if len(set(inner)) > 1 else f"[{len(inner)}:{inner[0] if inner else ''}]"
    leaves.append(value)
    return "."


def fast_digest(salt: str, index: str, form: str) -> str:
    """SHA-256 of one canonical form of a probe's output (outputs on public cases are no secret answer)."""
    return hashlib.sha256(f"{salt}:{index}:{form}".encode()).hexdigest()[:32]


def salt_for(question: str) -> str:
    """The question's salt in this process's variant, derived from its id and the variant number (so the
    registry regenerates identically, and one variant's hashes say nothing about another's)."""
    number = variants.number(question)
    suffix = f"#{number}" if number else ""  # variant 0 keeps the salts of the handout without variants
    return hashlib.sha256(f"course_utils.checks:{question}{suffix}".encode()).hexdigest()[:16]


def entry_of(registry: dict, question: str) -> dict:
    """The registry entry of ``question`` for this process's variant of its question (``{}`` when none):
    variant 0 is the entry itself, variant v its ``"variants"[str(v)]``."""
    entry = registry.get(question, {})
    number = variants.number(question)
    return entry if not number else entry.get("variants", {}).get(str(number), {})


def digest(salt: str, index: int | str, form: str) -> str:
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
    """The committed hash registry (``course_utils/data/checks.json``): id -> {mode: [hash, ...]}. Read once per
    version of the file (it holds every variant's hashes: parsed again only when it changes). Treat it as read-only."""
    info = path.stat()
    return _parsed(str(path), info.st_mtime_ns, info.st_size)["checks"]


@functools.lru_cache(maxsize=4)
def _parsed(path: str, mtime_ns: int, size: int) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
