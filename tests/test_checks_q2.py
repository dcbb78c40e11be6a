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
from tests.check_tables import graded, table_tests

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


def step_swapped(h, x_t):  # returns (y, h)
    h = x_t - h
    return _sigmoid(1000 * h), h


def step_one_value(h, x_t):
    return x_t - h


RIGHT = {
    "q2.final_hidden": [X2 + X4 - X1 - X3, U2 + U4 - U1 - U3, B2 + B4 - B1 - B3, x[2] + x[4] - x[1] - x[3],
                        "x2 + x4 - x1 - x3", "x_2 + x_4 - x_1 - x_3", "x_{2} + x_{4} - x_{1} - x_{3}",
                        "x[2] + x[4] - x[1] - x[3]", "-x_1 + x_2 - x_3 + x_4", 1.0 * X2 + X4 - X1 - X3,
                        (X4 - X3) - (X1 - X2)],
    "q2.output_a": [0.5, [0.5], (0.5,), np.array([0.5]), np.float32(0.5), torch.tensor(0.5), torch.tensor([0.5]),
                      sp.Rational(1, 2), "0.5", 0.50, 0.499, round(0.5, 2)],
    "q2.output_b": [1.0, 1, [1.0], torch.tensor(1.0), np.float64(1.0), _sigmoid(1000 * 1997), "1.00",
                              0.999],
    "q2.step": [step_torch, step_numpy, step_list],
    "q2.closed_form": [sp.Sum(x[2 * k] - x[2 * k - 1], (k, 1, N)),
                       sp.Sum(x[2 * k], (k, 1, N)) - sp.Sum(x[2 * k - 1], (k, 1, N)),
                       "Sum(x[2*k] - x[2*k-1], (k, 1, N))",
                       lambda n: sp.Sum(-x[2 * k - 1] + x[2 * k], (k, 1, n))],
}
WRONG = {
    "q2.final_hidden": [X1 - X2 + X3 - X4, X4 - X3, X1 + X2 + X3 + X4, "x1*x2", 1000 * (X2 + X4 - X1 - X3)],
    "q2.output_a": [_sigmoid(1000 - 0), 1.0, 0.0, 0.47, 50, [0.5, 0.5]],  # sigmoid(1000 - h): the seed's bias
    "q2.output_b": [_sigmoid(1000 - 1997), 0.5, 0.0, 0.9, 100],
    "q2.step": [step_seed_bias, step_sign, step_no_output_weight, step_math_exp, step_one_value, step_swapped],
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
    no_weight = checks.verify("q2.step", step_no_output_weight).message
    overflow = checks.verify("q2.step", step_math_exp).message
    assert "bias the figure does not have" in seed and "weight on the loop" in sign
    assert "output edge" in no_weight and "overflowed" in overflow
    for message in (seed, sign, no_weight, overflow):
        assert "x-h" not in message.replace(" ", "") and "1000" not in message and " -1" not in message


def test_the_closed_form_hints_name_the_mistake():
    flipped = checks.verify("q2.closed_form", sp.Sum(x[2 * k - 1] - x[2 * k], (k, 1, N))).message
    assert "sign of every input" in flipped
    seed = checks.verify("q2.closed_form", (-1) ** N * (sp.Sum(x[2 * k - 1] - x[2 * k], (k, 1, N)) + x[1])).message
    assert "h_0 = 0" in seed.split("Hint: ")[1].split(" Your h_2N")[0]
    # right for every N >= 1 but not at N = 0: the public case N = 0 catches it
    shifted = sp.Sum(x[2 * k] - x[2 * k - 1], (k, 1, N)) + sp.Piecewise((1, sp.Eq(N, 0)), (0, True))
    assert "public case 1 of" in checks.verify("q2.closed_form", shifted).message


def test_the_old_output_ids_are_checked_as_the_new_ones():
    assert checks.ALIASES == {"q2.tie_output": "q2.output_a", "q2.even_larger_output": "q2.output_b"}
    for old, new in checks.ALIASES.items():
        assert old not in checks.specs() and new in checks.specs() and checks.canonical_id(old) == new
    assert checks.verify("q2.tie_output", 0.5).message == "q2.tie_output: correct."
    assert checks.verify("q2.even_larger_output", 1.0).ok and not checks.verify("q2.even_larger_output", 0.5).ok
    assert checks.verify("q2.tie_output", 1.0).message.endswith(checks.specs()["q2.output_a"].hint)


def test_names_and_hints_announce_no_outcome():
    for question in ("q2.output_a", "q2.output_b", "q2.step", "q2.closed_form", "q2.final_hidden"):
        hint = checks.specs()[question].hint.lower()
        for word in ("tie", "equal", "even", "odd", "larger", "0.5", "x_t - h", "sum of"):
            assert word not in hint, (question, word)


# --- the grader's judges on hidden cases: right answers pass, mistakes and lookup tables fail --------------

def _replay_step(answer):
    """A lookup table: (h_prev, x) -> (h, y) recorded from ``answer`` on the public sequences only."""
    seen = {}
    for xs in checks.specs()["q2.step"].public_cases:
        h = 0
        for x_t in xs:
            seen[(h, x_t)] = answer(h, x_t)
            h = seen[(h, x_t)][0]
    return lambda h, x_t: seen.get((h, x_t), (0, 0.5))


def _replay_claim():
    """A Piecewise in N that gives the right values on the public sequences, knowing nothing of the network."""
    values = [sum(xs[1::2]) - sum(xs[0::2]) for xs in checks.specs()["q2.closed_form"].public_cases]
    return sp.Piecewise(*[(v, sp.Eq(N, n)) for n, v in enumerate(values)], (0, True))


def test_right_answers_pass_the_graders_hidden_cases():
    for step in RIGHT["q2.step"]:
        assert graded("q2.step", step) == (True, "")
    for claim in RIGHT["q2.closed_form"]:
        assert graded("q2.closed_form", claim) == (True, ""), claim


def test_wrong_answers_fail_the_graders_hidden_cases():
    for step in WRONG["q2.step"]:
        assert not graded("q2.step", step)[0], step
    for claim in WRONG["q2.closed_form"]:
        assert not graded("q2.closed_form", claim)[0], claim
    def empty(h, x_t):
        ...

    ok, detail = graded("q2.step", empty)
    assert not ok and "no answer yet" in detail


def test_a_lookup_table_of_the_public_cases_passes_the_self_check_only():
    table = _replay_step(step_torch)
    assert checks.verify("q2.step", table).ok
    assert not graded("q2.step", table)[0]
    claim = _replay_claim()
    assert checks.verify("q2.closed_form", claim).ok
    ok, detail = graded("q2.closed_form", claim)
    assert not ok and "hidden sequence" in detail


def test_the_grader_proves_the_closed_form_by_induction():
    # right on every concrete length, but no sympy proof with a symbolic N: only the symbolic case catches it
    from course_staff.keys import q2 as q2_key

    right = sp.Sum(x[2 * k] - x[2 * k - 1], (k, 1, N))
    assert q2_key.compare_claim(right, None, {"symbolic": True}) == (True, "")
    base = q2_key.compare_claim(right + 1, None, {"symbolic": True})
    assert not base[0] and "base case" in base[1]
    step = q2_key.compare_claim(right + N * (N - 1) * x[1], None, {"symbolic": True})
    assert not step[0]
