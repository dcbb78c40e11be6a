"""Q2's answer key (instructor-only): the unrolled h_T, closed forms, their induction proofs, the rule.

For this network (w_in = 1, w_rec = -1, w_out = 1000, no bias), h_t = x_t - h_{t-1} and for an even
length 2N, h_2N = (x_2 + x_4 + ... + x_2N) - (x_1 + x_3 + ... + x_2N-1). The notebook's key cells call
these; the student release does not contain this module.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Sequence

import sympy as sp

from course_utils.q2.recurrence import (InductionProof, _validated, check_induction, hidden_step, input_symbols,
                                     simulate)

_X = sp.IndexedBase("x")  # x[t]: the input at step t, for statements about every length
_T, _N, _t, _k = sp.symbols("T N t k", integer=True, nonnegative=True)


def final_hidden(n_steps: int, w_in: sp.Expr | int = 1, w_rec: sp.Expr | int = -1) -> sp.Expr:
    """h_T in the symbols x_1..x_T, by unrolling the recurrence T = ``n_steps`` times.

    w_in, w_rec: numbers or sympy symbols. Returns an expanded sympy expression.
    """
    h = sp.Integer(0)
    for x in input_symbols(n_steps):
        h = sp.expand(hidden_step(h, x, w_in, w_rec))
    return h


def closed_form_sum(T: sp.Expr | int = _T, w_in: sp.Expr | int = 1, w_rec: sp.Expr | int = -1) -> sp.Sum:
    """The claimed closed form h_T = sum_{t=1}^{T} w_in w_rec^(T-t) x[t], as a sympy Sum.

    T: a symbol (any length) or an int; the inputs are the indexed symbols x[t].
    """
    return sp.Sum(w_in * w_rec ** (T - _t) * _X[_t], (_t, 1, T))


def closed_form(n_steps: int, w_in: sp.Expr | int = 1, w_rec: sp.Expr | int = -1) -> sp.Expr:
    """``closed_form_sum`` evaluated for a concrete length, in the symbols x_1..x_T."""
    xs = input_symbols(n_steps)
    total = closed_form_sum(n_steps, w_in, w_rec).doit()
    return sp.expand(total.subs({_X[i]: xs[i - 1] for i in range(1, n_steps + 1)}))


def even_length_sum(N: sp.Expr | int = _N) -> sp.Sum:
    """The specialised claim h_2N = sum_{k=1}^{N} (x[2k] - x[2k-1]) for w_in = 1, w_rec = -1."""
    return sp.Sum(_X[2 * _k] - _X[2 * _k - 1], (_k, 1, N))


def prove_closed_form(w_in: sp.Expr | None = None, w_rec: sp.Expr | None = None) -> InductionProof:
    """Induction proof that h_T = sum_t w_in w_rec^(T-t) x_t for every T (symbolic weights by default)."""
    w_in = sp.Symbol("w_in") if w_in is None else w_in
    w_rec = sp.Symbol("w_rec") if w_rec is None else w_rec
    return check_induction(
        lambda T: closed_form_sum(T, w_in, w_rec),
        lambda h, T: hidden_step(h, _X[T + 1], w_in, w_rec),
        _T,
    )


def prove_even_length_rule() -> InductionProof:
    """Induction over N (two steps at a time) that h_2N = sum_k (x_2k - x_2k-1) for this network."""
    return check_induction(
        even_length_sum,
        lambda h, N: hidden_step(hidden_step(h, _X[2 * N + 1]), _X[2 * N + 2]),
        _N,
        index=lambda N: 2 * N,
    )


def describe_final_output(n_steps: int) -> str:
    """In words: what y_T = sigmoid(1000 h_T) computes for a sequence of length ``n_steps``."""
    input_symbols(n_steps)  # validates n_steps
    big, small = ("even", "odd") if n_steps % 2 == 0 else ("odd", "even")
    return (
        f"T = {n_steps} ({'even' if n_steps % 2 == 0 else 'odd'}): "
        f"h_T = (sum of {big}-position inputs) - (sum of {small}-position inputs). "
        f"y_T is ~1 when the {big}-position sum is larger, ~0 when it is smaller, "
        f"and exactly 0.5 when the two sums are equal."
    )


def rule_output(xs: Sequence[int]) -> float:
    """The saturated output the parity rule predicts for integer ``xs``: 1.0, 0.0 or 0.5.

    xs: (T,) integers, T >= 1. Compares the even- and odd-position sums (positions from 1).
    """
    xs = _validated(xs)
    diff = sum(xs[1::2]) - sum(xs[0::2])
    diff = diff if len(xs) % 2 == 0 else -diff
    return 0.5 if diff == 0 else float(diff > 0)


@dataclass(frozen=True)
class BruteForceReport:
    """Counts from ``brute_force_check``."""

    n_sequences: int
    n_hidden_match: int
    n_output_match: int
    n_ties: int
    max_abs_input: int


def brute_force_check(
    n_sequences: int = 10_000, max_pairs: int = 10, seed: int = 0
) -> BruteForceReport:
    """Random even-length integer sequences: simulation vs closed form and vs the parity rule.

    Lengths 2..2*max_pairs; magnitudes from 1 to 10**30 (small ranges make ties common).
    """
    rng = random.Random(seed)  # local generator: no global state touched
    evaluate = {2 * p: sp.lambdify(input_symbols(2 * p), closed_form(2 * p), "math")
                for p in range(1, max_pairs + 1)}
    hidden_ok = output_ok = ties = biggest = 0
    for _ in range(n_sequences):
        bound = rng.choice([1, 3, 10, 10**3, 10**9, 10**30])
        xs = [rng.randint(-bound, bound) for _ in range(2 * rng.randint(1, max_pairs))]
        hidden, outputs = simulate(xs)
        expected = rule_output(xs)
        hidden_ok += hidden[-1] == evaluate[len(xs)](*xs)
        output_ok += outputs[-1] == expected
        ties += expected == 0.5
        biggest = max(biggest, *map(abs, xs))
    return BruteForceReport(n_sequences, hidden_ok, output_ok, ties, biggest)


def biased_output_summary(n_steps: int = 4, max_abs: int = 3) -> tuple[int, int, int]:
    """The seed's mistake y = sigmoid(1000 - h_T) (weight -1, bias 1000) on every small sequence.

    Runs all integer sequences of length ``n_steps`` with entries in [-max_abs, max_abs].
    Returns (n_sequences, n_where_it_says_1, n_where_it_differs_from_the_correct_y_T).
    """
    total = says_one = wrong = 0
    for xs in itertools.product(range(-max_abs, max_abs + 1), repeat=n_steps):
        biased = simulate(xs, w_out=-1, b_out=1000)[1][-1]
        total, says_one = total + 1, says_one + (biased > 0.5)
        wrong += biased != simulate(xs)[1][-1]
    return total, says_one, wrong


