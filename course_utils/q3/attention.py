"""Weight-free self-attention (Q3): each token is its own query, key and value.

The course's definition is *unscaled*: weights = softmax(X X^T) row by row, no 1/sqrt(dim).
This module is the scaffold of Q3: the reference attention (the oracle of the self-checks), the
question's tokens built from orthogonal vectors of norm beta, measured copy errors and plots.
What the outputs approximate and how fast is the question, so no function here says it; the
key's closed forms are instructor code in ``course_staff.q3_key``, which the student release does
not contain.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence, Union

import torch
from torch import Tensor

if TYPE_CHECKING:  # heavy or optional imports happen inside the functions that need them
    from matplotlib.figure import Figure

Scale = Union[float, str, None]
TOKEN_NAMES = ("x1 = d + b", "x2 = a", "x3 = c + b")


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
    so the largest term is exp(0) = 1 and nothing overflows.
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


def copy_errors(betas: Sequence[float], dim: int = 4, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Measured ||y_i - x_i|| and ||x_i|| of self-attention on the Q3 tokens, for each beta.

    betas: (n_beta,) norms to try; dim, seed: as in ``orthogonal_tokens``. Float64 throughout.
    Returns (errors (n_beta, 3), norms (n_beta, 3)).
    """
    errors, norms = [], []
    for beta in betas:
        _, X = orthogonal_tokens(beta, dim, seed)
        Y, _ = self_attention(X)
        errors.append(torch.linalg.vector_norm(Y - X, dim=1))
        norms.append(torch.linalg.vector_norm(X, dim=1))
    return torch.stack(errors), torch.stack(norms)


def plot_measured_copy_error(betas: Sequence[float], dim: int = 4, seed: int = 0) -> "Figure":
    """Log-scale relative copy error ||y_i - x_i|| / ||x_i|| per token against beta, measured only.

    Zero errors (exact copies in float64) are left out, since a log axis cannot show them.
    """
    import matplotlib.pyplot as plt

    errors, norms = copy_errors(betas, dim, seed)
    relative = errors / norms
    relative[relative == 0] = float("nan")
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    for i, (marker, name) in enumerate(zip("o^s", TOKEN_NAMES)):
        ax.semilogy(list(betas), relative[:, i].numpy(), marker, label=name)
    ax.axhline(torch.finfo(torch.float64).eps, color="gray", lw=0.8, ls=":", label="float64 epsilon")
    ax.set(title="measured relative copy error", xlabel=r"$\beta$", ylabel=r"$\|y_i - x_i\| / \|x_i\|$")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


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


def plot_weight_heatmaps(betas: Sequence[float] = (0.5, 2.0, 5.0), dim: int = 4, seed: int = 0) -> "Figure":
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
