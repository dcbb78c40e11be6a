"""Q2: the key's simulation against a plain-Python oracle written here, its sympy proofs, and the scaffold."""

from __future__ import annotations

import itertools
import math
import random
import warnings
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from course_staff.keys import q2 as q2_key
from course_utils.q2 import recurrence as rec


def oracle(xs, w_in=1, w_rec=-1):
    """Hidden states of h_t = w_in x_t + w_rec h_{t-1}, h_0 = 0, by a plain loop."""
    states, h = [], 0
    for x in xs:
        h = w_in * x + w_rec * h
        states.append(h)
    return states


def oracle_output(xs):
    """1.0 / 0.0 / 0.5 from comparing the position sums directly (positions from 1)."""
    even = sum(x for i, x in enumerate(xs, start=1) if i % 2 == 0)
    odd = sum(x for i, x in enumerate(xs, start=1) if i % 2 == 1)
    bigger, smaller = (even, odd) if len(xs) % 2 == 0 else (odd, even)
    return 1.0 if bigger > smaller else 0.0 if bigger < smaller else 0.5


even_sequences = st.integers(1, 15).flatmap(
    lambda n: st.lists(st.integers(-10**40, 10**40), min_size=2 * n, max_size=2 * n)
)
small_even_sequences = st.integers(1, 15).flatmap(
    lambda n: st.lists(st.integers(-3, 3), min_size=2 * n, max_size=2 * n)
)


@settings(max_examples=400, deadline=None)
@given(even_sequences)
def test_simulate_matches_oracle_on_even_lengths(xs):
    hidden, outputs = q2_key.simulate(xs)
    assert hidden == oracle(xs)
    assert all(type(h) is int for h in hidden)
    assert len(outputs) == len(xs)
    assert hidden[-1] == sum(xs[1::2]) - sum(xs[0::2])
    assert outputs[-1] == oracle_output(xs)


@settings(max_examples=400, deadline=None)
@given(small_even_sequences)
def test_sign_rule_with_frequent_ties(xs):
    # small values make equal position sums common, so the 0.5 branch is exercised
    y_final = q2_key.simulate(xs)[1][-1]
    assert y_final == oracle_output(xs)
    assert q2_key.rule_output(xs) == oracle_output(xs)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-50, 50), min_size=1, max_size=12), st.integers(-4, 4), st.integers(-4, 4))
def test_general_weights_match_oracle(xs, w_in, w_rec):
    assert q2_key.simulate(xs, w_in=w_in, w_rec=w_rec)[0] == oracle(xs, w_in, w_rec)


@pytest.mark.parametrize("magnitude", [10**9, 10**18, 10**30, 10**300])
def test_huge_magnitudes_are_exact(magnitude):
    xs = [magnitude, magnitude + 1, -magnitude, 3, magnitude, magnitude - 7]
    hidden, outputs = q2_key.simulate(xs)
    assert hidden == oracle(xs)
    assert hidden[-1] == (magnitude + 1 + 3 + magnitude - 7) - (magnitude - magnitude + magnitude)
    assert outputs[-1] == oracle_output(xs)
    # a difference of exactly 1 between huge sums is still resolved (floats would lose it)
    tie_breaker = [magnitude, magnitude + 1]
    assert q2_key.simulate(tie_breaker) == ([magnitude, 1], [1.0, 1.0])


def test_numpy_int64_inputs_do_not_overflow():
    xs = np.array([2**62, -(2**62), 2**62, -(2**62)], dtype=np.int64)
    hidden, _ = q2_key.simulate(xs)
    assert hidden == oracle([int(x) for x in xs])
    assert hidden[-1] == -(2**64)  # beyond int64: numpy arithmetic would have wrapped


def test_ties_give_exactly_one_half():
    for xs in ([0, 0], [5, 5], [1, 2, 3, 2], [10**30, 10**30, -4, -4]):
        assert q2_key.simulate(xs)[1][-1] == 0.5
    assert q2_key.sigmoid(0) == 0.5


def test_output_saturates_for_difference_one():
    assert q2_key.simulate([0, 1])[1][-1] == 1.0
    assert q2_key.simulate([1, 0])[1][-1] == 0.0
    # 1 - sigmoid(1000) = e^-1000 / (1 + e^-1000): about 5e-435, far below float64's spacing near 1
    gap = sp.exp(-1000) / (1 + sp.exp(-1000))
    assert sp.N(gap, 5) < sp.Float(2.0**-53)


