"""Q3's answer key (instructor-only): the reference attention, exact weights and norms, the predicted copy
error, the key's plot, and the grader's judge of the student's attention.

With orthogonal base vectors a, b, c, d of norm beta and tokens x1 = d + b, x2 = a, x3 = c + b (variant 0) the
scores are beta^2 [[2, 0, 1], [0, 1, 0], [1, 0, 2]]: every token attends mostly to itself, so
y_i = x_i up to an error of order beta e^(-beta^2). The course's attention is *unscaled*: weights =
softmax(X X^T) row by row, no 1/sqrt(dim). The student release does not contain this module.

Variants (``course_utils.q3.variants``): which base vectors make which tokens (3 or 4), how many base vectors and
the dimension, and the betas. Everything here is derived from the current variant's score pattern X X^T / beta^2
(``score_pattern``, exact with sympy) when called: the weights, the copy error and its rate e^(-r beta^2), r the
smallest margin of a token's score with itself over its score with another. ``generate_variants`` makes the table
from ``CANDIDATES``, keeping those whose premise (``check_variant``) holds.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence, Union

import torch
from torch import Tensor

from course_staff.keys import Judge, close
from course_utils.q3 import attention as scaffold
from course_utils.q3.attention import TOKEN_STYLES, copy_errors, orthogonal_tokens, swap_query_map, token_names
from course_utils.q3.checks import tokens_of

if TYPE_CHECKING:
    import sympy
    from matplotlib.figure import Figure

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


def swapped_query_demo(beta: float, dim: int | None = None, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """Attention with learned-style queries X @ W_q (keys and values still X): each query becomes another token's
    (variant 0: y1 copies x3, y3 copies x1).

    beta, dim, seed: as in ``orthogonal_tokens``. Returns (X (n, dim), Y (n, dim), weights (n, n)).
    """
    basis, X = orthogonal_tokens(beta, dim, seed)
    Y, weights = attention(X @ swap_query_map(basis), X, X)
    return X, Y, weights


# --- the variant's score pattern and everything derived from it (sympy: exact integers) ------------------------

def score_pattern(recipes: Sequence[Sequence[str]] | None = None) -> "sympy.Matrix":
    """X X^T / beta^2 for the tokens of ``recipes`` (default: this variant's), exactly: with a, b, c, ... taken
    as beta times the standard basis (only inner products matter), entry (i, j) counts the base vectors x_i and
    x_j share. Variant 0: [[2, 0, 1], [0, 1, 0], [1, 0, 2]]."""
    import sympy as sp

    recipes = scaffold.token_recipes() if recipes is None else recipes
    n_b = len(scaffold.LETTERS)
    rows = [sum((sp.eye(n_b).row(scaffold.LETTERS.index(p)) for p in parts), sp.zeros(1, n_b)) for parts in recipes]
    X = sp.Matrix.vstack(*rows)
    return X * X.T


def __getattr__(name: str) -> Any:
    """``SCORE_PATTERN``: this variant's X X^T / beta^2 as a tuple of int rows, read when asked for."""
    if name == "SCORE_PATTERN":
        return tuple(tuple(int(v) for v in score_pattern().row(i)) for i in range(score_pattern().rows))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def margins(pattern: "sympy.Matrix | None" = None) -> list[list[int]]:
    """m[i][j] = (row i's largest score - its score with x_j) / beta^2: w_ij / w_i,max = e^(-m_ij beta^2).
    Where the premise holds the largest score of row i is its own (m[i][i] = 0, every other m[i][j] >= 1)."""
    G = score_pattern() if pattern is None else pattern
    return [[int(max(G.row(i)) - G[i, j]) for j in range(G.cols)] for i in range(G.rows)]


def error_rate(pattern: "sympy.Matrix | None" = None) -> int:
    """r in max_i ||y_i - x_i|| ~ C beta e^(-r beta^2): the smallest margin of any token over another."""
    m = margins(pattern)
    return min(m[i][j] for i in range(len(m)) for j in range(len(m)) if i != j)


def _gaps(pattern: "sympy.Matrix") -> list[list[list[int]]]:
    """D[i][j][k] = (x_j - x_i) . (x_k - x_i) / beta^2, integers."""
    G = pattern
    n = G.rows
    return [[[int(G[j, k] - G[j, i] - G[i, k] + G[i, i]) for k in range(n)] for j in range(n)] for i in range(n)]


def leading_terms(pattern: "sympy.Matrix | None" = None) -> list[tuple[int, "sympy.Expr"]]:
    """Per token: (r_i, C_i) with ||y_i - x_i|| ~ C_i beta e^(-r_i beta^2): r_i its smallest margin, C_i beta the
    norm of the sum of x_j - x_i over the tokens x_j at that margin (C_i exact, e.g. sqrt(10) for x2 in variant 0)."""
    import sympy as sp

    G = score_pattern() if pattern is None else pattern
    m, D = margins(G), _gaps(G)
    found = []
    for i in range(G.rows):
        r = min(m[i][j] for j in range(G.rows) if j != i)
        near = [j for j in range(G.rows) if j != i and m[i][j] == r]
        found.append((r, sp.sqrt(sum(D[i][j][k] for j in near for k in near))))
    return found


def leading_term(beta: "sympy.Symbol | None" = None) -> "sympy.Expr":
    """The leading term of max_i ||y_i - x_i||, C beta e^(-r beta^2), as a sympy expression (variant 0:
    sqrt(10) beta e^(-beta^2))."""
    import sympy as sp

    beta = sp.Symbol("beta", positive=True) if beta is None else beta
    terms = leading_terms()
    r = min(t[0] for t in terms)
    C = max((t[1] for t in terms if t[0] == r), key=lambda c: float(c))
    return C * beta * sp.exp(-r * beta**2)


def closed_form_weights(beta: float) -> Tensor:
    """The exact attention weights softmax(beta^2 G) of this variant's pattern G, computed stably.

    Dividing each row by its largest exponential leaves only powers of u = e^(-beta^2) <= 1, u^(m_ij) with
    m the margins (variant 0: row 1 = (1, u^2, u) / (1 + u + u^2), row 2 = (u, 1, u) / (1 + 2u), ...).
    Returns an (n_tokens, n_tokens) float64 tensor.
    """
    u = math.exp(-beta * beta)
    rows = []
    for powers in margins():
        z = sum(u**p for p in sorted(powers))
        rows.append([u**p / z for p in powers])
    return torch.tensor(rows, dtype=torch.float64)


@dataclass(frozen=True)
class SymbolicQ3:
    """Exact Q3 quantities as sympy objects, in terms of the positive symbol ``beta``."""

    beta: "sympy.Symbol"
    norms: list  # [||x1||, ||x2||, ...]
    scores: "sympy.Matrix"  # (n, n) X X^T
    weights: "sympy.Matrix"  # (n, n) row-wise softmax of the scores


def symbolic_attention() -> SymbolicQ3:
    """Norms, scores and weights of this variant's tokens exactly, with sympy, from its score pattern."""
    import sympy as sp

    beta = sp.symbols("beta", positive=True)
    scores = beta**2 * score_pattern()
    n = scores.rows
    norms = [sp.simplify(sp.sqrt(scores[i, i])) for i in range(n)]
    exps = scores.applyfunc(sp.exp)
    weights = sp.Matrix(n, n, lambda i, j: exps[i, j] / sum(exps.row(i)))
    return SymbolicQ3(beta, norms, scores, weights)


# --- the premise: which variants may exist ---------------------------------------------------------------------

#: Candidate variants, tried in this order: (number of base vectors, the tokens' recipes). ``generate_variants``
#: keeps those whose premise holds; the comment says why a candidate is dropped.
CANDIDATES = (
    (4, "db a cb"),  # today's question: variant 0
    (4, "db a ca"),  # dropped: x2 = a lies inside x3 = c + a, so y2 blends x2 and x3
    (4, "ab c d"),
    (5, "ac b dce"),  # dropped: no exchange of base vectors maps a token onto another (the query-map demo)
    (4, "ab cd ac"),
    (5, "ab c bd e"),
    (6, "ab cd ef"),
    (4, "ab cd ac bd"),  # dropped: x1 + x2 = x3 + x4, the weights cannot be read back from Y = W X
    (5, "ab cd e"),
    (5, "ab bc d e"),
    (6, "abc ade bdf"),
    (5, "abc ade b"),  # dropped: x3 = b lies inside x1
    (4, "ab ac ad"),
    (5, "ab ac ad ae"),
    (4, "ab bc d"),
    (6, "abc bcd ef"),
    (5, "abc ad be"),
    (5, "ab bc cd de"),
)
NORMS_BETAS = (3.0, 2.0, 4.0, 2.5, 3.5, 5.0, 1.5, 4.5)  # the kept variants take these in turn
WEIGHTS_BETAS = (1.0, 0.8, 1.2, 0.7, 0.9, 1.1, 0.6, 1.3)
DIM_EXTRA = (2, 1, 3, 0, 2)  # dim = bases + this, at most 8
SWEEPS = ((0.3, 6.5, 32), (0.3, 6.0, 30), (0.2, 5.5, 28), (0.4, 5.0, 26), (0.3, 6.2, 31))


def query_swaps(recipes: Sequence[Sequence[str]], bases: int) -> list[list[str]]:
    """The first exchange of base vectors (one pair, else two disjoint pairs, in alphabetical order) that maps the
    set of tokens onto itself and moves at least one token: the query map of the demo. [] if there is none."""
    import itertools

    names = scaffold.LETTERS[:bases]
    tokens = [frozenset(parts) for parts in recipes]
    pairs = list(itertools.combinations(names, 2))
    options = [[p] for p in pairs] + [[p, q] for p, q in itertools.combinations(pairs, 2) if not set(p) & set(q)]
    for option in options:
        swap = {}
        for p, q in option:
            swap[p], swap[q] = q, p
        moved = [frozenset(swap.get(x, x) for x in t) for t in tokens]
        if set(moved) == set(tokens) and moved != tokens:
            return [list(p) for p in option]
    return []


def generate_variants() -> tuple[dict, ...]:
    """The variants of Q3 (``course_utils.q3.variants.VARIANTS`` is this, written out): every candidate whose
    premise holds, in the order of ``CANDIDATES``, with the betas, dimensions and sweeps taken in turn."""
    table = []
    for bases, recipe in CANDIDATES:
        k = len(table)
        recipes = [list(word) for word in recipe.split()]
        P = {"bases": bases, "dim": min(8, bases + DIM_EXTRA[k % len(DIM_EXTRA)]), "tokens": recipes,
             "norms_beta": NORMS_BETAS[k % len(NORMS_BETAS)], "weights_beta": WEIGHTS_BETAS[k % len(WEIGHTS_BETAS)],
             "sweep": list(SWEEPS[k % len(SWEEPS)]), "query_swaps": query_swaps(recipes, bases)}
        if check_variant(P)[0]:
            table.append(P)
    return tuple(table)


def check_variant(P: dict, tokens: Any = None, betas: Sequence[float] = (1.0, 3.0, 5.0),
                  seed: int = 0) -> tuple[bool, str]:
    """Q3's premise for the numbers ``P`` (a variant's dict): (ok, why not).

    tokens: beta -> X (n_tokens, dim), the tokens as the notebook makes them (default: ``orthogonal_tokens`` of
    P's recipes). Every token's score with itself must exceed its score with each other token by a positive
    multiple of beta^2, so each y_i copies x_i and the error falls like e^(-r beta^2) with r the smallest margin
    (what ``q3.error_order`` reads, so r must be readable at beta = 5 and 6 in float64); the measured scores must
    be the pattern the closed forms are derived from; the tokens linearly independent (the heat maps read the
    weights back from Y = W X); the demo's query map must send tokens to tokens.
    """
    recipes, bases, dim = P.get("tokens", []), P.get("bases", 0), P.get("dim", 0)
    names = scaffold.LETTERS[:bases] if isinstance(bases, int) else ""
    if not (isinstance(bases, int) and 4 <= bases <= len(scaffold.LETTERS)):
        return False, f"{bases!r} base vectors: use 4 to {len(scaffold.LETTERS)}"
    if not (isinstance(dim, int) and bases <= dim <= 8):
        return False, f"dim = {dim!r}: the tokens need a dimension from {bases} (the base vectors) to 8"
    if not 3 <= len(recipes) <= 4:
        return False, f"{len(recipes)} tokens: the question has 3 or 4"
    for i, parts in enumerate(recipes, start=1):
        if not parts or len(set(parts)) != len(parts) or not set(parts) <= set(names):
            return False, f"x{i} = {parts!r}: a token is a sum of distinct base vectors among {', '.join(names)}"
    if {p for parts in recipes for p in parts} != set(names):
        return False, f"a base vector among {', '.join(names)} is in no token: leave it out of 'bases'"
    for key in ("norms_beta", "weights_beta"):
        if not (isinstance(P.get(key), float) and 0.5 <= P[key] <= 6.0):
            return False, f"{key} = {P.get(key)!r}: use a float from 0.5 to 6"
    n = len(recipes)
    build = tokens or (lambda beta: orthogonal_tokens(beta, dim, seed, recipes=recipes, bases=bases)[1])
    want = torch.tensor(score_pattern(recipes).tolist(), dtype=torch.float64)
    for beta in betas:
        X = build(beta).to(torch.float64)
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
                           f"not {want.int().tolist()}, the pattern of the recipes {recipes} the key's closed forms are "
                           "derived from (score_pattern, closed_form_weights, predicted_copy_error)")
        if int(torch.linalg.matrix_rank(X / beta)) != n:
            return False, (f"the tokens {scaffold.token_names(recipes)} are linearly dependent: the weights cannot be "
                           "read back from Y = W X (the heat maps), pick recipes no token of which is a combination "
                           "of the others")
    r = error_rate(score_pattern(recipes))
    if 36 * r > 700:
        return False, (f"the copy error falls like e^(-{r} beta^2), below float64's range at beta = 6: q3.error_order "
                       "cannot read its rate; give some token a smaller margin")
    if not P.get("query_swaps") or P["query_swaps"] != query_swaps(recipes, bases):
        return False, (f"the query map {P.get('query_swaps')!r} is not the first exchange of base vectors that maps "
                       f"the tokens {scaffold.token_names(recipes)} onto one another ({query_swaps(recipes, bases)}): "
                       "the query-map demo needs one that sends each moved token's query to another token's")
    sweep = P.get("sweep", [])
    if len(sweep) != 3 or not 0 < sweep[0] < 1 <= 4.5 <= sweep[1] <= 7 or not 10 <= sweep[2] <= 50:
        return False, f"sweep = {sweep!r}: start below 1, stop from 4.5 to 7, 10 to 50 points"
    return True, ""


