"""Weight-free self-attention (Q3): each token is its own query, key and value.

The course's definition is *unscaled*: weights = softmax(X X^T) row by row, no 1/sqrt(dim).
With orthogonal base vectors a, b, c, d of norm beta and tokens x1 = d + b, x2 = a, x3 = c + b
the scores are beta^2 [[2, 0, 1], [0, 1, 0], [1, 0, 2]]: every token attends mostly to itself,
so y_i = x_i up to an error of order beta e^(-beta^2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence, Union

import torch
from torch import Tensor

if TYPE_CHECKING:  # heavy or optional imports happen inside the functions that need them
    import sympy
    from matplotlib.figure import Figure

Scale = Union[float, str, None]
TOKEN_NAMES = ("x1 = d + b", "x2 = a", "x3 = c + b")
SCORE_PATTERN = ((2, 0, 1), (0, 1, 0), (1, 0, 2))  # X X^T / beta^2


def _scale_factor(scale: Scale, dim: int) -> float:
    """The number that multiplies the scores: 1.0 for None, a given positive float, or 1/sqrt(dim).

    Note: torch's scaled_dot_product_attention reads scale=None as 1/sqrt(dim); this course's
    weight-free attention is unscaled, so here None means 1.0 and "sqrt" asks for 1/sqrt(dim).
    """
    if scale is None:
        return 1.0
    if isinstance(scale, str):
        if scale == "sqrt":
            return 1.0 / math.sqrt(dim)
        raise ValueError(f"scale={scale!r} is not understood: use 'sqrt' or a positive number.")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale < math.inf:
        raise ValueError(f"scale={scale!r} must be a positive finite number or 'sqrt'.")
    return float(scale)


def attention(queries: Tensor, keys: Tensor, values: Tensor, scale: Scale = None) -> tuple[Tensor, Tensor]:
    """Softmax attention: weights = softmax(scale * Q K^T) row by row, outputs = weights @ V.

    queries: (n_queries, dim); keys: (n_keys, dim); values: (n_keys, dim_v), floating point.
    scale: None (this course's default: unscaled, i.e. 1.0), any positive float, or "sqrt" for
    1/sqrt(dim) (the Transformer convention, and what torch's SDPA does for scale=None).
    Returns (outputs (n_queries, dim_v), weights (n_queries, n_keys)); weight rows sum to 1.
    Stable for any magnitude: each row's maximum score is subtracted before exponentiating,
    so the largest term is exp(0) = 1 and nothing overflows (beta = 1000 gives exact copies).
    """
    for name, t in (("queries", queries), ("keys", keys), ("values", values)):
        if t.dim() != 2 or not t.is_floating_point():
            raise ValueError(f"{name} must be a 2-D floating-point tensor (rows are tokens), got "
                             f"shape {tuple(t.shape)} and dtype {t.dtype}; convert with .double().")
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} contains inf or NaN; attention needs finite tokens.")
    if queries.shape[1] != keys.shape[1] or keys.shape[0] != values.shape[0]:
        raise ValueError(f"shapes do not fit: queries {tuple(queries.shape)}, keys {tuple(keys.shape)}, "
                         f"values {tuple(values.shape)}; need (n_q, dim), (n_k, dim), (n_k, dim_v).")
    scores = _scale_factor(scale, queries.shape[1]) * (queries @ keys.T)  # (n_q, n_k)
    shifted = scores - scores.amax(dim=1, keepdim=True)  # every row now peaks at exactly 0
    exps = shifted.exp()
    weights = exps / exps.sum(dim=1, keepdim=True)
    return weights @ values, weights


def self_attention(X: Tensor, scale: Scale = None) -> tuple[Tensor, Tensor]:
    """Weight-free self-attention: queries, keys and values are the tokens X themselves.

    X: (n_tokens, dim), rows are tokens (float64 recommended, float32 accepted).
    scale: None (default: unscaled, as in this course), a positive float, or "sqrt" for 1/sqrt(dim).
    Returns (Y (n_tokens, dim), weights (n_tokens, n_tokens)) with Y = weights @ X.
    """
    return attention(X, X, X, scale)


def orthogonal_tokens(beta: float, dim: int = 4, seed: int = 0,
                      dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
    """The base vectors a, b, c, d (orthogonal, norm beta) and the tokens x1 = d+b, x2 = a, x3 = c+b.

    beta: the common norm (> 0); dim: ambient dimension (>= 4); seed: picks the random
    orthonormal basis (QR of a seeded Gaussian matrix, with a private generator).
    Returns (basis (4, dim) with rows a, b, c, d; X (3, dim) with rows x1, x2, x3).
    """
    if dim < 4:
        raise ValueError(f"dim={dim} is too small: four orthogonal base vectors a, b, c, d need dim >= 4.")
    if not 0 < beta < math.inf:
        raise ValueError(f"beta={beta!r} must be a positive finite number.")
    generator = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(dim, 4, generator=generator, dtype=torch.float64))
    basis = beta * q.T  # (4, dim), orthonormal rows scaled to norm beta
    a, b, c, d = basis
    X = torch.stack([d + b, a, c + b])
    return basis.to(dtype), X.to(dtype)


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
    errors, norms = [], []
    for beta in betas:
        _, X = orthogonal_tokens(beta, dim, seed)
        Y, _ = self_attention(X)
        errors.append(torch.linalg.vector_norm(Y - X, dim=1))
        norms.append(torch.linalg.vector_norm(X, dim=1))
    grid = torch.tensor(list(betas), dtype=torch.float64)
    exact, leading = predicted_copy_error(grid)
    return CopySweep(grid, torch.stack(errors), torch.stack(norms), exact, leading)


def nearest_tokens(Y: Tensor, X: Tensor) -> list[int]:
    """For each output row of Y, the index of the closest token row of X (Euclidean).

    Y: (n_out, dim); X: (n_tokens, dim). Returns n_out zero-based indices.
    """
    return torch.cdist(Y, X).argmin(dim=1).tolist()


def swap_query_map(basis: Tensor) -> Tensor:
    """A query map W_q (dim, dim) that exchanges the c and d directions and fixes the rest.

    basis: (4, dim) rows a, b, c, d from ``orthogonal_tokens``. Queries are X @ W_q, so
    x1 = d + b asks for c + b (attends to x3) and x3 asks for d + b (attends to x1).
    W_q is orthogonal and symmetric (a reflection), so it keeps every norm.
    """
    c_hat, d_hat = basis[2] / basis[2].norm(), basis[3] / basis[3].norm()
    eye = torch.eye(basis.shape[1], dtype=basis.dtype)
    return (eye - torch.outer(c_hat, c_hat) - torch.outer(d_hat, d_hat)
            + torch.outer(c_hat, d_hat) + torch.outer(d_hat, c_hat))


def swapped_query_demo(beta: float, dim: int = 4, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """Attention with learned-style queries X @ W_q (keys and values still X): y1 copies x3, y3 copies x1.

    beta, dim, seed: as in ``orthogonal_tokens``. Returns (X (3, dim), Y (3, dim), weights (3, 3)).
    """
    basis, X = orthogonal_tokens(beta, dim, seed)
    Y, weights = attention(X @ swap_query_map(basis), X, X)
    return X, Y, weights


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


def plot_weight_heatmaps(betas: Sequence[float] = (0.3, 1.0, 2.0, 5.0), dim: int = 4, seed: int = 0) -> "Figure":
    """Heatmaps of the self-attention weights for a few beta, each cell labelled with its value.

    betas: one panel each; dim, seed: as in ``orthogonal_tokens``. Rows are queries, columns keys.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(betas), figsize=(3.1 * len(betas), 3.3), constrained_layout=True, squeeze=False)
    labels = ["x1", "x2", "x3"]
    for ax, beta in zip(axes[0], betas):
        _, weights = self_attention(orthogonal_tokens(beta, dim, seed)[1])
        image = ax.imshow(weights.numpy(), vmin=0.0, vmax=1.0, cmap="viridis")
        for (i, j), w in zip([(i, j) for i in range(3) for j in range(3)], weights.flatten().tolist()):
            ax.text(j, i, f"{w:.2f}", ha="center", va="center", color="white" if w < 0.6 else "black")
        ax.set(title=rf"$\beta$ = {beta:g}", xticks=range(3), yticks=range(3),
               xticklabels=labels, yticklabels=labels, xlabel="key", ylabel="query")
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="weight")
    return fig