@pytest.mark.parametrize("z", [10**9, -(10**9), 10**30, -(10**30), 1e308, -1e308, math.inf, -math.inf])
def test_sigmoid_saturates_without_warnings(z):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning (overflow in exp) would fail here
        assert q2_key.sigmoid(z) == (1.0 if z > 0 else 0.0)


def test_simulate_at_plus_minus_1e9_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hidden, outputs = q2_key.simulate([10**9, 0, -(10**9), 0])
    assert hidden == [10**9, -(10**9), 0, 0]
    assert outputs == [1.0, 0.0, 0.5, 0.5]


def test_sigmoid_matches_formula_in_the_moderate_range():
    for z in np.linspace(-30, 30, 61):
        assert q2_key.sigmoid(float(z)) == pytest.approx(1 / (1 + math.exp(-z)), rel=1e-12)


def test_float_output_weight_with_astronomical_state():
    assert q2_key.simulate([10**400], w_out=1000.0)[1] == [1.0]
    assert q2_key.simulate([10**400], w_out=-0.5, b_out=3.0)[1] == [0.0]


def test_empty_sequence_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        q2_key.simulate([])
    with pytest.raises(ValueError, match="empty"):
        q2_key.rule_output([])


@pytest.mark.parametrize("bad", [[1, 2.5], [1.0, 2], ["3", 4], [True, 1]])
def test_non_integer_inputs_are_rejected_with_the_position(bad):
    position = next(i for i, x in enumerate(bad, start=1) if type(x) is not int)
    with pytest.raises(TypeError, match=f"x_{position}"):
        q2_key.simulate(bad)


def test_non_integer_recurrent_weight_is_rejected():
    with pytest.raises(TypeError, match="w_rec"):
        q2_key.simulate([1, 2], w_rec=-0.5)


@pytest.mark.parametrize("n_steps", [1, 2, 3, 4, 7, 8, 12])
def test_final_hidden_against_oracle_and_closed_form(n_steps):
    expr = q2_key.final_hidden(n_steps)
    symbols = q2_key.input_symbols(n_steps)
    assert expr.free_symbols == set(symbols)
    assert sp.expand(expr - q2_key.closed_form(n_steps)) == 0
    sign = 1 if n_steps % 2 == 0 else -1
    expected = sum(sign * (1 if t % 2 == 0 else -1) * x for t, x in enumerate(symbols, start=1))
    assert sp.expand(expr - expected) == 0
    rng = random.Random(n_steps)
    for _ in range(20):
        values = [rng.randint(-10**12, 10**12) for _ in range(n_steps)]
        assert expr.subs(dict(zip(symbols, values))) == oracle(values)[-1]


def test_final_hidden_prints_stably():
    assert sp.sstr(q2_key.final_hidden(4)) == "-x_1 + x_2 - x_3 + x_4"


@pytest.mark.parametrize("n_steps", [1, 2, 5])
def test_closed_form_with_symbolic_weights(n_steps):
    a, b = sp.symbols("a b")
    symbols = q2_key.input_symbols(n_steps)
    expected = sum(a * b ** (n_steps - t) * x for t, x in enumerate(symbols, start=1))
    assert sp.expand(q2_key.final_hidden(n_steps, a, b) - expected) == 0
    assert sp.expand(q2_key.closed_form(n_steps, a, b) - expected) == 0


def test_induction_proofs_hold_for_symbolic_length():
    general = q2_key.prove_closed_form()
    assert general.holds and general.base_residual == 0 and general.step_residual == 0
    assert q2_key.prove_closed_form(1, -1).holds
    even = q2_key.prove_even_length_rule()
    assert even.holds
    assert "holds for every length: True" in str(even)


def test_induction_checker_rejects_wrong_claims():
    x = sp.IndexedBase("x")
    k, N = sp.symbols("k N", integer=True, nonnegative=True)

    def two_steps(h, n):
        return x[2 * n + 2] - (x[2 * n + 1] - h)

    flipped = rec.check_induction(lambda n: sp.Sum(x[2 * k - 1] - x[2 * k], (k, 1, n)), two_steps, N)
    assert flipped.base_residual == 0 and flipped.step_residual != 0 and not flipped.holds
    # the seed's form: (-1)^N (x_1 - x_2 + ... - x_2N + h_1) with h_1 = x_1
    seed = rec.check_induction(
        lambda n: (-1) ** n * (sp.Sum(x[2 * k - 1] - x[2 * k], (k, 1, n)) + x[1]), two_steps, N
    )
    assert not seed.holds


def test_even_length_sum_matches_oracle():
    x = sp.IndexedBase("x")
    values = [4, -9, 11, 2, 0, 7, -3, 3]
    total = q2_key.even_length_sum(4).doit().subs({x[i + 1]: v for i, v in enumerate(values)})
    assert total == oracle(values)[-1]