def premise(betas: Sequence[float] = (1.0, 3.0, 5.0), dim: int | None = None, seed: int = 0) -> tuple[bool, str]:
    """Q3's premise as code, for the current variant: (ok, why not). Every token's score with itself exceeds its
    score with each other token by a positive multiple of beta^2 (at least 1 beta^2), so y_i tends to x_i and the
    error falls like e^(-r beta^2), the form ``q3.error_order`` reads, r the smallest margin; and the tokens'
    scores are the pattern the key's closed forms are derived from (``check_variant``). The tokens are made by
    ``orthogonal_tokens`` as the notebook makes them. Checked before any key or registry is made from them."""
    P = scaffold.numbers()
    dim = P["dim"] if dim is None else dim
    return check_variant(P, tokens=lambda beta: orthogonal_tokens(beta, dim=dim, seed=seed)[1], betas=betas, seed=seed)


def predicted_copy_error(betas: Union[Sequence[float], Tensor],
                         pattern: "sympy.Matrix | None" = None) -> tuple[Tensor, Tensor]:
    """Exact and leading-order copy errors ||y_i - x_i|| of every token, from the variant's score pattern G.

    With rows summing to 1, y_i - x_i = sum_j w_ij (x_j - x_i), so ||y_i - x_i||^2 = beta^2 sum_jk w_ij w_ik D_ijk
    with D_ijk = (x_j - x_i).(x_k - x_i) / beta^2 = G_jk - G_ji - G_ik + G_ii; only the small weights enter.
    Leading term: C_i beta e^(-r_i beta^2) (``leading_terms``). Variant 0:
      token 1 and 3: beta u sqrt(3u^2 + 2u + 2) / (1 + u + u^2) ~ sqrt(2) beta e^(-beta^2) = ||x3 - x1|| e^(-beta^2),
      token 2:       sqrt(10) beta u / (1 + 2u)              ~ sqrt(10) beta e^(-beta^2) = ||x1 + x3 - 2 x2|| e^(-beta^2).
    betas: (n_beta,), best given in float64 or as Python floats; pattern: G (default: this variant's).
    Returns (exact, leading), each (n_beta, n_tokens).
    """
    betas = torch.as_tensor(betas, dtype=torch.float64)
    G = score_pattern() if pattern is None else pattern
    m = torch.tensor(margins(G), dtype=torch.float64)  # (n, n)
    D = torch.tensor(_gaps(G), dtype=torch.float64)  # (n, n, n)
    b2 = (betas**2)[:, None, None]
    powers = torch.exp(-m[None] * b2)  # (n_beta, n, n): w_ij times row i's normaliser
    weights = powers / powers.sum(dim=2, keepdim=True)
    squared = torch.einsum("bij,bik,ijk->bi", weights, weights, D)
    exact = betas[:, None] * torch.sqrt(squared.clamp(min=0.0))
    leading = torch.stack([float(C) * betas * torch.exp(-r * betas**2) for r, C in leading_terms(G)], dim=1)
    return exact, leading


