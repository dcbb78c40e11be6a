"""Q1's self-checks and grader judges: parameter counts and the receptive field of a conv stack, as students write them.

Oracles worked out by hand: a k x k conv has c_in*c_out*k^2 weights and c_out biases; a PyTorch GRU
layer has, per gate, h x w and h x h matrices and two bias vectors of h; a stack of L stride-1 k x k
convs sees L(k - 1) + 1 rows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_staff.judging import hidden_cases, judge_outputs, judges
from course_staff.keys.q1 import conv_count, gru_count, rows_seen_by_stack
from course_utils.checks import specs, verify
from tests.check_tables import table_tests

IDS = ["q1.conv_parameters", "q1.gru_parameters", "q1.stack_rows_seen"]


def conv_by_hand(c_in, c_out, k):
    return c_in * c_out * k * k + c_out


def gru_by_hand(width, hidden):
    return 3 * (hidden * width + hidden * hidden + 2 * hidden)


def stack_by_hand(n_layers, k):
    return n_layers * (k - 1) + 1


def conv_by_module(c_in, c_out, k):
    return sum(p.numel() for p in torch.nn.Conv2d(c_in, c_out, k).parameters())


def conv_on_meta(c_in, c_out, k):
    return sum(p.numel() for p in torch.nn.Conv2d(c_in, c_out, k, device="meta").parameters())


def gru_by_module(width, hidden):
    return sum(p.numel() for p in torch.nn.GRU(width, hidden, device="meta").parameters())


def stack_by_gradient(n_layers, k):  # the oracle's own method, in the student's kernel
    stack = torch.nn.Sequential(*[torch.nn.Conv2d(1, 1, k, padding=k // 2) for _ in range(n_layers)])
    x = torch.randn(1, 1, 2 * n_layers * k + 5, 3, requires_grad=True)
    stack(x)[0, 0, x.shape[2] // 2, 1].backward()
    return int((x.grad[0, 0].abs().sum(dim=1) > 0).sum())


@pytest.mark.parametrize(("case", "count"), [((1, 4, 3), 40), ((4, 8, 3), 296), ((3, 5, 1), 20), ((6, 2, 5), 302)])
def test_conv_oracle_is_the_hand_formula(case, count):
    assert conv_count(list(case)) == conv_by_hand(*case) == count


@pytest.mark.parametrize(("case", "count"), [((16, 32), 4800), ((5, 7), 294), ((90000, 400000), 588002400000)])
def test_gru_oracle_is_the_hand_formula_even_for_sizes_too_large_to_build(case, count):
    assert gru_count(list(case)) == gru_by_hand(*case) == count


@pytest.mark.parametrize(("n_layers", "k"), [(1, 3), (3, 3), (2, 5), (4, 7), (5, 1)])
def test_stack_oracle_is_the_hand_formula(n_layers, k):
    assert rows_seen_by_stack([n_layers, k]) == stack_by_hand(n_layers, k)


RIGHT = {
    "q1.conv_parameters": [
        conv_by_hand,
        lambda c_in, c_out, k: c_out * (c_in * k**2 + 1),
        lambda c_in, c_out, k: np.int64(c_out * (c_in * k * k + 1)),
        lambda c_in, c_out, k: torch.tensor(c_out * (c_in * k * k + 1)),
        lambda c_in, c_out, k: float(c_out * (c_in * k * k + 1)),
        lambda c_in, c_out, k: sum([c_in * k * k] * c_out) + c_out,
    ],
    "q1.gru_parameters": [
        gru_by_hand,
        lambda width, hidden: 3 * hidden * (width + hidden + 2),
        lambda w, h: np.int64(3) * h * (w + h + 2),
        lambda w, h: 3 * (h * w + h * h) + 6 * h,
    ],
    "q1.stack_rows_seen": [
        stack_by_hand,
        lambda n_layers, k: 1 + sum(k - 1 for _ in range(n_layers)),
        lambda n_layers, k: 2 * n_layers * (k // 2) + 1,  # odd kernels: k // 2 rows on each side per layer
        lambda n, k: torch.tensor(n * (k - 1) + 1),
    ],
}
WRONG = {
    "q1.conv_parameters": [lambda c_in, c_out, k: c_in * c_out * k * k, lambda c_in, c_out, k: c_in * c_out * k + c_out,
                           lambda c_in, c_out, k: c_out * k * k + c_out, lambda c_in, c_out, k: 372,
                           conv_by_module, conv_on_meta],
    "q1.gru_parameters": [lambda w, h: 4 * (h * w + h * h + 2 * h), lambda w, h: 3 * (h * w + h * h + h),
                          lambda w, h: 3 * (h * w + 2 * h), lambda w, h: h * w + h * h + 2 * h, gru_by_module],
    "q1.stack_rows_seen": [lambda n, k: n * k, lambda n, k: k**n, lambda n, k: n * (k - 1), stack_by_gradient],
}
WEIRD = [None, "9", 3.5, lambda *args: "x", lambda *args: -1.5, lambda *args: 1 / 0, lambda *args: math.inf,
         lambda *args: [1, 2], lambda a: 1]
test_right_answers_pass, test_wrong_answers_fail_with_the_hint, test_weird_input_never_raises_and_a_blank_is_no_answer \
    = table_tests(RIGHT, WRONG, WEIRD)


@pytest.mark.parametrize(("question", "function", "says"), [
    ("q1.conv_parameters", lambda c_in, c_out, k: c_in * c_out * k * k, "bias"),
    ("q1.conv_parameters", lambda c_in, c_out, k: c_in * c_out * k + c_out, "k * k positions"),
    ("q1.conv_parameters", lambda c_in, c_out, k: c_out * k * k + c_out, "every input channel"),
    ("q1.conv_parameters", lambda c_in, c_out, k: 372, "same output on every public case"),
    ("q1.conv_parameters", lambda c_in, c_out, k: c_in * c_out * k * k + c_out + 1, "differs from the right one"),
    ("q1.conv_parameters", lambda c_in, c_out, k: c_out * (c_in * k * k + 1) + 0.5, "whole number"),
    ("q1.conv_parameters", lambda c_in, c_out: 1, "TypeError"),
    ("q1.conv_parameters", conv_by_module, "builds a layer (Conv2d)"),
    ("q1.conv_parameters", conv_on_meta, "builds a layer (Conv2d)"),
    ("q1.gru_parameters", lambda w, h: 4 * (h * w + h * h + 2 * h), "LSTM"),
    ("q1.gru_parameters", lambda w, h: 3 * (h * w + h * h + h), "two bias vectors"),
    ("q1.gru_parameters", lambda w, h: 3 * (h * w + 2 * h), "previous hidden state"),
    ("q1.gru_parameters", gru_by_module, "builds a layer (GRU)"),
    ("q1.stack_rows_seen", lambda n, k: n * k, "overlap"),
    ("q1.stack_rows_seen", lambda n, k: k**n, "not by a factor"),
    ("q1.stack_rows_seen", lambda n, k: n * (k - 1), "off by one"),
    ("q1.stack_rows_seen", lambda n, k: n * (k - 1) + 2, "off by one"),
    ("q1.stack_rows_seen", lambda n, k: n * (k // 2) + 1, "both sides"),
    ("q1.gru_parameters", lambda w, h: h * w + h * h + 2 * h, "one gate's count"),
    ("q1.stack_rows_seen", lambda n, k: math.inf, "finite"),
    ("q1.stack_rows_seen", stack_by_gradient, "builds a layer (Conv2d)"),
])
def test_each_mistake_gets_its_own_hint(question, function, says):
    result = verify(question, function)
    assert not result.ok and says in result.message, result.message


def test_the_probe_leaves_layers_buildable_afterwards():
    verify("q1.conv_parameters", conv_by_module)
    assert conv_by_module(1, 4, 3) == 40


@pytest.mark.parametrize("question", IDS)
def test_blank_functions_have_no_answer_yet(question):
    def blank(*args):
        ...

    for value in (blank, ...):
        assert "no answer yet" in verify(question, value).message


def _kernel_outputs(question: str, function, cases: list) -> list[dict]:
    """What the sandboxed kernel sends back for each hidden case: the probe's output or its error."""
    probe = specs()[question].probe
    outputs = []
    for case in cases:
        try:
            outputs.append({"output": probe(function, case)})
        except Exception as exc:  # noqa: BLE001 - as the kernel reports it
            outputs.append({"error": f"{type(exc).__name__}: {exc}"})
    return outputs


