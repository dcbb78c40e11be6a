"""Q3: the key's self-attention against torch's SDPA, a plain softmax, sympy and the closed forms; the scaffold
running a student's attention."""

from __future__ import annotations

import math

import matplotlib
import pytest
import sympy as sp
import torch
import torch.nn.functional as F

from course_staff.keys.q3 import (
    attention,
    closed_form_weights,
    copy_error_sweep,
    nearest_tokens,
    plot_copy_error,
    predicted_copy_error,
    self_attention,
    swapped_query_demo,
    symbolic_attention,
)
from course_utils.checks.blanks import BlankNotFilled
from course_utils.q3 import attention as scaffold
from course_utils.q3.attention import (
    copy_errors,
    orthogonal_tokens,
    outputs_of,
    plot_measured_copy_error,
    plot_weight_heatmaps,
    swap_query_map,
    weights_of,
)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

BETAS = [0.3, 0.5, 1.0, 1.7, 2.0, 3.0, 5.0, 10.0, 18.0, 30.0, 100.0, 1000.0]
DIMS = [4, 7]
TOL = dict(rtol=1e-9, atol=1e-9)


def sdpa_attend(X: torch.Tensor) -> torch.Tensor:
    """A student's attend, written with torch's SDPA at scale 1 (the course's unscaled definition)."""
    return sdpa(X, X, X, scale=1.0)


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, **kwargs) -> torch.Tensor:
    """torch's scaled_dot_product_attention on one unbatched sequence."""
    return F.scaled_dot_product_attention(q[None], k[None], v[None], **kwargs)[0]