@dataclass(frozen=True)
class CopySweep:
    """Measured and predicted copy errors over a grid of beta; all tensors float64."""

    betas: Tensor  # (n_beta,)
    error: Tensor  # (n_beta, n_tokens) measured ||y_i - x_i||
    norms: Tensor  # (n_beta, n_tokens) measured ||x_i||
    exact: Tensor  # (n_beta, n_tokens) closed-form ||y_i - x_i||
    leading: Tensor  # (n_beta, n_tokens) leading term, C_i beta e^(-r_i beta^2)

    @property
    def relative_error(self) -> Tensor:
        """(n_beta, n_tokens) measured ||y_i - x_i|| / ||x_i||."""
        return self.error / self.norms

    @property
    def max_error(self) -> Tensor:
        """(n_beta,) measured max_i ||y_i - x_i||."""
        return self.error.amax(dim=1)

    def summary(self) -> str:
        """A table: beta, measured max error, its closed form, the leading term, measured / leading."""
        rows = [f"{'beta':>6} {'measured':>10} {'closed form':>11} {'leading':>10} {'ratio':>7}"]
        for beta, measured, exact, leading in zip(self.betas.tolist(), self.max_error.tolist(),
                                                  self.exact.amax(dim=1).tolist(), self.leading.amax(dim=1).tolist()):
            rows.append(f"{beta:>6g} {measured:>10.3e} {exact:>11.3e} {leading:>10.3e} {measured / leading:>7.4f}")
        return "\n".join(rows)


