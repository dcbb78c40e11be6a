"""Weight-free self-attention (Q3), the scaffold: the question's tokens and the plots of the student's attention.

The tokens are sums of orthogonal base vectors a, b, c, ... of norm beta (``orthogonal_tokens``); which base
vectors make which token, how many there are and the dimension they are drawn in are the student's variant's
(``course_utils.q3.variants``, read when a function runs). The error sweep and the weight heat maps run the
student's own ``attend(X) -> Y`` (rows of X are tokens); while it is still empty they stop in one line naming it.
The reference attention (the oracle of the checks) and the key's closed forms are instructor code in
``course_staff.keys.q3``, which the student release does not contain.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Sequence

import torch
from torch import Tensor

from course_utils import variants
from course_utils.checks.blanks import require

if TYPE_CHECKING:  # heavy or optional imports happen inside the functions that need them
    from matplotlib.figure import Figure

LETTERS = "abcdef"  # the names of the base vectors, in order
#: how each token is drawn in the error plots: x1 as a large open circle, so a later token's equal errors do not hide it
TOKEN_STYLES = (dict(marker="o", markersize=9, markerfacecolor="none", linestyle="none"),
                dict(marker="^", markersize=6, linestyle="none"),
                dict(marker="s", markersize=4, linestyle="none"),
                dict(marker="D", markersize=3, linestyle="none"))


def numbers() -> dict:
    """This variant's numbers (``course_utils.q3.variants``): bases, dim, tokens, norms_beta, weights_beta, sweep,
    query_swaps."""
    return variants.params("q3")


def base_names(bases: int | None = None) -> tuple[str, ...]:
    """The names of the base vectors: ("a", "b", "c", "d") for four (default: this variant's number)."""
    return tuple(LETTERS[:numbers()["bases"] if bases is None else bases])


def token_recipes() -> list[list[str]]:
    """Which base vectors make each token, in this variant: [["d", "b"], ["a"], ["c", "b"]] for x1 = d + b, ..."""
    return numbers()["tokens"]


def token_names(recipes: Sequence[Sequence[str]] | None = None) -> tuple[str, ...]:
    """Each token with its recipe, for labels: ("x1 = d + b", "x2 = a", "x3 = c + b") in variant 0."""
    recipes = token_recipes() if recipes is None else recipes
    return tuple(f"x{i} = {' + '.join(parts)}" for i, parts in enumerate(recipes, start=1))


def sweep_betas() -> list[float]:
    """The betas of this variant's error sweep (evenly spaced from its start to its stop), as Python floats."""
    start, stop, count = numbers()["sweep"]
    return torch.linspace(float(start), float(stop), int(count), dtype=torch.float64).tolist()


def shown_numbers() -> dict[str, str]:
    """The numbers the prompts refer to, label -> text, for ``variants.show("q3", ...)``."""
    P = numbers()
    start, stop, count = P["sweep"]
    return {"base vectors": f"{', '.join(base_names())} (orthogonal, each of norm beta), drawn in dimension {P['dim']}",
            "tokens": ", ".join(token_names()),
            "beta for the norms (a)": f"{P['norms_beta']:g}",
            "beta for the weights": f"{P['weights_beta']:g}",
            "betas of the error sweep": f"{count} from {start:g} to {stop:g}",
            "query map (demo)": ", ".join(f"swaps {p} and {q}" for p, q in P["query_swaps"])}


def __getattr__(name: str) -> Any:
    """``TOKEN_NAMES``: the labels of this variant's tokens, read when asked for (never frozen at import)."""
    if name == "TOKEN_NAMES":
        return token_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def orthogonal_tokens(beta: float, dim: int | None = None, seed: int = 0, dtype: torch.dtype = torch.float64,
                      recipes: Sequence[Sequence[str]] | None = None,
                      bases: int | None = None) -> tuple[Tensor, Tensor]:
    """The base vectors a, b, c, ... (orthogonal, norm beta) and the tokens made of them (x1 = d + b, x2 = a,
    x3 = c + b in variant 0).

    beta: the common norm (> 0); dim: ambient dimension (default: the number of base vectors); seed: picks the
    random orthonormal basis (QR of a seeded Gaussian matrix, with a private generator); recipes, bases: the
    tokens as lists of base-vector names and how many base vectors there are (default: this variant's).
    Returns (basis (n_bases, dim) with rows a, b, c, ...; X (n_tokens, dim) with rows x1, x2, ...).
    """
    P = numbers() if recipes is None or bases is None else {}
    recipes = P["tokens"] if recipes is None else recipes
    bases = P["bases"] if bases is None else bases
    names = base_names(bases)
    dim = bases if dim is None else dim
    if dim < bases:
        raise ValueError(f"dim={dim} is too small: {bases} orthogonal base vectors {', '.join(names)} "
                         f"need dim >= {bases}.")
    if not 0 < beta < math.inf:
        raise ValueError(f"beta={beta!r} must be a positive finite number.")
    generator = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(dim, bases, generator=generator, dtype=torch.float64))
    basis = beta * q.T  # (bases, dim), orthonormal rows scaled to norm beta
    rows = []
    for parts in recipes:
        row = basis[names.index(parts[0])]
        for part in parts[1:]:
            row = row + basis[names.index(part)]
        rows.append(row)
    X = torch.stack(rows)
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


