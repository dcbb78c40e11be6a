"""Q1's judged self-checks: parameter counts and the receptive field of a conv stack, as students write them.

Oracles worked out by hand: a k x k conv has c_in*c_out*k^2 weights and c_out biases; a PyTorch GRU
layer has, per gate, h x w and h x h matrices and two bias vectors of h; a stack of L stride-1 k x k
convs sees L(k - 1) + 1 rows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_utils.checks import verify
from course_utils.q1.checks import rows_seen_by_stack
from tests.check_tables import table_tests


def conv_by_module(c_in, c_out, k):
    return sum(p.numel() for p in torch.nn.Conv2d(c_in, c_out, k).parameters())


@pytest.mark.parametrize("function", [
    lambda c_in, c_out, k: c_in * c_out * k * k + c_out,
    lambda c_in, c_out, k: c_out * (c_in * k**2 + 1),
    lambda c_in, c_out, k: np.int64(c_out * (c_in * k * k + 1)),
    lambda c_in, c_out, k: torch.tensor(c_out * (c_in * k * k + 1)),
    lambda c_in, c_out, k: float(c_out * (c_in * k * k + 1)),
    conv_by_module,
])
def test_conv_parameters_right(function):
    assert verify("q1.conv_parameters", function).ok


@pytest.mark.parametrize(("function", "hint"), [
    (lambda c_in, c_out, k: c_in * c_out * k * k, "bias"),
    (lambda c_in, c_out, k: c_in * c_out * k + c_out, "k * k positions"),
    (lambda c_in, c_out, k: c_out * k * k + c_out, "every input channel"),
    (lambda c_in, c_out, k: 372, "differs from the right one"),
    (lambda c_in, c_out, k: c_out * (c_in * k * k + 1) + 0.5, "TypeError"),  # not a whole number
    (lambda c_in, c_out: 1, "TypeError"),
])
def test_conv_parameters_wrong(function, hint):
    result = verify("q1.conv_parameters", function)
    assert not result.ok and "not yet. Hint:" in result.message and hint in result.message, result.message


@pytest.mark.parametrize("function", [
    lambda width, hidden: 3 * (hidden * width + hidden * hidden + 2 * hidden),
    lambda width, hidden: 3 * hidden * (width + hidden + 2),
    lambda width, hidden: sum(p.numel() for p in torch.nn.GRU(width, hidden).parameters()),
])
def test_gru_parameters_right(function):
    assert verify("q1.gru_parameters", function).ok


@pytest.mark.parametrize(("function", "hint"), [
    (lambda w, h: 4 * (h * w + h * h + 2 * h), "LSTM"),
    (lambda w, h: 3 * (h * w + h * h + h), "two bias vectors"),
    (lambda w, h: 3 * (h * w + 2 * h), "previous hidden state"),
    (lambda w, h: h * w + h * h + 2 * h, "differs from the right one"),
])
def test_gru_parameters_wrong(function, hint):
    result = verify("q1.gru_parameters", function)
    assert not result.ok and hint in result.message, result.message


@pytest.mark.parametrize(("n_layers", "k"), [(1, 3), (3, 3), (2, 5), (4, 7)])
def test_stack_oracle_is_the_hand_formula(n_layers, k):
    assert rows_seen_by_stack(n_layers, k) == n_layers * (k - 1) + 1


@pytest.mark.parametrize("function", [
    lambda n_layers, k: n_layers * (k - 1) + 1,
    lambda n_layers, k: 1 + sum(k - 1 for _ in range(n_layers)),
    lambda n_layers, k: 2 * n_layers * (k // 2) + 1,  # odd kernels: k // 2 rows on each side per layer
])
def test_stack_rows_seen_right(function):
    assert verify("q1.stack_rows_seen", function).ok


@pytest.mark.parametrize(("function", "hint"), [
    (lambda n, k: n * k, "overlap"),
    (lambda n, k: k**n, "not by a factor"),
    (lambda n, k: n * (k - 1), "differs"),
    (lambda n, k: math.inf, "finite"),
])
def test_stack_rows_seen_wrong(function, hint):
    result = verify("q1.stack_rows_seen", function)
    assert not result.ok and hint in result.message, result.message


@pytest.mark.parametrize("question", ["q1.conv_parameters", "q1.gru_parameters", "q1.stack_rows_seen"])
def test_blank_functions_have_no_answer_yet(question):
    def blank(*args):
        ...

    for value in (blank, ...):
        assert "no answer yet" in verify(question, value).message


WEIRD = [None, "9", 3.5, lambda *args: "x", lambda *args: -1.5, lambda *args: 1 / 0]
_, _, test_weird_input_never_raises_and_a_blank_is_no_answer = table_tests(
    {"q1.conv_parameters": [conv_by_module], "q1.gru_parameters": [lambda w, h: 3 * h * (w + h + 2)],
     "q1.stack_rows_seen": [lambda n, k: n * (k - 1) + 1]}, {}, WEIRD)