def copy_error_sweep(betas: Sequence[float], dim: int | None = None, seed: int = 0) -> CopySweep:
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

    Left: max_i ||y_i - x_i|| with its leading term (variant 0: sqrt(10) beta e^(-beta^2)); right: relative error
    per token, with e^(-r beta^2).
    Zero errors (exact copies in float64) are left out, since a log axis cannot show them.
    """
    import matplotlib.pyplot as plt
    import sympy as sp

    beta = sp.Symbol("beta", positive=True)
    r = error_rate()
    fig, (ax_abs, ax_rel) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    betas = sweep.betas.numpy()
    shown = sweep.max_error.clone()
    shown[shown == 0] = float("nan")
    ax_abs.semilogy(betas, shown.numpy(), "o", label=r"measured $\max_i \|y_i - x_i\|$")
    ax_abs.semilogy(betas, sweep.exact.amax(dim=1).numpy(), "-", label="closed form")
    ax_abs.semilogy(betas, sweep.leading.amax(dim=1).numpy(), "--", label=f"leading term ${sp.latex(leading_term(beta))}$")
    ax_abs.set(title="absolute copy error (largest token)", xlabel=r"$\beta$", ylabel="error")
    relative = sweep.relative_error.clone()
    relative[relative == 0] = float("nan")
    predicted = sweep.exact / sweep.norms
    for i, (style, name) in enumerate(zip(TOKEN_STYLES, token_names())):
        line, = ax_rel.semilogy(betas, relative[:, i].numpy(), label=f"{name}: measured", **style)
        ax_rel.semilogy(betas, predicted[:, i].numpy(), "-", color=line.get_color(), alpha=0.6)
    ax_rel.semilogy(betas, torch.exp(-r * sweep.betas**2).numpy(), "k--", label=f"${sp.latex(sp.exp(-r * beta**2))}$")
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
    low = scaffold.numbers()["bases"]  # the question's tokens (this variant's) need dim >= their base vectors
    return cases + [{"beta": rng.uniform(30.0, 1000.0), "dim": rng.randint(low, 8), "seed": rng.randint(0, 999)},
                    {"beta": rng.uniform(0.3, 3.0), "dim": rng.randint(low, 8), "seed": rng.randint(0, 999)}]


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
    """Q3: norms at the variant's norms_beta (3 in variant 0), weights at its weights_beta (1), the copied tokens,
    the error's decay."""
    from course_utils.q3 import attention
    from course_utils.q3 import checks as q3
    X_norms = attention.orthogonal_tokens(q3.norms_beta())[1]
    X_weights = attention.orthogonal_tokens(q3.weights_beta())[1]
    X_large = attention.orthogonal_tokens(5.0)[1]
    return {
        "q3.norms": X_norms.norm(dim=1),
        "q3.weights": self_attention(X_weights)[1],
        "q3.copies": [j + 1 for j in nearest_tokens(self_attention(X_large)[0], X_large)],
        "q3.error_order": lambda beta, G=score_pattern(): float(predicted_copy_error([beta], G)[0].max()),
    }


