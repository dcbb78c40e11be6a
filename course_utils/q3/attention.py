"""Weight-free self-attention (Q3), the scaffold: the question's tokens and the plots of the student's attention.

The tokens are built from four orthogonal vectors of norm beta (``orthogonal_tokens``). The error
sweep and the weight heat maps run the student's own ``attend(X) -> Y`` (rows of X are tokens);
while it is still empty they stop in one line naming it. The reference attention (the oracle of the
checks) and the key's closed forms are instructor code in ``course_staff.keys.q3``, which the student
release does not contain.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Sequence

import torch
from torch import Tensor

from course_utils.checks.blanks import require

if TYPE_CHECKING:  # heavy or optional imports happen inside the functions that need them
    from matplotlib.figure import Figure

TOKEN_NAMES = ("x1 = d + b", "x2 = a", "x3 = c + b")
#: how each token is drawn in the error plots: x1 as a large open circle, so x3's equal errors do not hide it
TOKEN_STYLES = (dict(marker="o", markersize=9, markerfacecolor="none", linestyle="none"),
                dict(marker="^", markersize=6, linestyle="none"),
                dict(marker="s", markersize=4, linestyle="none"))


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


def outputs_of(attend: Callable, X: Tensor) -> Tensor:
    """The student's ``attend(X)`` as a float64 tensor (the first item if it returns a tuple).

    X: (n_tokens, dim). Raises BlankNotFilled (one line) while ``attend`` is still empty.
    """
    result = require(attend, "attend", "q3.attention")(X.clone())
    if isinstance(result, tuple):
        result = result[0]
    return torch.as_tensor(result).detach().to(torch.float64)


def weights_of(attend: Callable, X: Tensor) -> Tensor:
    """The weights W (n_tokens, n_tokens) behind the student's outputs, read back from Y = W X.

    X: (n_tokens, dim) with linearly independent rows (as the Q3 tokens are), so W = Y X^+ exactly
    up to rounding (X^+ the pseudo-inverse, X X^+ = I).
    """
    return outputs_of(attend, X) @ torch.linalg.pinv(X.to(torch.float64))


def copy_errors(betas: Sequence[float], attend: Callable, dim: int = 4, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Measured ||y_i - x_i|| and ||x_i|| of ``attend`` on the Q3 tokens, for each beta.

    betas: (n_beta,) norms to try; attend: X (3, dim) -> Y (3, dim); dim, seed: as in
    ``orthogonal_tokens``. Float64 throughout. Returns (errors (n_beta, 3), norms (n_beta, 3)).
    """
    errors, norms = [], []
    for beta in betas:
        _, X = orthogonal_tokens(beta, dim, seed)
        errors.append(torch.linalg.vector_norm(outputs_of(attend, X) - X, dim=1))
        norms.append(torch.linalg.vector_norm(X, dim=1))
    return torch.stack(errors), torch.stack(norms)


def plot_measured_copy_error(betas: Sequence[float], attend: Callable, dim: int = 4, seed: int = 0) -> "Figure":
    """Log-scale relative copy error ||y_i - x_i|| / ||x_i|| of ``attend`` per token against beta.

    Zero errors (exact copies in float64) are left out, since a log axis cannot show them.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import LogFormatter

    errors, norms = copy_errors(betas, attend, dim, seed)
    relative = errors / norms
    relative[relative == 0] = float("nan")
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    for i, (style, name) in enumerate(zip(TOKEN_STYLES, TOKEN_NAMES)):
        ax.semilogy(list(betas), relative[:, i].numpy(), label=name, **style)
    ax.axhline(torch.finfo(torch.float64).eps, color="gray", lw=0.8, ls=":", label="float64 epsilon")
    ax.set(title="measured relative copy error of your attend", xlabel="β", ylabel="‖yᵢ − xᵢ‖ / ‖xᵢ‖")
    ax.yaxis.set_major_formatter(LogFormatter())  # "1e-08": the default "$10^{-8}$" builds mathtext's parser
    ax.yaxis.set_minor_formatter(LogFormatter())  # minor ticks are labelled when the errors span under a decade
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


def plot_weight_heatmaps(attend: Callable, betas: Sequence[float] = (0.5, 2.0, 5.0), dim: int = 4,
                         seed: int = 0) -> "Figure":
    """Heatmaps of the weights behind ``attend`` on the Q3 tokens for a few beta, each cell labelled.

    attend: X (3, dim) -> Y (3, dim); betas: one panel each; dim, seed: as in ``orthogonal_tokens``.
    Rows are queries, columns keys; the weights are read back from the outputs (``weights_of``).
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(betas), figsize=(3.1 * len(betas), 3.3), constrained_layout=True, squeeze=False)
    labels = ["x1", "x2", "x3"]
    for ax, beta in zip(axes[0], betas):
        weights = weights_of(attend, orthogonal_tokens(beta, dim, seed)[1]).clamp(0.0, 1.0)
        image = ax.imshow(weights.numpy(), vmin=0.0, vmax=1.0, cmap="viridis")
        for (i, j), w in zip([(i, j) for i in range(3) for j in range(3)], weights.flatten().tolist()):
            ax.text(j, i, f"{w:.2f}", ha="center", va="center", color="white" if w < 0.6 else "black")
        ax.set(title=f"β = {beta:g}", xticks=range(3), yticks=range(3),
               xticklabels=labels, yticklabels=labels, xlabel="key", ylabel="query")
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="weight")
    return fig
