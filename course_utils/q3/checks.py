"""Self-checks of Q3 (weight-free self-attention): norms, weights, attention in Python, copies, error order.

The attention judge compares the student's function with ``course_utils.q3.attention.self_attention``
on test inputs the handout does not show: tokens of different counts and sizes (so a swapped
axis fails), and the question's tokens at beta = 1000 (where a naive softmax overflows).
"""

from __future__ import annotations

from typing import Any

from course_utils.checks import NoAnswer, Spec, _forms, register

NORMS_BETA = 3.0
WEIGHTS_BETA = 1.0
PRECISION = 2  # decimals the prompts ask for


def _test_inputs() -> list:
    """(n_tokens, dim) float64 inputs: random ones of several shapes, and the Q3 tokens at beta = 1000."""
    import torch

    from course_utils.q3.attention import orthogonal_tokens

    generator = torch.Generator().manual_seed(5)
    shapes = [(4, 3), (2, 7), (5, 5), (1, 2)]
    inputs = [1.5 * torch.randn(n, d, generator=generator, dtype=torch.float64) for n, d in shapes]
    return inputs + [orthogonal_tokens(1000.0, dim=6, seed=1)[1]]


def _as_tensor(value: Any) -> Any:
    """A float64 tensor from a tensor, an array or nested lists (the first item of a returned tuple)."""
    import numpy as np
    import torch

    if isinstance(value, tuple) and value and not isinstance(value[0], (int, float)):
        value = value[0]  # (Y, weights)
    if isinstance(value, torch.Tensor):
        return value.detach().to(torch.float64)
    return torch.as_tensor(np.asarray(value, dtype=np.float64))


def judge_attention(attend: Any) -> tuple[bool, str]:
    """Run ``attend(X) -> Y`` on the test inputs against the package's unscaled self-attention."""
    import torch

    from course_utils.q3.attention import self_attention

    if not callable(attend):
        return False, "pass your attention function itself (its name, without calling it). "
    for X in _test_inputs():
        result = _forms.call_quietly(attend, X.clone())
        if result is None:
            raise NoAnswer("your function returns nothing yet: write its body in place of the ... and return Y.")
        Y = _as_tensor(result)
        want, _ = self_attention(X)
        large = X.abs().max().item() > 100
        if tuple(Y.shape) != tuple(X.shape):
            return False, (f"for an input of shape {tuple(X.shape)} (tokens x dim) your output has shape "
                           f"{tuple(Y.shape)}; return one output row per token. ")
        if not torch.isfinite(Y).all():
            return False, ("your output has inf or NaN for tokens of norm about 1000: exp overflows there. "
                           "Softmax gives the same weights if you subtract a row's largest score first. ")
        if not torch.allclose(Y, want, rtol=1e-6, atol=1e-9 * (1 + X.abs().max().item())):
            if torch.allclose(Y, self_attention(X, scale="sqrt")[0], rtol=1e-6, atol=1e-9):
                return False, "your scores are scaled by 1/sqrt(dim); the question's scores are used as they are. "
            where = "for tokens of norm about 1000" if large else f"for a test input of shape {tuple(X.shape)}"
            return False, (f"your output differs from weight-free self-attention {where}; check which axis "
                           "the softmax normalises (each token's weights sum to 1). ")
    return True, ""


register("q3.norms", Spec("floats", "Orthogonal vectors: ||u + v||^2 = ||u||^2 + ||v||^2; give ||x1||, ||x2||, "
                          "||x3|| for beta = 3.", precision=PRECISION))
register("q3.weights", Spec("floats", "Scores are x_i . x_j with no 1/sqrt(d) scaling; softmax each row. Give the "
                            "3x3 weights for beta = 1, row i for y_i.", precision=PRECISION))
register("q3.attention", Spec("judge", "Scores X X^T, a softmax over each row, then the weighted sum of the tokens; "
                              "X is (n_tokens, dim), float64.", judge=judge_attention))
register("q3.copies", Spec("tokens", "For a large beta, look at which weight dominates each row; give one token "
                           "number per output, y1 first."))
register("q3.error_order", Spec("rate", "Pass the error's leading factor as a sympy expression in beta (or a "
                                "string such as 'beta**3'); how fast does the largest off-diagonal weight shrink?",
                                precision=1))
