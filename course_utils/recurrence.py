"""Q2: the scalar linear RNN h_t = w_in x_t + w_rec h_{t-1}, y_t = sigmoid(w_out h_t + b_out).

The question's network has w_in = 1, w_rec = -1, w_out = 1000 and no biases, so
h_t = x_t - h_{t-1} (h_0 = 0) and y_t = sigmoid(1000 h_t). For an even length 2N,
h_2N = (x_2 + x_4 + ... + x_2N) - (x_1 + x_3 + ... + x_2N-1). Integer inputs keep every
hidden state an exact Python int; the sympy helpers unroll and prove the closed form.
"""

from __future__ import annotations

import itertools
import math
import operator
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import sympy as sp

if TYPE_CHECKING:  # matplotlib is imported only when a figure is drawn
    from matplotlib.figure import Figure

_X = sp.IndexedBase("x")  # x[t]: the input at step t, for statements about every length
_T, _N, _t, _k = sp.symbols("T N t k", integer=True, nonnegative=True)


def _exact_int(value: object, what: str) -> int:
    """``value`` as a Python int (numpy and sympy integers accepted), else a TypeError."""
    if isinstance(value, bool):
        raise TypeError(f"{what} = {value!r} is a bool; pass the integer 0 or 1 instead.")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what} = {value!r} is not an integer: the question's inputs are integers and the "
                        "hidden states are exact only for integers; pass int(v) for whole numbers.") from None


def _validated(xs: Sequence[int]) -> list[int]:
    """``xs`` as a non-empty list of exact Python ints, else a ValueError/TypeError saying why."""
    xs = [_exact_int(x, f"x_{i}") for i, x in enumerate(xs, start=1)]
    if not xs:
        raise ValueError("xs is empty: there is no final output y_T without at least one input x_1 "
                         "(the question uses an even length 2N >= 2).")
    return xs


def _step(h_prev: sp.Expr | int, x: sp.Expr | int, w_in: sp.Expr | int = 1, w_rec: sp.Expr | int = -1) -> sp.Expr | int:
    """One step of the recurrence, for ints and sympy expressions alike."""
    return w_in * x + w_rec * h_prev


def sigmoid(z: float) -> float:
    """Numerically stable logistic function 1 / (1 + e^-z) for any real or (huge) int ``z``.

    Never overflows or warns; returns exactly 0.5 at z = 0, 1.0 for z >= 37 and 0.0 for
    z <= -746 (the true values differ from these by less than float resolution).
    """
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-min(z, 1000)))
    e = math.exp(max(z, -1000))
    return e / (1.0 + e)


def simulate(
    xs: Sequence[int], w_in: int = 1, w_rec: int = -1, w_out: float = 1000, b_out: float = 0
) -> tuple[list[int], list[float]]:
    """Run the network over ``xs`` from h_0 = 0.

    xs: (T,) integers, T >= 1 (numpy/sympy integers are converted to exact Python ints).
    w_in, w_rec: integer weights, so hidden states stay exact at any magnitude (10**30 too).
    w_out, b_out: output weight and bias, y_t = sigmoid(w_out h_t + b_out).
    Returns (hidden, outputs): ``hidden`` a list of T ints h_1..h_T, ``outputs`` a list of
    T floats y_1..y_T in [0, 1].
    """
    xs = _validated(xs)
    w_in, w_rec = _exact_int(w_in, "w_in"), _exact_int(w_rec, "w_rec")
    hidden = list(itertools.accumulate(xs, lambda h, x: _step(h, x, w_in, w_rec), initial=0))[1:]
    return hidden, [sigmoid(_logit(w_out, h, b_out)) for h in hidden]


def _logit(w_out: float, h: int, b_out: float) -> float:
    """w_out h + b_out; a product too large for a float saturates to +-inf (b_out is negligible)."""
    try:
        return w_out * h + b_out
    except OverflowError:  # float w_out times an int beyond 1.8e308
        return math.copysign(math.inf, w_out) * (1 if h > 0 else -1)


def input_symbols(n_steps: int) -> tuple[sp.Symbol, ...]:
    """The integer sympy symbols x_1..x_n (n = ``n_steps`` >= 1)."""
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps = {n_steps!r}: pass a positive int, the sequence length T.")
    return sp.symbols(f"x_1:{n_steps + 1}", integer=True)


def final_hidden(n_steps: int, w_in: sp.Expr | int = 1, w_rec: sp.Expr | int = -1) -> sp.Expr:
    """h_T in the symbols x_1..x_T, by unrolling the recurrence T = ``n_steps`` times.

    w_in, w_rec: numbers or sympy symbols. Returns an expanded sympy expression.
    """
    h = sp.Integer(0)
    for x in input_symbols(n_steps):
        h = sp.expand(_step(h, x, w_in, w_rec))
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


def _peel_last(expr: sp.Expr) -> sp.Expr:
    """Split the last term off every Sum: sum_{lo}^{hi} f = sum_{lo}^{hi-1} f + f(hi)."""

    def peel(s: sp.Sum) -> sp.Expr:
        (var, lo, hi), body = s.limits[0], s.function
        return sp.Sum(body, (var, lo, hi - 1)) + body.subs(var, hi)

    return expr.replace(lambda e: isinstance(e, sp.Sum) and len(e.limits) == 1, peel)


