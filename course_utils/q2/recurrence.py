"""Q2: a scalar linear RNN, h_t = w_in x_t + w_rec h_{t-1}, y_t = sigmoid(w_out h_t + b_out), h_0 = 0.

The scaffold of the question: the exact simulation (integer inputs keep every hidden state an
exact Python int, so it is the oracle the self-checks compare with), a table of an unrolled run,
the drawing, and a generic induction checker for claimed closed forms. What the network computes
is the question, so no function here says it; the key's worked answers (the unrolled h_T, the
proofs, the rule in words) are instructor code in ``course_staff.q2_key``, which the student
release does not contain.
"""

from __future__ import annotations

import itertools
import math
import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import sympy as sp


if TYPE_CHECKING:  # matplotlib is imported only when a figure is drawn
    from matplotlib.figure import Figure


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


def hidden_step(h_prev: sp.Expr | int, x: sp.Expr | int, w_in: sp.Expr | int = 1,
                w_rec: sp.Expr | int = -1) -> sp.Expr | int:
    """One hidden update w_in x + w_rec h_prev, for ints and sympy expressions alike (the oracle of the checks)."""
    return w_in * x + w_rec * h_prev


def sigmoid(z: float) -> float:
    """Numerically stable logistic function 1 / (1 + e^-z) for any real or (huge) int ``z``.

    Never overflows or warns; exact at z = 0; returns 1.0 for z >= 37 and 0.0 for
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
    hidden = list(itertools.accumulate(xs, lambda h, x: hidden_step(h, x, w_in, w_rec), initial=0))[1:]
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
    ax.text(0.0, -0.75, "all biases 0", ha="center", va="top", fontsize=11)
    ax.set_xlim(-1.7, 1.7)
    ax.set_ylim(-1.2, 3.7)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("Q2: the recurrent network")
    return fig
