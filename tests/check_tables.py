"""Tests from tables of answers: right ones pass, wrong ones fail with the hint, weird ones never raise.

A part's test module writes its tables (check id -> values) and takes the three tests from
:func:`table_tests`; pytest collects them as the module's own.
"""

from __future__ import annotations

import json
from typing import Callable

import pytest

from course_utils import checks


def _cases(table: dict[str, list]) -> list[tuple[str, object]]:
    return [(question, value) for question, values in table.items() for value in values]


def _case_id(value: object) -> str:
    return value if isinstance(value, str) else ""


def table_tests(right: dict[str, list], wrong: dict[str, list], weird: list) -> tuple[Callable, ...]:
    """(test_right_answers_pass, test_wrong_answers_fail_with_the_hint, test_weird_input_never_raises)."""

    @pytest.mark.parametrize("question,value", _cases(right), ids=_case_id)
    def test_right_answers_pass(question, value):
        result = checks.verify(question, value)
        assert result.ok and result.message == f"{question}: correct.", result.message

    @pytest.mark.parametrize("question,value", _cases(wrong), ids=_case_id)
    def test_wrong_answers_fail_with_the_hint(question, value):
        result = checks.verify(question, value)
        assert not result.ok
        assert result.message.startswith(f"{question}: not yet. Hint: ")
        assert result.message.endswith(checks.specs()[question].hint)

    @pytest.mark.parametrize("question", sorted(right))
    def test_weird_input_never_raises_and_a_blank_is_no_answer(question):
        for value in weird:
            result = checks.verify(question, value)
            assert not result.ok and ": not yet. Hint: " in result.message, (value, result.message)
        assert checks.verify(question, ...).message.startswith(f"{question}: no answer yet: ")

    return test_right_answers_pass, test_wrong_answers_fail_with_the_hint, test_weird_input_never_raises_and_a_blank_is_no_answer


def graded(question: str, answer: object, seed: int = 7) -> tuple[bool, str]:
    """(ok, detail) as the grader judges ``answer``: a function by the spec's probe on fresh hidden cases,
    outputs as plain data, judged outside against the key's oracle (``course_staff.judging``); a value as the
    kernel's harness sends it (plain data, or a model's canonical texts) and the grader's judge reads it."""
    from course_staff import judging
    from course_utils.checks import NoAnswer, plain

    spec = checks.specs()[question]
    if spec.kind != "probe":
        from course_staff.grading import judge

        if spec.kind == "custom":
            entry = {"forms": [str(forms[0]) for forms in spec.forms(answer)]}
        elif callable(answer) and spec.kind in ("rate", "expr"):
            entry = {"neighbours": [forms[:3] for forms in checks.candidate_forms(spec, answer)]}
        else:
            try:
                entry = {"plain": plain.to_plain(answer)}
            except Exception as exc:  # noqa: BLE001 - the harness reports a value it cannot send the same way
                entry = {"error": f"{type(exc).__name__}: {exc}"}
        return judge.judge_answers([question], json.dumps({"answers": {question: entry}}), {})[question]
    cases = judging.hidden_cases([question], seed)[question]
    outputs = []
    for case in cases:
        try:
            outputs.append({"output": plain.to_plain(spec.probe(answer, case))})
        except NoAnswer:
            outputs.append({"no_answer": True})
        except Exception as exc:  # noqa: BLE001 - what a sandboxed kernel reports
            outputs.append({"error": f"{type(exc).__name__}: {exc}"})
    return judging.judge_outputs(question, cases, outputs)