def copy_errors(betas: Sequence[float], attend: Callable, dim: int | None = None,
                seed: int = 0) -> tuple[Tensor, Tensor]:
    """Measured ||y_i - x_i|| and ||x_i|| of ``attend`` on the Q3 tokens, for each beta.

    betas: (n_beta,) norms to try; attend: X (n_tokens, dim) -> Y (n_tokens, dim); dim, seed: as in
    ``orthogonal_tokens``. Float64 throughout. Returns (errors (n_beta, n_tokens), norms (n_beta, n_tokens)).
    """
    errors, norms = [], []
    for beta in betas:
        _, X = orthogonal_tokens(beta, dim, seed)
        errors.append(torch.linalg.vector_norm(outputs_of(attend, X) - X, dim=1))
        norms.append(torch.linalg.vector_norm(X, dim=1))
    return torch.stack(errors), torch.stack(norms)


def plot_measured_copy_error(betas: Sequence[float], attend: Callable, dim: int | None = None,
                             seed: int = 0) -> "Figure":
    """Log-scale relative copy error ||y_i - x_i|| / ||x_i|| of ``attend`` per token against beta.

    Zero errors (exact copies in float64) are left out, since a log axis cannot show them.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import LogFormatter

    errors, norms = copy_errors(betas, attend, dim, seed)
    relative = errors / norms
    relative[relative == 0] = float("nan")
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    for i, (style, name) in enumerate(zip(TOKEN_STYLES, token_names())):
        ax.semilogy(list(betas), relative[:, i].numpy(), label=name, **style)
    ax.axhline(torch.finfo(torch.float64).eps, color="gray", lw=0.8, ls=":", label="float64 epsilon")
    ax.set(title="measured relative copy error of your attend", xlabel="β", ylabel="‖yᵢ − xᵢ‖ / ‖xᵢ‖")
    ax.yaxis.set_major_formatter(LogFormatter())  # "1e-08": the default "$10^{-8}$" builds mathtext's parser
    ax.yaxis.set_minor_formatter(LogFormatter())  # minor ticks are labelled when the errors span under a decade
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def swap_query_map(basis: Tensor, swaps: Sequence[Sequence[str]] | None = None) -> Tensor:
    """A query map W_q (dim, dim) that exchanges pairs of base directions and fixes the rest.

    basis: (n_bases, dim) rows a, b, c, ... from ``orthogonal_tokens``; swaps: the pairs of base vectors to
    exchange (default: this variant's, [["c", "d"]] in variant 0). Queries are X @ W_q, so in variant 0
    x1 = d + b asks for c + b (attends to x3) and x3 asks for d + b (attends to x1).
    W_q is orthogonal and symmetric (a reflection), so it keeps every norm.
    """
    swaps = numbers()["query_swaps"] if swaps is None else swaps
    names = base_names(basis.shape[0])
    unit = [row / row.norm() for row in basis]
    W = torch.eye(basis.shape[1], dtype=basis.dtype)
    for p, q in swaps:
        p_hat, q_hat = unit[names.index(p)], unit[names.index(q)]
        W = W - torch.outer(p_hat, p_hat) - torch.outer(q_hat, q_hat) + torch.outer(p_hat, q_hat) \
            + torch.outer(q_hat, p_hat)
    return W


def plot_weight_heatmaps(attend: Callable, betas: Sequence[float] = (0.5, 2.0, 5.0), dim: int | None = None,
                         seed: int = 0) -> "Figure":
    """Heatmaps of the weights behind ``attend`` on the Q3 tokens for a few beta, each cell labelled.

    attend: X (n_tokens, dim) -> Y (n_tokens, dim); betas: one panel each; dim, seed: as in ``orthogonal_tokens``.
    Rows are queries, columns keys; the weights are read back from the outputs (``weights_of``).
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(betas), figsize=(3.1 * len(betas), 3.3), constrained_layout=True, squeeze=False)
    n = len(token_recipes())
    labels = [f"x{i}" for i in range(1, n + 1)]
    for ax, beta in zip(axes[0], betas):
        weights = weights_of(attend, orthogonal_tokens(beta, dim, seed)[1]).clamp(0.0, 1.0)
        image = ax.imshow(weights.numpy(), vmin=0.0, vmax=1.0, cmap="viridis")
        for (i, j), w in zip([(i, j) for i in range(n) for j in range(n)], weights.flatten().tolist()):
            ax.text(j, i, f"{w:.2f}", ha="center", va="center", color="white" if w < 0.6 else "black")
        ax.set(title=f"β = {beta:g}", xticks=range(n), yticks=range(n),
               xticklabels=labels, yticklabels=labels, xlabel="key", ylabel="query")
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="weight")
    return fig