def test_describe_final_output_for_both_parities():
    even, odd = q2_key.describe_final_output(6), q2_key.describe_final_output(5)
    assert "(sum of even-position inputs) - (sum of odd-position inputs)" in even
    assert "(sum of odd-position inputs) - (sum of even-position inputs)" in odd
    assert "exactly 0.5" in even and "exactly 0.5" in odd
    with pytest.raises(ValueError, match="positive int"):
        q2_key.describe_final_output(0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-5, 5), min_size=1, max_size=15).filter(lambda xs: len(xs) % 2 == 1))
def test_odd_length_sign_flips(xs):
    hidden, outputs = q2_key.simulate(xs)
    assert hidden[-1] == sum(xs[0::2]) - sum(xs[1::2])
    assert outputs[-1] == oracle_output(xs) == q2_key.rule_output(xs)


def test_brute_force_report_counts():
    report = q2_key.brute_force_check(n_sequences=300, max_pairs=6, seed=3)
    assert report.n_sequences == report.n_hidden_match == report.n_output_match == 300
    assert 0 < report.n_ties < 300
    assert report == q2_key.brute_force_check(n_sequences=300, max_pairs=6, seed=3)


def test_biased_output_summary_against_oracle():
    # sigmoid(1000 - h) needs an output bias of 1000 that the figure does not have:
    # for small inputs h_T < 1000, so it says ~1 on every sequence
    total, says_one, wrong = q2_key.biased_output_summary(n_steps=4, max_abs=2)
    sequences = list(itertools.product(range(-2, 3), repeat=4))
    assert total == says_one == len(sequences) == 5**4
    assert wrong == sum(oracle_output(list(xs)) != 1.0 for xs in sequences)


def test_unrolled_table_runs_the_students_step():
    def step(h, x):  # written here: h_t = x_t - h_{t-1}, y_t = sigmoid(1000 h_t)
        h = x - h
        return h, 0.5 * (1 + math.tanh(500 * h))

    xs = [3, 5, -2, 4]
    lines = rec.unrolled_table(xs, step).splitlines()
    assert lines[0].split() == ["t", "x_t", "h_t", "y_t"]
    rows = [line.split() for line in lines[1:]]
    assert [int(r[2]) for r in rows] == oracle(xs)
    assert [r[3] for r in rows] == ["1.0000", "1.0000", "0.0000", "1.0000"]
    assert rec.unrolled_table([1, 2], lambda h, x: (x + h, 0.25)).splitlines()[2].split() == ["2", "2", "3", "0.2500"]


def test_unrolled_table_stops_in_one_line_while_the_step_is_empty():
    from course_utils.checks.blanks import BlankNotFilled

    def rnn_step(h_prev, x):
        ...

    for blank in (..., rnn_step):
        with pytest.raises(BlankNotFilled, match="rnn_step .*q2.step"):
            rec.unrolled_table([1, 2], blank)


def test_the_scaffold_computes_nothing_the_blanks_ask_for():
    for name in ("simulate", "hidden_step", "sigmoid", "final_hidden", "closed_form", "rule_output", "input_symbols"):
        assert not hasattr(rec, name), name
    source = Path(rec.__file__).read_text(encoding="utf-8")
    assert "x_t - h" not in source and "1000 h" not in source


def test_sigmoid_of_37_is_one_in_float64_because_of_the_spacing_below_one():
    # the master's claim: float64's spacing just below 1 is 2^-53, and sigma(z) is 1.0 from z = 37 on
    import torch

    assert 1.0 - np.nextafter(1.0, 0.0) == 2.0**-53
    assert q2_key.sigmoid(36) < 1.0 == q2_key.sigmoid(37) == q2_key.sigmoid(1000)
    assert torch.sigmoid(torch.tensor(36.0, dtype=torch.float64)).item() < 1.0
    assert torch.sigmoid(torch.tensor(37.0, dtype=torch.float64)).item() == 1.0
    assert 1 / (1 + math.exp(-37)) == 1.0 and 1 / (1 + math.exp(-36)) < 1.0
    # sigma(-1000) = 0.0 for the other reason: e^-1000 is below the smallest positive float
    assert math.exp(-1000) == 0.0 and sp.N(sp.exp(-1000), 5) < sp.Float(5e-324)


def test_draw_network_labels_the_weights():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = rec.draw_network()
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"1", "-1", "1000"} <= texts
    assert any("all biases 0" in t for t in texts)
    plt.close(fig)
