"""Q3's answer key (instructor-only): the reference attention, exact weights and norms, the predicted copy
error, the key's plot, and the grader's judge of the student's attention.

With orthogonal base vectors a, b, c, d of norm beta and tokens x1 = d + b, x2 = a, x3 = c + b the
scores are beta^2 [[2, 0, 1], [0, 1, 0], [1, 0, 2]]: every token attends mostly to itself, so
y_i = x_i up to an error of order beta e^(-beta^2). The course's attention is *unscaled*: weights =
softmax(X X^T) row by row, no 1/sqrt(dim). The student release does not contain this module.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence, Union

import torch
from torch import Tensor

from course_staff.keys import Judge, close
from course_utils.q3.attention import TOKEN_NAMES, TOKEN_STYLES, copy_errors, orthogonal_tokens, swap_query_map
from course_utils.q3.checks import tokens_of

if TYPE_CHECKING:
    import sympy
    from matplotlib.figure import Figure

SCORE_PATTERN = ((2, 0, 1), (0, 1, 0), (1, 0, 2))  # X X^T / beta^2
Scale = Union[float, str, None]


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


def swapped_query_demo(beta: float, dim: int = 4, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """Attention with learned-style queries X @ W_q (keys and values still X): y1 copies x3, y3 copies x1.

    beta, dim, seed: as in ``orthogonal_tokens``. Returns (X (3, dim), Y (3, dim), weights (3, 3)).
    """
    basis, X = orthogonal_tokens(beta, dim, seed)
    Y, weights = attention(X @ swap_query_map(basis), X, X)
    return X, Y, weights


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


def premise(betas: Sequence[float] = (1.0, 3.0, 5.0), dim: int = 6, seed: int = 0) -> tuple[bool, str]:
    """Q3's premise as code: (ok, why not). Every token's score with itself exceeds its score with each other
    token by a positive multiple of beta^2, so y_i tends to x_i and the error falls like e^(-r beta^2), the
    form ``q3.error_order`` reads; and the tokens' scores are the pattern the key's closed forms are derived
    for (``SCORE_PATTERN``). Checked before any key or registry is made from them."""
    want = torch.tensor(SCORE_PATTERN, dtype=torch.float64)
    for beta in betas:
        X = orthogonal_tokens(beta, dim=dim, seed=seed)[1].to(torch.float64)
        pattern = X @ X.T / beta**2
        for i in range(len(pattern)):
            for j in range(len(pattern)):
                if i != j and pattern[i, i] - pattern[i, j] <= 1e-9:
                    return False, (f"x{i + 1}'s score with itself ({float(pattern[i, i]):.3g} beta^2) does not exceed its "
                                   f"score with x{j + 1} ({float(pattern[i, j]):.3g} beta^2): y{i + 1} copies no token, and "
                                   "its error does not fall like e^(-r beta^2); build the tokens so that none shares "
                                   "another's base vectors as fully")
        if pattern.shape != want.shape or not torch.allclose(pattern, want, atol=1e-9):
            return False, (f"the tokens' scores X X^T / beta^2 are {[[round(float(v), 3) for v in r] for r in pattern]}, "
                           f"not {[list(r) for r in SCORE_PATTERN]}, the pattern the key's closed forms are derived for: "
                           "derive them again (SCORE_PATTERN, closed_form_weights, predicted_copy_error)")
    return True, ""


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
    errors, norms = copy_errors(betas, lambda X: self_attention(X)[0], dim, seed)
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
    for i, (style, name) in enumerate(zip(TOKEN_STYLES, TOKEN_NAMES)):
        line, = ax_rel.semilogy(betas, relative[:, i].numpy(), label=f"{name}: measured", **style)
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


# --- the grader's judge of ``attend``: hidden tokens, the reference attention as oracle, named mistakes --------

def _attention_cases(rng: random.Random) -> list:
    """Random tokens of several shapes (all sizes different) and the question's tokens at a large beta."""
    shapes = [(rng.randint(2, 6), rng.randint(2, 8)) for _ in range(4)] + [(1, rng.randint(1, 5))]
    cases: list = [{"X": [[round(rng.gauss(0, 1.5), 3) for _ in range(d)] for _ in range(n)]} for n, d in shapes]
    return cases + [{"beta": rng.uniform(30.0, 1000.0), "dim": rng.randint(4, 8), "seed": rng.randint(0, 999)},
                    {"beta": rng.uniform(0.3, 3.0), "dim": rng.randint(4, 8), "seed": rng.randint(0, 999)}]


def _outputs(weights_of_scores, case: Any) -> list:
    """(weights(scores) @ X).tolist() for the tokens of ``case``: the right output and the mistakes'."""
    X = tokens_of(case)
    with torch.no_grad():
        return (weights_of_scores(X @ X.T, X) @ X).tolist()


def _reference(case: Any) -> list:
    return self_attention(tokens_of(case))[0].tolist()