def plain_softmax_attention(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The textbook formula, no max shift: overflows once 2 beta^2 > ~709 in float64."""
    exps = torch.exp(X @ X.T)
    weights = exps / exps.sum(dim=1, keepdim=True)
    return weights @ X, weights


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("beta", BETAS)
def test_matches_sdpa_unscaled(beta: float, dim: int) -> None:
    _, X = orthogonal_tokens(beta, dim, seed=3)
    Y, weights = self_attention(X)
    assert torch.isfinite(Y).all() and torch.isfinite(weights).all()
    oracle_y = sdpa(X, X, X, scale=1.0)
    oracle_w = sdpa(X, X, torch.eye(3, dtype=X.dtype), scale=1.0)  # values = identity -> the weights
    finite = torch.isfinite(oracle_y).all(dim=1) & torch.isfinite(oracle_w).all(dim=1)
    assert finite.any()
    torch.testing.assert_close(Y[finite], oracle_y[finite], **TOL)
    torch.testing.assert_close(weights[finite], oracle_w[finite], **TOL)


@pytest.mark.parametrize("beta", BETAS)
def test_matches_plain_softmax_where_finite(beta: float) -> None:
    _, X = orthogonal_tokens(beta, 5, seed=1)
    Y, weights = self_attention(X)
    plain_y, plain_w = plain_softmax_attention(X)
    finite = torch.isfinite(plain_w).all(dim=1)
    assert bool(finite.all()) == (2 * beta**2 < 709)  # the plain formula overflows exactly as expected
    torch.testing.assert_close(Y[finite], plain_y[finite], **TOL)
    torch.testing.assert_close(weights[finite], plain_w[finite], **TOL)
    assert torch.isfinite(Y).all()
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(3, dtype=torch.float64), rtol=0, atol=1e-15)


def test_general_attention_matches_sdpa_with_unequal_sizes() -> None:
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(*shape, generator=gen, dtype=torch.float64) for shape in [(5, 7), (6, 7), (6, 3)])
    for scale in [1.0, 0.37, 4.0]:
        out, weights = attention(3 * q, 3 * k, v, scale=scale)
        assert out.shape == (5, 3) and weights.shape == (5, 6)
        torch.testing.assert_close(out, sdpa(3 * q, 3 * k, v, scale=scale), **TOL)
        torch.testing.assert_close(weights.sum(dim=1), torch.ones(5, dtype=torch.float64), rtol=0, atol=1e-14)


@pytest.mark.parametrize("beta", [0.3, 1.0, 2.5])
def test_sqrt_scale_equals_sdpa_default(beta: float) -> None:
    _, X = orthogonal_tokens(beta, 9, seed=2)
    Y, weights = self_attention(X, scale="sqrt")
    torch.testing.assert_close(Y, sdpa(X, X, X), **TOL)  # SDPA's default scale is 1/sqrt(dim)
    scaled_by_hand, _ = self_attention(X, scale=1 / 3)
    torch.testing.assert_close(Y, scaled_by_hand, **TOL)
    assert not torch.allclose(Y, self_attention(X)[0])  # and it is not the course's unscaled default


def test_scale_none_means_unscaled_unlike_sdpa() -> None:
    _, X = orthogonal_tokens(1.0)
    torch.testing.assert_close(self_attention(X, scale=None)[0], self_attention(X, scale=1.0)[0], rtol=0, atol=0)


@pytest.mark.parametrize("bad, error", [("sqrtd", ValueError), (0.0, ValueError),
                                        (-1.0, ValueError), (math.inf, ValueError), (True, ValueError)])
def test_bad_scale_is_rejected(bad: object, error: type) -> None:
    _, X = orthogonal_tokens(1.0)
    with pytest.raises(error, match="scale"):
        self_attention(X, scale=bad)


def test_bad_tokens_are_rejected() -> None:
    with pytest.raises(ValueError, match="floating-point"):
        self_attention(torch.ones(3, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match="2-D"):
        self_attention(torch.ones(2, 3, 4))
    with pytest.raises(ValueError, match="inf or NaN"):
        self_attention(torch.tensor([[1.0, math.inf]]))
    with pytest.raises(ValueError, match="shapes do not fit"):
        attention(torch.ones(2, 3), torch.ones(4, 5), torch.ones(4, 2))


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("beta", [0.3, 0.8, 2.0, 4.0, 7.0, 40.0])
def test_weights_equal_closed_form(beta: float, dim: int) -> None:
    _, X = orthogonal_tokens(beta, dim, seed=4)
    _, weights = self_attention(X)
    expected = closed_form_weights(beta)
    torch.testing.assert_close(weights, expected, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close((X @ X.T) / beta**2, torch.tensor([[2.0, 0, 1], [0, 1, 0], [1, 0, 2]],
                                                                  dtype=torch.float64), rtol=0, atol=1e-12)


def test_closed_form_equals_sympy() -> None:
    exact = symbolic_attention()
    assert exact.norms == [sp.sqrt(2) * exact.beta, exact.beta, sp.sqrt(2) * exact.beta]
    assert exact.scores == exact.beta**2 * sp.Matrix([[2, 0, 1], [0, 1, 0], [1, 0, 2]])
    for beta in [0.3, 1.0, 1.9]:
        at_beta = exact.weights.subs(exact.beta, sp.Rational(str(beta))).evalf(30)
        torch.testing.assert_close(torch.tensor(at_beta.tolist(), dtype=torch.float64),
                                   closed_form_weights(beta), rtol=1e-14, atol=0)
    limits = exact.weights.applyfunc(lambda w: sp.limit(w, exact.beta, sp.oo))
    assert limits == sp.eye(3)


def test_norms_numerically() -> None:
    for beta in [0.5, 3.0]:
        _, X = orthogonal_tokens(beta, 6)
        expected = torch.tensor([math.sqrt(2) * beta, beta, math.sqrt(2) * beta], dtype=torch.float64)
        torch.testing.assert_close(torch.linalg.vector_norm(X, dim=1), expected, rtol=1e-14, atol=0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_exact_copies_at_beta_1000(dtype: torch.dtype) -> None:
    _, X = orthogonal_tokens(1000.0, 6, dtype=dtype)
    Y, weights = self_attention(X)
    assert Y.dtype == dtype and torch.isfinite(Y).all()
    assert torch.equal(weights, torch.eye(3, dtype=dtype))
    assert torch.equal(Y, X)


def test_copy_error_matches_closed_form_and_decreases() -> None:
    betas = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0]
    sweep = copy_error_sweep(betas, dim=5, seed=7)
    torch.testing.assert_close(sweep.error, sweep.exact, rtol=1e-6, atol=1e-14)
    relative = sweep.relative_error
    assert (relative[1:] < relative[:-1]).all()  # relative error falls monotonically with beta
    assert torch.equal(sweep.max_error, sweep.error[:, 1])  # token 2 (x2 = a) has the largest error
    ratio = sweep.exact / sweep.leading
    assert (ratio[-1] - 1).abs().max() < 1e-10  # the leading term takes over at large beta
    assert ((ratio[1:] - 1).abs() <= (ratio[:-1] - 1).abs()).all()
    rows = sweep.summary().splitlines()[1:]
    assert len(rows) == len(betas)
    for row, beta, measured, leading in zip(rows, betas, sweep.max_error, sweep.leading[:, 1]):
        fields = [float(f) for f in row.split()]
        assert fields[0] == beta
        assert math.isclose(fields[1], measured, rel_tol=1e-3) and math.isclose(fields[3], leading, rel_tol=1e-3)
        assert math.isclose(fields[4], measured / leading, rel_tol=1e-3)


def test_predicted_rate_matches_direct_derivation() -> None:
    beta = 1.3
    basis, X = orthogonal_tokens(beta, 4)
    u = math.exp(-beta**2)
    # the leading terms named in the docstring: ||x3 - x1|| e^-beta^2 and ||x1 + x3 - 2 x2|| e^-beta^2
    expected = torch.stack([(X[2] - X[0]).norm(), (X[0] + X[2] - 2 * X[1]).norm(), (X[0] - X[2]).norm()]) * u
    _, leading = predicted_copy_error([beta])
    torch.testing.assert_close(leading[0], expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("dim", [0, 1, 3])
def test_dim_below_four_is_an_error(dim: int) -> None:
    with pytest.raises(ValueError, match="dim >= 4"):
        orthogonal_tokens(2.0, dim)


def test_bad_beta_is_an_error() -> None:
    for beta in [0.0, -1.0, math.nan, math.inf]:
        with pytest.raises(ValueError, match="beta"):
            orthogonal_tokens(beta)


@pytest.mark.parametrize("dim", [4, 5, 11])
def test_basis_is_orthogonal_with_norm_beta(dim: int) -> None:
    beta = 2.5
    basis, X = orthogonal_tokens(beta, dim, seed=5)
    assert basis.shape == (4, dim) and X.shape == (3, dim)
    torch.testing.assert_close(basis @ basis.T, beta**2 * torch.eye(4, dtype=torch.float64), rtol=0, atol=1e-12)
    a, b, c, d = basis
    assert torch.equal(X, torch.stack([d + b, a, c + b]))
    assert torch.equal(orthogonal_tokens(beta, dim, seed=5)[0], basis)  # seeded: reproducible
    assert not torch.allclose(orthogonal_tokens(beta, dim, seed=6)[0], basis)


def test_swapped_queries_copy_the_other_token() -> None:
    basis, _ = orthogonal_tokens(4.0, 6, seed=8)
    W_q = swap_query_map(basis)
    torch.testing.assert_close(W_q @ W_q.T, torch.eye(6, dtype=torch.float64), rtol=0, atol=1e-12)
    a, b, c, d = basis
    torch.testing.assert_close(d @ W_q, c, rtol=0, atol=1e-12)
    torch.testing.assert_close((a + b) @ W_q, a + b, rtol=0, atol=1e-12)
    X, Y, weights = swapped_query_demo(4.0, 6, seed=8)
    assert nearest_tokens(Y, X) == [2, 1, 0]
    permutation = torch.tensor([[0.0, 0, 1], [0, 1, 0], [1, 0, 0]], dtype=torch.float64)
    torch.testing.assert_close(weights, permutation, rtol=0, atol=1e-6)
    torch.testing.assert_close(Y, permutation @ X, rtol=0, atol=1e-5)
    # without the query map each token copies itself
    assert nearest_tokens(self_attention(X)[0], X) == [0, 1, 2]


def test_plots_show_the_sweep_and_the_weights() -> None:
    sweep = copy_error_sweep([0.5, 1.0, 2.0, 3.0, 7.0])
    fig = plot_copy_error(sweep)
    ax_abs, ax_rel = fig.axes
    assert ax_abs.get_yscale() == "log" and ax_rel.get_yscale() == "log"
    measured, closed, leading = ax_abs.get_lines()
    torch.testing.assert_close(torch.tensor(closed.get_ydata()), sweep.exact.amax(dim=1))
    torch.testing.assert_close(torch.tensor(leading.get_ydata()), sweep.leading[:, 1])
    assert len(ax_rel.get_lines()) == 3 * 2 + 2  # measured + closed form per token, e^-beta^2, epsilon
    plt.close(fig)
    fig = plot_weight_heatmaps(sdpa_attend, (0.3, 2.0))
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 2
    for ax, beta in zip(panels, (0.3, 2.0)):
        shown = torch.tensor(ax.images[0].get_array(), dtype=torch.float64)
        torch.testing.assert_close(shown, closed_form_weights(beta), rtol=1e-12, atol=1e-14)
        assert [t.get_text() for t in ax.texts] == [f"{w:.2f}" for w in closed_form_weights(beta).flatten().tolist()]
    plt.close(fig)


def test_the_scaffold_holds_no_attention() -> None:
    for name in ("attention", "self_attention", "swapped_query_demo", "_scale_factor"):
        assert not hasattr(scaffold, name), name


def test_the_plots_run_the_students_attend_and_stop_while_it_is_empty() -> None:
    calls = []

    def attend(X):
        calls.append(X.shape)
        return sdpa_attend(X)

    errors, norms = copy_errors([0.5, 2.0], attend, dim=5, seed=2)
    assert len(calls) == 2
    torch.testing.assert_close(errors, copy_error_sweep([0.5, 2.0], dim=5, seed=2).error, rtol=1e-9, atol=1e-12)
    _, X = orthogonal_tokens(1.5, 6)
    torch.testing.assert_close(weights_of(attend, X), closed_form_weights(1.5), rtol=0, atol=1e-12)
    torch.testing.assert_close(outputs_of(lambda X: (sdpa_attend(X), None), X), sdpa_attend(X))

    def empty(X):
        ...

    for blank in (empty, ...):
        for draw in (lambda: plot_measured_copy_error([1.0], blank), lambda: plot_weight_heatmaps(blank, (1.0,))):
            with pytest.raises(BlankNotFilled, match="attend .*q3.attention"):
                draw()
    plt.close("all")


def test_x1_stays_visible_over_x3_whose_errors_are_equal() -> None:
    # the error plots' claim: x1's and x3's errors are equal, so x3's markers would hide x1's identical ones
    sweep = copy_error_sweep(torch.linspace(0.3, 6.5, 32, dtype=torch.float64).tolist(), dim=6)
    torch.testing.assert_close(sweep.relative_error[:, 0], sweep.relative_error[:, 2], rtol=1e-6, atol=1e-15)
    fig = plot_measured_copy_error([0.5, 1.0, 2.0], sdpa_attend)
    x1, _, x3 = fig.axes[0].get_lines()[:3]
    assert x1.get_markerfacecolor() == "none" and x1.get_markersize() > x3.get_markersize()
    plt.close(fig)