@dataclass(frozen=True)
class InductionProof:
    """Result of ``check_induction``: residuals that are 0 exactly when the proof goes through."""

    claim: str
    base: str
    base_residual: sp.Expr
    step: str
    step_residual: sp.Expr

    @property
    def holds(self) -> bool:
        """True when both the base case and the induction step simplify to 0."""
        return self.base_residual == 0 and self.step_residual == 0

    def __str__(self) -> str:
        return "\n".join([
            f"claim: {self.claim}",
            f"base:  {self.base}   residual = {sp.sstr(self.base_residual)}",
            f"step:  {self.step}   residual = {sp.sstr(self.step_residual)}",
            f"holds for every length: {self.holds}",
        ])


def check_induction(
    claim: Callable[[sp.Expr], sp.Expr],
    advance: Callable[[sp.Expr, sp.Expr], sp.Expr],
    n: sp.Symbol,
    base_value: sp.Expr | int = 0,
    index: Callable[[sp.Expr], sp.Expr] = lambda n: n,
) -> InductionProof:
    """Prove that h_{index(n)} = ``claim(n)`` for every integer n >= 0, by induction on a symbolic n.

    claim: n -> the closed form (may contain Sums whose upper limit is n).
    advance: (h_{index(n)}, n) -> h_{index(n+1)}, the recurrence. base_value: h_{index(0)}.
    Base: claim(0) - base_value. Step: advance(claim(n), n) - claim(n + 1), with the last
    term of each Sum in claim(n + 1) split off so that sympy can match the two sides.
    """
    def h(m: sp.Expr) -> str:
        return f"h_{{{sp.sstr(index(m))}}}"

    return InductionProof(
        claim=f"{h(n)} = {sp.sstr(claim(n))}",
        base=f"{h(0)} = {sp.sstr(base_value)}",
        base_residual=sp.simplify(claim(0).doit() - base_value),
        step=f"(recurrence applied to the claimed {h(n)}) - (claimed {h(n + 1)})",
        step_residual=sp.simplify(advance(claim(n), n) - _peel_last(claim(n + 1))),
    )


def prove_closed_form(w_in: sp.Expr | None = None, w_rec: sp.Expr | None = None) -> InductionProof:
    """Induction proof that h_T = sum_t w_in w_rec^(T-t) x_t for every T (symbolic weights by default)."""
    w_in = sp.Symbol("w_in") if w_in is None else w_in
    w_rec = sp.Symbol("w_rec") if w_rec is None else w_rec
    return check_induction(
        lambda T: closed_form_sum(T, w_in, w_rec),
        lambda h, T: _step(h, _X[T + 1], w_in, w_rec),
        _T,
    )


def prove_even_length_rule() -> InductionProof:
    """Induction over N (two steps at a time) that h_2N = sum_k (x_2k - x_2k-1) for this network."""
    return check_induction(
        even_length_sum,
        lambda h, N: _step(_step(h, _X[2 * N + 1]), _X[2 * N + 2]),
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


def unrolled_table(xs: Sequence[int], w_out: float = 1000) -> str:
    """A text table of the unrolled network: t, x_t, h_t, w_out*h_t, y_t (y to 4 decimals)."""
    hidden, outputs = simulate(xs, w_out=w_out)
    rows = [("t", "x_t", "h_t", f"{w_out:g}*h_t", "y_t")]
    rows += [(str(t), str(x), str(h), str(w_out * h), f"{y:.4f}")
             for t, (x, h, y) in enumerate(zip(xs, hidden, outputs), start=1)]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows)


def draw_network(w_in: int = 1, w_rec: int = -1, w_out: float = 1000) -> Figure:
    """Draw the network x_t -> h_t (self-loop) -> y_t with its weights; returns the Figure."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, FancyArrowPatch

    fig, ax = plt.subplots(figsize=(3.8, 5.4))
    for y, text, colour in [(0.0, "$x_t$", "#dbe9f6"), (1.6, "$h_t$", "#fde7c8"), (3.2, "$y_t$", "#d9f0d3")]:
        ax.add_patch(Circle((0, y), 0.4, facecolor=colour, edgecolor="black", lw=1.5))
        ax.text(0, y, text, ha="center", va="center", fontsize=16)
    arrow = dict(arrowstyle="-|>", mutation_scale=18, lw=1.6, color="black")
    ax.add_patch(FancyArrowPatch((0, 0.4), (0, 1.2), **arrow))
    ax.add_patch(FancyArrowPatch((0, 2.0), (0, 2.8), **arrow))
    ax.add_patch(FancyArrowPatch((0.3, 1.87), (0.3, 1.33), connectionstyle="arc3,rad=-2.6", **arrow))
    ax.text(-0.15, 0.8, f"{w_in:g}", ha="right", va="center", fontsize=14)
    ax.text(-0.15, 2.4, f"{w_out:g}", ha="right", va="center", fontsize=14)
    ax.text(1.2, 1.6, f"{w_rec:g}", ha="left", va="center", fontsize=14)
    ax.text(0.0, -0.75, "all biases 0\n" rf"$h_t = {w_in:g}\cdot x_t + ({w_rec:g})\cdot h_{{t-1}}$,  $h_0 = 0$"
            "\n" rf"$y_t = \sigma({w_out:g}\cdot h_t)$", ha="center", va="top", fontsize=11)
    ax.set_xlim(-1.7, 1.7)
    ax.set_ylim(-1.75, 3.7)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("Q2: the recurrent network")
    return fig
