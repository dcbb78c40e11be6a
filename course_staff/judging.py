"""The instructor's side of every function check: hidden cases, the oracle, and the comparison.

A *probe* check (``course_utils.checks.Spec`` of kind "probe") lets the student package call a
student's function on a case and return plain data. This module holds what the student package
must not: for each such check id a :class:`Judge` with

- ``cases(rng)``: fresh hidden cases for one grading run (JSON-ready, the same form as the spec's
  public cases), drawn from a ``random.Random`` the grader seeds from the OS for every run;
- ``oracle(case)``: the reference output as plain data (the instructor's implementation);
- ``compare(got, want, case)``: (ok, detail) for one case (default :func:`close`);
- ``mistakes``: known wrong implementations, ``(function(case) -> plain output, hint)``; the
  registry stores their fingerprints on the public cases, so a self-check can name the slip;
- ``also_right``: other right outputs, ``function(case) -> plain output`` (a loop that computes its
  accuracy itself instead of calling ``binary_accuracy``); the registry stores their hashes too.

Each question's key module (``course_staff.keys.<prefix>``) declares ``JUDGES: dict[str, Judge]``;
:func:`judges` merges them. :func:`judge_outputs` is what the grader
calls, in its own process, on the outputs a sandboxed kernel sent back.
"""

from __future__ import annotations

import random
from typing import Any

from course_staff.keys import Judge, close, modules  # noqa: F401 - Judge and close are this module's too
from course_utils.checks.plain import from_plain




def judges() -> dict[str, Judge]:
    """Every function check's judge, by check id, from the question modules of ``course_staff.keys``."""
    found: dict[str, Judge] = {}
    for prefix, module in modules().items():
        for question, judge in getattr(module, "JUDGES", {}).items():
            if question.split(".", 1)[0] != prefix:
                raise ValueError(f"{question} is judged in course_staff.keys.{prefix}: its prefix names another module")
            found[question] = judge
    return found


def hidden_cases(questions: list[str], seed: int) -> dict[str, list]:
    """Fresh hidden cases for each function check among ``questions`` (others are left out)."""
    known = judges()
    rng = random.Random(seed)
    return {q: known[q].cases(random.Random(rng.getrandbits(64))) for q in questions if q in known}


def probe_entry(question: str, spec: Any, judge: Judge) -> dict:
    """The registry entry of a probe check: hashes of the oracle's output per public case, and mistakes.

    ``{"any": [[hash per value] per case], "mistakes": {fingerprint: [hint, ...]}}``, and ``"also"``: the same
    hashes per ``also_right`` output where the judge has some (see
    ``course_utils.checks.probe_forms``); a mistake is kept where it differs from the right output.
    """
    from course_utils import checks

    salt = checks.salt_for(question)
    hashes, mistakes, also = [], {}, [[] for _ in judge.also_right]
    for number, case in enumerate(spec.cases()):
        want = judge.oracle(case)
        forms = checks.probe_forms(want, spec.precision)
        hashes.append([checks.fast_digest(salt, f"{number}.{i}", entry[0]) for i, entry in enumerate(forms)])
        for other, right in zip(also, judge.also_right):
            other.append([checks.fast_digest(salt, f"{number}.{i}", entry[0])
                          for i, entry in enumerate(checks.probe_forms(right(case), spec.precision))])
        for wrong, hint in judge.mistakes:
            got = wrong(case)
            text = checks.probe_text(got, spec.precision)
            if text != checks.probe_text(want, spec.precision):
                hints = mistakes.setdefault(checks.fast_digest(salt, f"{number}.mistake", text), [])
                if hint not in hints:  # two slips can give one output on a case: keep both, the other cases tell
                    hints.append(hint)
    entry = {"any": hashes, "mistakes": dict(sorted(mistakes.items()))}
    if len({checks.probe_text(judge.oracle(case), spec.precision) for case in spec.cases()}) > 1:
        entry["varies"] = True  # a function whose output never changes is told so
    return {**entry, "also": also} if also else entry


def judge_outputs(question: str, cases: list, outputs: Any) -> tuple[bool, str]:
    """(ok, detail) for what the student's function returned on the hidden ``cases``.

    outputs: untrusted plain data from the kernel, one entry per case: ``{"output": ...}``, or
    ``{"error": text}`` / ``{"no_answer": true}`` / ``{"timeout": true}``. Every case must be right.
    """
    judge = judges()[question]
    if not isinstance(outputs, list) or len(outputs) != len(cases):
        return False, "the function's outputs did not come back"
    failed: list[tuple[Any, Any]] = []  # (case, output) of every wrong case, for naming the mistake
    first = ""
    for number, (case, result) in enumerate(zip(cases, outputs), start=1):
        if not isinstance(result, dict):
            return False, f"hidden case {number}: no output"
        if result.get("no_answer"):
            return False, "no answer yet (the function's body is still ...)"
        if result.get("timeout"):
            return False, f"hidden case {number}: the function ran past its time limit"
        if "output" not in result:
            return False, f"hidden case {number}: the function raised {str(result.get('error', ''))[:120]}"
        try:
            got = from_plain(result["output"])
            ok, detail = judge.compare(got, judge.oracle(case), case)
            ok = ok or any(judge.compare(got, right(case), case)[0] for right in judge.also_right)
        except Exception as exc:  # noqa: BLE001 - an output of the wrong form: wrong, not a grader crash
            got, ok, detail = None, False, f"the output cannot be read ({type(exc).__name__})"
        if not ok:
            failed.append((case, got))
            first = first or f"hidden case {number}: {detail}".strip()
    if not failed:
        return True, ""
    return False, _named_mistake(judge, failed) or first


def _named_mistake(judge: Judge, failed: list[tuple[Any, Any]]) -> str:
    """The hint of the first known mistake that gives the output of every wrong case (the hint the self-check
    shows for it), or "" when no mistake of the table explains them all."""
    for wrong, hint in judge.mistakes:
        try:
            if all(judge.compare(got, wrong(case), case)[0] for case, got in failed):
                return hint.strip()
        except Exception:  # noqa: BLE001 - a mistake that does not apply to this case names nothing
            continue
    return ""
