"""Q3's answer key (instructor-only): exact weights and norms, the predicted copy error, the key's plot.

With orthogonal base vectors a, b, c, d of norm beta and tokens x1 = d + b, x2 = a, x3 = c + b the
scores are beta^2 [[2, 0, 1], [0, 1, 0], [1, 0, 2]]: every token attends mostly to itself, so
y_i = x_i up to an error of order beta e^(-beta^2). The student release does not contain this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence, Union

import torch
from torch import Tensor

from course_utils.q3.attention import TOKEN_NAMES, copy_errors

if TYPE_CHECKING:
    import sympy
    from matplotlib.figure import Figure

SCORE_PATTERN = ((2, 0, 1), (0, 1, 0), (1, 0, 2))  # X X^T / beta^2


def closed_form_weights(beta: float) -> Tensor:
    """The exact attention weights softmax(beta^2 [[2,0,1],[0,1,0],[1,0,2]]), computed stably.

    Dividing each row by its largest exponential leaves only powers of u = e^(-beta^2) <= 1:
    row 1 = (1, u^2, u) / (1 + u + u^2), row 2 = (u, 1, u) / (1 + 2u), row 3 = (u, u^2, 1) / (1 + u + u^2).
    Returns a (3, 3) float64 tensor.
    """
    u = math.exp(-beta * beta)
    z13, z2 = 1 + u + u * u, 1 + 2 * u
    rows = [[1 / z13, u * u / z13, u / z13], [u / z2, 1 / z2, u / z2], [u / z13, u * u / z13, 1 / z13]]
    return torch.tensor(rows, dtype=torch.float64)


@dataclass(frozen=True)
class SymbolicQ3:
    """Exact Q3 quantities as sympy objects, in terms of the positive symbol ``beta``."""

    beta: "sympy.Symbol"
    norms: list  # [||x1||, ||x2||, ||x3||]
    scores: "sympy.Matrix"  # (3, 3) X X^T
    weights: "sympy.Matrix"  # (3, 3) row-wise softmax of the scores


def symbolic_attention() -> SymbolicQ3:
    """Norms, scores and weights of Q3 exactly, with sympy.

    Only inner products matter, so a, b, c, d may be taken as beta times the standard basis of R^4.
    """
    import sympy as sp

    beta = sp.symbols("beta", positive=True)
    a, b, c, d = (beta * sp.eye(4).row(i) for i in range(4))
    X = sp.Matrix.vstack(d + b, a, c + b)  # (3, 4)
    norms = [sp.simplify(sp.sqrt(X.row(i).dot(X.row(i)))) for i in range(3)]
    scores = X * X.T
    exps = scores.applyfunc(sp.exp)
    weights = sp.Matrix(3, 3, lambda i, j: exps[i, j] / sum(exps.row(i)))
    return SymbolicQ3(beta, norms, scores, weights)


def predicted_copy_error(betas: Union[Sequence[float], Tensor]) -> tuple[Tensor, Tensor]:
    """Exact and leading-order copy errors ||y_i - x_i|| for tokens 1, 2, 3.

    With u = e^(-beta^2) and rows summing to 1, y_i - x_i = sum_j w_ij (x_j - x_i), which gives
      token 1 and 3: beta u sqrt(3u^2 + 2u + 2) / (1 + u + u^2) ~ sqrt(2) beta e^(-beta^2) = ||x3 - x1|| e^(-beta^2),
      token 2:       sqrt(10) beta u / (1 + 2u)              ~ sqrt(10) beta e^(-beta^2) = ||x1 + x3 - 2 x2|| e^(-beta^2).
    betas: (n_beta,), best given in float64 or as Python floats. Returns (exact, leading), each (n_beta, 3) float64.
    """
    betas = torch.as_tensor(betas, dtype=torch.float64)
    u = torch.exp(-betas**2)
    side = betas * u * torch.sqrt(3 * u**2 + 2 * u + 2) / (1 + u + u**2)
    middle = math.sqrt(10) * betas * u / (1 + 2 * u)
    exact = torch.stack([side, middle, side], dim=1)
    leading = torch.stack([math.sqrt(2) * betas * u, math.sqrt(10) * betas * u, math.sqrt(2) * betas * u], dim=1)
    return exact, leading


@dataclass(frozen=True)
class CopySweep:
    """Measured and predicted copy errors over a grid of beta; all tensors float64."""

    betas: Tensor  # (n_beta,)
    error: Tensor  # (n_beta, 3) measured ||y_i - x_i||
    norms: Tensor  # (n_beta, 3) measured ||x_i||
    exact: Tensor  # (n_beta, 3) closed-form ||y_i - x_i||
    leading: Tensor  # (n_beta, 3) leading term, ||.|| * e^(-beta^2)

    @property
    def relative_error(self) -> Tensor:
        """(n_beta, 3) measured ||y_i - x_i|| / ||x_i||."""
        return self.error / self.norms

    @property
    def max_error(self) -> Tensor:
        """(n_beta,) measured max_i ||y_i - x_i||."""
        return self.error.amax(dim=1)

    def summary(self) -> str:
        """A table: beta, measured max error, its closed form, the leading term, measured / leading."""
        rows = [f"{'beta':>6} {'measured':>10} {'closed form':>11} {'leading':>10} {'ratio':>7}"]
        for beta, measured, exact, leading in zip(self.betas.tolist(), self.max_error.tolist(),
                                                  self.exact.amax(dim=1).tolist(), self.leading[:, 1].tolist()):
            rows.append(f"{beta:>6g} {measured:>10.3e} {exact:>11.3e} {leading:>10.3e} {measured / leading:>7.4f}")
        return "\n".join(rows)


def copy_error_sweep(betas: Sequence[float], dim: int = 4, seed: int = 0) -> CopySweep:
    """Run self-attention on the Q3 tokens for each beta; measure ||y_i - x_i|| and predict it.

    betas: the norms to try; dim, seed: as in ``orthogonal_tokens``. Float64 throughout.
    """
    errors, norms = copy_errors(betas, dim, seed)
    grid = torch.tensor(list(betas), dtype=torch.float64)
    exact, leading = predicted_copy_error(grid)
    return CopySweep(grid, errors, norms, exact, leading)


def nearest_tokens(Y: Tensor, X: Tensor) -> list[int]:
    """For each output row of Y, the index of the closest token row of X (Euclidean).

    Y: (n_out, dim); X: (n_tokens, dim). Returns n_out zero-based indices.
    """
    return torch.cdist(Y, X).argmin(dim=1).tolist()




def plot_copy_error(sweep: CopySweep) -> "Figure":
    """Log-scale copy error against beta: measured points, closed form, and leading rate.

    Left: max_i ||y_i - x_i|| with sqrt(10) beta e^(-beta^2); right: relative error per token.
    Zero errors (exact copies in float64) are left out, since a log axis cannot show them.
    """
    import matplotlib.pyplot as plt

    fig, (ax_abs, ax_rel) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    betas = sweep.betas.numpy()
    shown = sweep.max_error.clone()
    shown[shown == 0] = float("nan")
    ax_abs.semilogy(betas, shown.numpy(), "o", label=r"measured $\max_i \|y_i - x_i\|$")
    ax_abs.semilogy(betas, sweep.exact.amax(dim=1).numpy(), "-", label="closed form")
    ax_abs.semilogy(betas, sweep.leading[:, 1].numpy(), "--", label=r"leading term $\sqrt{10}\,\beta e^{-\beta^2}$")
    ax_abs.set(title="absolute copy error (largest token)", xlabel=r"$\beta$", ylabel="error")
    relative = sweep.relative_error.clone()
    relative[relative == 0] = float("nan")
    predicted = sweep.exact / sweep.norms
    for i, (marker, name) in enumerate(zip("o^s", TOKEN_NAMES)):
        line, = ax_rel.semilogy(betas, relative[:, i].numpy(), marker, label=f"{name}: measured")
        ax_rel.semilogy(betas, predicted[:, i].numpy(), "-", color=line.get_color(), alpha=0.6)
    ax_rel.semilogy(betas, torch.exp(-sweep.betas**2).numpy(), "k--", label=r"$e^{-\beta^2}$ (tokens 1, 3)")
    eps = torch.finfo(torch.float64).eps
    ax_rel.axhline(eps, color="gray", lw=0.8, ls=":", label="float64 epsilon")
    ax_rel.set(title=r"relative error $\|y_i - x_i\| / \|x_i\|$ (lines: closed form)",
               xlabel=r"$\beta$", ylabel="relative error")
    for ax in (ax_abs, ax_rel):
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    return fig