FORMULAS = {"q1.conv_parameters": conv_by_hand, "q1.gru_parameters": gru_by_hand, "q1.stack_rows_seen": stack_by_hand}
MODULES = {"q1.conv_parameters": conv_by_module, "q1.gru_parameters": gru_by_module,
           "q1.stack_rows_seen": stack_by_gradient}


@pytest.mark.parametrize("question", IDS)
@pytest.mark.parametrize("seed", [1, 2])
def test_the_grader_judges_hidden_cases(question, seed):
    cases = hidden_cases([question], seed)[question]
    assert len(cases) >= 5
    assert judge_outputs(question, cases, _kernel_outputs(question, FORMULAS[question], cases)) == (True, "")
    ok, detail = judge_outputs(question, cases, _kernel_outputs(question, MODULES[question], cases))
    assert not ok and "builds a layer" in detail


@pytest.mark.parametrize("question", IDS)
def test_a_table_of_the_public_answers_passes_the_self_check_but_not_the_grader(question):
    spec, judge = specs()[question], judges()[question]
    table = {tuple(case): judge.oracle(list(case)) for case in spec.cases()}
    looked_up = lambda *sizes: table[sizes]  # noqa: E731
    assert verify(question, looked_up).ok
    cases = hidden_cases([question], 7)[question]
    ok, detail = judge_outputs(question, cases, _kernel_outputs(question, looked_up, cases))
    assert not ok and "KeyError" in detail


def test_some_public_and_hidden_counts_are_too_large_to_build():
    for question in ("q1.conv_parameters", "q1.gru_parameters"):
        for cases in (specs()[question].cases(), hidden_cases([question], 3)[question]):
            assert max(judges()[question].oracle(list(c)) for c in cases) > 10**10  # > 40 GB of float32