def mistakes(tiny: bool, answers: dict[str, Any]) -> dict[str, list[tuple[Any, str]]]:
    """Q3: norms added directly or squared, the softmax's usual slips, token numbering, the wrong rate."""
    import sympy as sp
    import torch

    from course_utils.q3 import attention
    from course_utils.q3 import checks as q3

    beta = sp.Symbol("beta", positive=True)
    r = error_rate()  # the right rate: the mistaken ones are its neighbours
    X = attention.orthogonal_tokens(q3.norms_beta())[1]
    base = attention.orthogonal_tokens(q3.norms_beta())[0]
    base_norms = base.norm(dim=1)
    parts = (X @ base.T / base_norms ** 2).round()  # how many of each base vector a token holds
    norms = X.norm(dim=1)
    tokens = attention.orthogonal_tokens(q3.weights_beta())[1]
    scores = tokens @ tokens.T
    weights = torch.softmax(scores, dim=1)
    n = len(norms)
    return {
        "q3.norms": [
            ((parts.abs() @ base_norms), "the norms of orthogonal vectors do not add; their squares do "
                                         "(Pythagoras). "),
            (norms ** 2, "those look like squared norms: the norm is the square root of x . x. "),
            (norms / q3.norms_beta(), "the base vectors have norm beta here, not 1. "),
        ],
        "q3.weights": [
            (torch.softmax(scores / dim ** 0.5, dim=1),
             "the definition at the top has no 1/sqrt(d) scaling: use the scores as they are. ")
            for dim in range(len(scores), max(9, attention.numbers()["dim"] + 1))  # whichever dim the handout uses
        ] + [
            (weights.T, "each row holds one token's weights and sums to 1: you have them by column. "),
            (torch.eye(len(weights)), "a softmax of finite scores is never exactly 0 or 1: at your beta work it "
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
        ] + [(sp.exp(-k * beta ** 2), "the exponent's factor differs: compare each row's largest score with its next "
                                      "largest. ")
             for k in dict.fromkeys([2 * r, sp.Rational(r, 2), r + 1, r - 1]) if k not in (0, r)],
    }


def variant_table() -> str:
    """Every variant's facts for the markers, one block each: the tokens, the scores X X^T / beta^2, the rate r of
    the copy error and its leading term, the betas, the demo's query map (written answers follow these)."""
    import sympy as sp

    from course_utils import variants

    beta = sp.Symbol("beta", positive=True)
    blocks = []
    for number in range(variants.count("q3")):
        with variants.pinned("q3", number) as P:
            G = score_pattern()
            blocks.append("\n".join([
                f"variant {number}: {', '.join(token_names())}  (dim {P['dim']})",
                f"  scores / beta^2: {G.tolist()}",
                f"  norms: {[str(n) for n in symbolic_attention().norms]} at beta = {P['norms_beta']:g}; "
                f"weights at beta = {P['weights_beta']:g}",
                f"  error: rate e^(-{error_rate()} beta^2), leading term {leading_term(beta)}",
                f"  query map swaps {' and '.join('-'.join(pair) for pair in P['query_swaps'])}"]))
    return "\n".join(blocks)
