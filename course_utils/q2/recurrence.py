"""Q2's scaffold: the drawing of the network, a table of a run of the student's step, and a generic
induction checker for claimed closed forms.

What the network computes is the question, so nothing here computes it: ``unrolled_table`` runs the
step the student wrote, and ``check_induction`` proves a claim against a recurrence it is given. The
exact simulation (the oracle of the checks) and the key's worked answers are instructor code in
``course_staff.keys.q2``, which the student release does not contain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import sympy as sp

from course_utils.checks.blanks import require

if TYPE_CHECKING:  # matplotlib is imported only when a figure is drawn
    from matplotlib.figure import Figure


#: The most terms one induction step may add to a Sum (a sum over the 2N inputs grows by 2 per step).
MAX_PEEL = 4


def _peel_last(expr: sp.Expr, n: sp.Symbol | None = None) -> sp.Expr:
    """Split off every Sum the terms the induction step added: sum_{lo}^{hi} f = sum_{lo}^{hi-d} f + f(hi-d+1) + ...
    + f(hi), where d = hi(n) - hi(n-1) is how many terms one step adds (1 for a sum over k up to N, 2 for a sum
    over the 2N inputs); d = 1 without ``n``. A Sum whose growth is not a small constant is left whole."""

    def peel(s: sp.Sum) -> sp.Expr:
        (var, lo, hi), body = s.limits[0], s.function
        grow = 1 if n is None else sp.simplify(hi - hi.subs(n, n - 1))
        if not (grow.is_Integer and 1 <= int(grow) <= MAX_PEEL):
            return s
        last = [body.subs(var, hi - i) for i in range(int(grow))]
        return sp.Sum(body, (var, lo, hi - int(grow))) + sp.Add(*last)

    return expr.replace(lambda e: isinstance(e, sp.Sum) and len(e.limits) == 1, peel)


def step_difference(claim: Callable[[sp.Expr], sp.Expr], n: sp.Symbol) -> sp.Expr:
    """claim(n + 1) - claim(n), with the terms each Sum gained split off: free of Sums exactly when sympy
    can follow one induction step of the claim (whatever the recurrence is).

    claim: n -> closed form (Sums whose limits are affine in n). The self-check and the grader both use
    this: a claim whose step sympy cannot follow is told so before grading, not after.
    """
    return sp.simplify(_peel_last(claim(n + 1), n) - claim(n))


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
    Base: claim(0) - base_value. Step: advance(claim(n), n) - claim(n + 1), with the terms each Sum
    of claim(n + 1) gained over claim(n) split off (one for a Sum up to n, two for one up to 2n) so that
    sympy can match the two sides.
    """
    def h(m: sp.Expr) -> str:
        return f"h_{{{sp.sstr(index(m))}}}"

    return InductionProof(
        claim=f"{h(n)} = {sp.sstr(claim(n))}",
        base=f"{h(0)} = {sp.sstr(base_value)}",
        base_residual=sp.simplify(claim(0).doit() - base_value),
        step=f"(recurrence applied to the claimed {h(n)}) - (claimed {h(n + 1)})",
        step_residual=sp.simplify(advance(claim(n), n) - _peel_last(claim(n + 1), n)),
    )


def unrolled_table(xs: Sequence[int], step: Callable) -> str:
    """A text table of ``step`` run over ``xs`` from h_0 = 0: t, x_t, h_t, y_t (y to 4 decimals).

    xs: (T,) integers; step: the student's ``step(h_prev, x) -> (h, y)``. Raises BlankNotFilled
    (one line) while the step is still empty.
    """
    step = require(step, "rnn_step", "q2.step")
    rows, h = [("t", "x_t", "h_t", "y_t")], 0
    for t, x in enumerate(xs, start=1):
        h, y = step(h, x)
        h_text = str(int(float(h))) if float(h).is_integer() else f"{float(h):g}"
        rows.append((str(t), str(x), h_text, f"{float(y):.4f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows)


def draw_network(w_in: int | None = None, w_rec: int | None = None, w_out: float | None = None) -> Figure:
    """Draw the network x_t -> h_t (self-loop) -> y_t with its weights; returns the Figure.

    A weight left out is the current variant's (``course_utils.variants.params("q2")``, read at call time).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, FancyArrowPatch

    from course_utils import variants

    numbers = variants.params("q2")
    w_in = numbers["w_in"] if w_in is None else w_in
    w_rec = numbers["w_rec"] if w_rec is None else w_rec
    w_out = numbers["w_out"] if w_out is None else w_out

    fig, ax = plt.subplots(figsize=(3.8, 5.4))
    for y, text, colour in [(0.0, "xₜ", "#dbe9f6"), (1.6, "hₜ", "#fde7c8"), (3.2, "yₜ", "#d9f0d3")]:
        ax.add_patch(Circle((0, y), 0.4, facecolor=colour, edgecolor="black", lw=1.5))
        ax.text(0, y, text, ha="center", va="center", fontsize=16, style="italic")
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
