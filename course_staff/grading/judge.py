"""Judging one run's answers in the grader's process, never in the student's.

The kernel's harness (``harness.py``) hands back ``answers.json``: values only. Here each check of
the handout is judged from it against what no kernel can read, the staff install's registry and
oracles:

- a plain answer: ``from_plain`` (no code of the sender runs; sympy rebuilt from ``srepr`` by a reader
  that calls only sympy's classes), then ``course_utils.checks.verify(id, value)``;
- a function answer of a probe check: its outputs on this run's hidden cases, then
  ``course_staff.judging.judge_outputs`` (the instructor's oracle on the same cases).

Old check ids (an older handout) are read through ``course_utils.checks.ALIASES`` where it exists.
A forged, oversized or malformed file makes those checks wrong, never the grader fail: the
judging of one notebook runs in a worker subprocess (``python -m course_staff.grading.judge``,
the payload on stdin) with a time limit (:func:`judge_run`).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from typing import Any

JUDGE_TIMEOUT_S = 120.0
NOT_RUN = "check cell did not run"


def canonical(question: str) -> str:
    """The current id of ``question`` (an older submission's id maps through the engine's aliases)."""
    from course_utils import checks

    return getattr(checks, "ALIASES", {}).get(question, question)


def probe_checks(check_ids: list[str]) -> list[str]:
    """The ids among ``check_ids`` whose answer is a function judged on hidden cases."""
    from course_utils import checks

    known = checks.specs()
    return [q for q in check_ids if getattr(known.get(canonical(q)), "kind", "") == "probe"]


def draw_cases(check_ids: list[str], seed: int) -> dict[str, list]:
    """Fresh hidden cases for this run's probe checks, by the handout's id."""
    from course_staff.judging import hidden_cases

    probes = probe_checks(check_ids)
    drawn = hidden_cases([canonical(q) for q in probes], seed)
    return {q: drawn[canonical(q)] for q in probes if canonical(q) in drawn}


def judge_answers(check_ids: list[str], answers_text: str | None, cases: dict) -> dict[str, tuple[bool, str]]:
    """(ok, detail) per check id from the harness's file (in this process; see :func:`judge_run`)."""
    try:
        data = json.loads(answers_text) if answers_text is not None else {}
    except (ValueError, RecursionError):
        data = {"malformed": True}
    answers = data.get("answers") if isinstance(data, dict) else None
    malformed = not isinstance(answers, dict) and answers_text is not None
    answers = answers if isinstance(answers, dict) else {}
    results = {}
    for question in check_ids:
        try:
            results[question] = _judge_one(question, answers.get(question), cases.get(question))
        except Exception as exc:  # noqa: BLE001 - whatever the answer is, it is one wrong answer
            results[question] = (False, f"the answer cannot be judged ({type(exc).__name__})")
        if malformed and not results[question][0]:
            results[question] = (False, "the answers file is not the harness's")
    return results


def _judge_one(question: str, entry: Any, cases: Any) -> tuple[bool, str]:
    from course_utils import checks
    from course_utils.checks.plain import Opaque, PlainError, from_plain

    current = canonical(question)
    spec = checks.specs().get(current)
    if spec is None:
        return False, "unknown check id"
    if not isinstance(entry, dict):
        return False, NOT_RUN
    if spec.kind == "probe":
        from course_staff.judging import judge_outputs, judges

        if current not in judges():
            return False, "no judge for this function check"
        outputs = entry.get("probe")
        if outputs is None:
            error = entry.get("error")
            return False, (f"the function could not be used ({str(error)[:120]})" if error
                           else "the function was not run on the hidden cases")
        if not isinstance(cases, list):
            return False, "no hidden cases were drawn"
        return judge_outputs(current, cases, outputs)
    if spec.kind == "custom":  # an object that cannot travel (a built model): its canonical texts do
        texts = entry.get("forms")
        if not isinstance(texts, list) or not all(isinstance(x, str) and len(x) <= 1000 for x in texts):
            return False, f"the value could not be read ({str(entry.get('error', ''))[:120]})"
        return checks.verify_forms(current, texts), ""
    if "plain" not in entry:
        return False, f"the value could not be read ({str(entry.get('error', ''))[:120]})"
    try:
        value = from_plain(entry["plain"])
    except (PlainError, RecursionError) as exc:
        return False, f"the value is not plain answer data ({str(exc)[:80]})"
    if isinstance(value, Opaque) and spec.kind == "judge":
        return False, "a function check without a probe cannot be judged outside the kernel"
    return bool(checks.verify(current, value).ok), ""


def judge_run(check_ids: list[str], answers_text: str | None, cases: dict, tiny: bool,
              timeout: float = JUDGE_TIMEOUT_S) -> dict[str, tuple[bool, str]]:
    """:func:`judge_answers` in a worker subprocess (the grading mode from ``tiny``) with a time limit."""
    if answers_text is None:
        return {q: (False, NOT_RUN) for q in check_ids}
    payload = json.dumps({"checks": check_ids, "answers": answers_text, "cases": cases})
    env = {**os.environ, "COURSE_TINY": "1" if tiny else "0"}
    try:
        done = subprocess.run([sys.executable, "-m", "course_staff.grading.judge"], input=payload,
                              capture_output=True, text=True, timeout=timeout, env=env)
        lines = done.stdout.strip().splitlines()
        found = json.loads(lines[-1]) if lines else None
        return {q: (bool(found[q][0]), str(found[q][1])) for q in check_ids}
    except subprocess.TimeoutExpired:
        return {q: (False, f"judging ran past its time limit ({timeout:g} s)") for q in check_ids}
    except (ValueError, KeyError, TypeError, IndexError):
        tail = (done.stderr.strip().splitlines() or [""])[-1][:160]
        return {q: (False, f"judging failed ({tail})") for q in check_ids}


def main() -> None:
    """The worker: payload on stdin, one JSON line of ``{id: [ok, detail]}`` on stdout."""
    payload = json.loads(sys.stdin.read())
    with contextlib.redirect_stdout(sys.stderr):  # a judge that prints cannot spoil the answer line
        results = judge_answers(list(payload["checks"]), payload["answers"], payload.get("cases") or {})
    print(json.dumps({q: [ok, detail] for q, (ok, detail) in results.items()}))


if __name__ == "__main__":
    main()