JUDGES = {
    "q3.attention": Judge(_attention_cases, _reference,
                          compare=lambda got, want, case: close(got, want, case, rtol=1e-6, atol=1e-7), mistakes=(
        (lambda c: _outputs(lambda s, X: torch.softmax(s / math.sqrt(X.shape[1]), dim=1), c),
         "your scores are scaled by 1/sqrt(dim); this course's definition uses them as they are. "),
        (lambda c: _outputs(lambda s, X: torch.softmax(s, dim=0), c),
         "your output differs: check which axis the softmax normalises (each token's own weights sum to 1). "),
        (lambda c: _outputs(lambda s, X: torch.exp(s) / torch.exp(s).sum(dim=1, keepdim=True), c),
         "for tokens of norm about 1000 your output is not finite: exp overflows there. Which shift of a row's "
         "scores leaves its softmax unchanged? "),
        (lambda c: tokens_of(c).tolist(),
         "your output is the input itself: each output mixes every token by its row of weights (it only comes "
         "close to one token for large beta). "),
        (lambda c: _outputs(lambda s, X: s, c),
         "your output mixes the tokens by their scores: the weights are the scores' softmax, row by row. "))),
}


# ---- the hash-checked answers and their known mistakes: the registry is built from these -----------------
# A mistake's hint names the slip and where to look, never the answer; its fingerprint is stored as a slow
# salted hash like the answer's (``course_utils.checks.named_mistake``).

def answers(tiny: bool) -> dict[str, Any]:
    """Q3: norms at beta = 3, weights at beta = 1, the copied tokens, the error's decay."""
    from course_utils.q3 import attention
    from course_utils.q3 import checks as q3
    X_norms = attention.orthogonal_tokens(q3.NORMS_BETA)[1]
    X_weights = attention.orthogonal_tokens(q3.WEIGHTS_BETA)[1]
    X_large = attention.orthogonal_tokens(5.0)[1]
    return {
        "q3.norms": X_norms.norm(dim=1),
        "q3.weights": self_attention(X_weights)[1],
        "q3.copies": [j + 1 for j in nearest_tokens(self_attention(X_large)[0], X_large)],
        "q3.error_order": lambda beta: float(predicted_copy_error([beta])[0].max()),
    }


def mistakes(tiny: bool, answers: dict[str, Any]) -> dict[str, list[tuple[Any, str]]]:
    """Q3: norms added directly or squared, the softmax's usual slips, token numbering, the wrong rate."""
    import sympy as sp
    import torch

    from course_utils.q3 import attention
    from course_utils.q3 import checks as q3

    beta = sp.Symbol("beta", positive=True)
    X = attention.orthogonal_tokens(q3.NORMS_BETA)[1]
    base = attention.orthogonal_tokens(q3.NORMS_BETA)[0]
    base_norms = base.norm(dim=1)
    parts = (X @ base.T / base_norms ** 2).round()  # how many of each base vector a token holds
    norms = X.norm(dim=1)
    tokens = attention.orthogonal_tokens(q3.WEIGHTS_BETA)[1]
    scores = tokens @ tokens.T
    weights = torch.softmax(scores, dim=1)
    n = len(norms)
    return {
        "q3.norms": [
            ((parts.abs() @ base_norms), "the norms of orthogonal vectors do not add; their squares do "
                                         "(Pythagoras). "),
            (norms ** 2, "those look like squared norms: the norm is the square root of x . x. "),
            (norms / q3.NORMS_BETA, "the base vectors have norm beta here, not 1. "),
        ],
        "q3.weights": [
            (torch.softmax(scores / dim ** 0.5, dim=1),
             "the definition at the top has no 1/sqrt(d) scaling: use the scores as they are. ")
            for dim in range(len(scores), 9)  # the tokens' dimension, whichever the handout draws them in
        ] + [
            (weights.T, "each row holds one token's weights and sums to 1: you have them by column. "),
            (torch.eye(len(weights)), "a softmax of finite scores is never exactly 0 or 1: at beta = 1 work it "
                                       "out. "),
            (scores, "those are the scores: the weights are their softmax, row by row. "),
        ],
        "q3.copies": [([i for i in range(n)], "number the tokens from 1, as x1, x2, x3. ")]
        + [([i] * n, "look at each row on its own: which weight is the largest in row i? ") for i in range(1, n + 1)],
        "q3.error_order": [
            (sp.exp(-beta), "the scores grow like beta^2 (beta scales both sides of the inner product), so must the "
                            "exponent. "),
            (sp.exp(-sp.sqrt(2) * beta), "the scores grow like beta^2 (beta scales both sides of the inner product), "
                                         "so must the exponent. "),
            (1 / beta ** 2, "the error falls exponentially in beta^2, faster than any power of beta. "),
            (sp.exp(-2 * beta ** 2), "the exponent's factor differs: compare each row's largest score with its next "
                                     "largest. "),
            (sp.exp(-beta ** 2 / 2), "the exponent's factor differs: compare each row's largest score with its next "
                                     "largest. "),
        ],
    }
