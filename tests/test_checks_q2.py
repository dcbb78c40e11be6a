"""Q2 self-checks judge right: every right form students write passes, every known wrong one fails.

Oracles worked out by hand here: h_4 = x_2 + x_4 - x_1 - x_3, y_4 = sigmoid(1000 h_4) with no bias,
h_2N = sum_k (x_2k - x_2k-1); none of them comes from the package code that built the registry.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp
import torch

from course_utils import checks
from tests.check_tables import table_tests

x = sp.IndexedBase("x")
k, t = sp.symbols("k t", integer=True)
N = sp.Symbol("N", integer=True, nonnegative=True)
X1, X2, X3, X4 = sp.symbols("x1:5")
U1, U2, U3, U4 = sp.symbols("x_1:5", integer=True)
B1, B2, B3, B4 = (sp.Symbol(f"x_{{{i}}}") for i in range(1, 5))


def _sigmoid(z: float) -> float:
    return 0.5 * (1 + math.tanh(z / 2))  # never overflows


def step_torch(h, x_t):
    h = x_t - h
    return h, torch.sigmoid(torch.tensor(1000.0 * h)).item()


def step_numpy(h, x_t):
    h = np.int64(x_t) - h
    return h, float(1 / (1 + np.exp(-1000.0 * h)))  # overflows to inf quietly: 1 / inf = 0


def step_list(h, x_t):
    return [x_t - h, _sigmoid(1000 * (x_t - h))]


def step_seed_bias(h, x_t):  # the seed's sigmoid(1000 - h)
    return x_t - h, _sigmoid(1000 - (x_t - h))


def step_sign(h, x_t):  # recurrent weight +1
    return x_t + h, _sigmoid(1000 * (x_t + h))


def step_no_output_weight(h, x_t):
    return x_t - h, _sigmoid(x_t - h)


def step_math_exp(h, x_t):  # overflows for h <= -1
    h = x_t - h
    return h, 1 / (1 + math.exp(-1000 * h))


def step_one_value(h, x_t):
    return x_t - h


RIGHT = {
    "q2.final_hidden": [X2 + X4 - X1 - X3, U2 + U4 - U1 - U3, B2 + B4 - B1 - B3, x[2] + x[4] - x[1] - x[3],
                        "x2 + x4 - x1 - x3", "x_2 + x_4 - x_1 - x_3", "x_{2} + x_{4} - x_{1} - x_{3}",
                        "x[2] + x[4] - x[1] - x[3]", "-x_1 + x_2 - x_3 + x_4", 1.0 * X2 + X4 - X1 - X3,
                        (X4 - X3) - (X1 - X2)],
    "q2.tie_output": [0.5, [0.5], (0.5,), np.array([0.5]), np.float32(0.5), torch.tensor(0.5), torch.tensor([0.5]),
                      sp.Rational(1, 2), "0.5", 0.50, 0.499, round(0.5, 2)],
    "q2.even_larger_output": [1.0, 1, [1.0], torch.tensor(1.0), np.float64(1.0), _sigmoid(1000 * 1997), "1.00",
                              0.999],
    "q2.step": [step_torch, step_numpy, step_list],
    "q2.closed_form": [sp.Sum(x[2 * k] - x[2 * k - 1], (k, 1, N)),
                       sp.Sum(x[2 * k], (k, 1, N)) - sp.Sum(x[2 * k - 1], (k, 1, N)),
                       "Sum(x[2*k] - x[2*k-1], (k, 1, N))",
                       lambda n: sp.Sum(-x[2 * k - 1] + x[2 * k], (k, 1, n))],
}
WRONG = {
    "q2.final_hidden": [X1 - X2 + X3 - X4, X4 - X3, X1 + X2 + X3 + X4, "x1*x2", 1000 * (X2 + X4 - X1 - X3)],
    "q2.tie_output": [_sigmoid(1000 - 0), 1.0, 0.0, 0.47, 50, [0.5, 0.5]],  # sigmoid(1000 - h): the seed's bias
    "q2.even_larger_output": [_sigmoid(1000 - 1997), 0.5, 0.0, 0.9, 100],
    "q2.step": [step_seed_bias, step_sign, step_no_output_weight, step_math_exp, step_one_value],
    "q2.closed_form": [sp.Sum(x[2 * k - 1] - x[2 * k], (k, 1, N)), sp.Sum(x[2 * k], (k, 1, N)),
                       sp.Sum(x[2 * k] - x[2 * k - 1], (k, 0, N)) + 1, x[2 * N] - x[2 * N - 1],
                       sp.Sum(x[2 * k] - x[2 * k - 1], (k, 1, N)) + x[1]],
}
WEIRD = [None, "", "???", "(((", [], {}, object(), float("nan"), float("inf"), lambda *a: 1 / 0, "x_99", True]


(test_right_answers_pass, test_wrong_answers_fail_with_the_hint,
 test_weird_input_never_raises_and_a_blank_is_no_answer) = table_tests(RIGHT, WRONG, WEIRD)


def test_a_step_or_closed_form_with_an_empty_body_is_no_answer():
    def step(h, x_t):
        ...

    assert checks.verify("q2.step", step).message.startswith("q2.step: no answer yet: ")


def test_the_step_hints_say_where_without_the_weights():
    seed = checks.verify("q2.step", step_seed_bias).message
    sign = checks.verify("q2.step", step_sign).message
    overflow = checks.verify("q2.step", step_math_exp).message
    assert "output differs" in seed and "hidden state differs" in sign and "overflowed" in overflow
    for message in (seed, sign, overflow):
        assert "x - h" not in message.replace(" ", "") and "1000" not in message


def test_the_closed_form_hints_name_the_failing_part():
    assert "different h_2" in checks.verify("q2.closed_form", sp.Sum(x[2 * k - 1] - x[2 * k], (k, 1, N))).message
    # right for every N >= 1 but not at N = 0: the base case fails
    shifted = sp.Sum(x[2 * k] - x[2 * k - 1], (k, 1, N)) + sp.Piecewise((1, sp.Eq(N, 0)), (0, True))
    assert "base case" in checks.verify("q2.closed_form", shifted).message
