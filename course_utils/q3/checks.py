"""Self-checks of Q3 (weight-free self-attention): norms, weights, attention in Python, copies, error order.

``q3.attention`` is a *probe* check: the student's ``attend`` runs on the public inputs below (tokens
of different counts and sizes, so a swapped axis fails, and the question's tokens at beta = 1000,
where a naive softmax overflows) and its outputs are compared with hashes of the right ones. At
grading the same probe runs on hidden inputs, judged by ``course_staff.keys.q3``.

The betas the prompts name and the question's tokens are the student's variant's (``course_utils.q3.variants``),
read when asked for: ``norms_beta()``, ``weights_beta()`` (``NORMS_BETA`` and ``WEIGHTS_BETA`` read the same).
"""

from __future__ import annotations

from typing import Any

from course_utils import variants
from course_utils.checks import NoAnswer, Spec, _forms, register


def norms_beta() -> float:
    """The beta at which (a) asks for the norms, in this variant (3 in variant 0)."""
    return float(variants.params("q3")["norms_beta"])


def weights_beta() -> float:
    """The beta at which (b) asks for the weights, in this variant (1 in variant 0)."""
    return float(variants.params("q3")["weights_beta"])


def __getattr__(name: str) -> Any:
    """``NORMS_BETA`` and ``WEIGHTS_BETA``: this variant's, read when asked for (never frozen at import)."""
    if name == "NORMS_BETA":
        return norms_beta()
    if name == "WEIGHTS_BETA":
        return weights_beta()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


PRECISION = 2  # decimals the prompts ask for
ATTENTION_CASES = (  # public inputs: explicit tokens (rows), or the question's tokens {"beta", "dim", "seed"}
    # (the question's tokens are the variant's, made when the case runs; dim 6 holds every variant's base vectors)
    {"X": [[-1.84, 0.57, 1.49], [-0.77, -1.99, -0.1], [0.72, 1.65, -1.82], [-1.94, 1.06, 0.71]]},
    {"X": [[2.3, 1.47, -0.15, -0.41, 3.86], [-0.43, -1.18, -1.71, 0.14, 0.22]]},
    {"X": [[-0.52, -0.13]]},
    {"beta": 1000.0, "dim": 6, "seed": 1},
)


def tokens_of(case: dict) -> Any:
    """The (n_tokens, dim) float64 tensor a case stands for: its rows ``X``, or ``orthogonal_tokens``."""
    import torch

    from course_utils.q3.attention import orthogonal_tokens

    if "X" in case:
        return torch.tensor(case["X"], dtype=torch.float64)
    return orthogonal_tokens(float(case["beta"]), int(case["dim"]), int(case["seed"]))[1]


def probe_attention(attend: Any, case: dict) -> list:
    """``attend(X)`` on the tokens of ``case`` as nested lists (n_tokens, dim); the first item of a tuple."""
    import numpy as np
    import torch

    if not callable(attend):
        raise ValueError("pass your attention function itself (its name, without calling it)")
    X = tokens_of(case)
    result = _forms.call_quietly(attend, X.clone())
    if result is None:
        raise NoAnswer("your function returns nothing yet: write its body in place of the ... and return Y.")
    if isinstance(result, tuple) and result and not isinstance(result[0], (int, float)):
        result = result[0]  # (Y, weights)
    Y = result.detach().to(torch.float64) if isinstance(result, torch.Tensor) else \
        torch.as_tensor(np.asarray(result, dtype=np.float64))
    if tuple(Y.shape) != tuple(X.shape):
        raise ValueError(f"for an input of shape {tuple(X.shape)} (tokens x dim) your output has shape "
                         f"{tuple(Y.shape)}; return one output row per token")
    return Y.tolist()


register("q3.norms", Spec("floats", "Write ||x1||^2 as the inner product of x1 with itself and expand it; which "
                          "property of the base vectors matters? Give one norm per token, x1 first, for your beta "
                          "(printed at the top).", precision=PRECISION, entries=("||x1||", "||x2||", "||x3||", "||x4||")))
register("q3.weights", Spec("floats", "Use the definition at the top of the notebook as it stands (no extra "
                            "scaling); row i holds the weights of y_i and sums to 1. Give them for your beta (printed "
                            "at the top).",
                            precision=PRECISION))
register("q3.attention", Spec("probe", "Follow the definition at the top term by term for any (n_tokens, dim) "
                              "input: one output row per token, each token's weights summing to 1, finite for "
                              "huge tokens.", probe=probe_attention, public_cases=ATTENTION_CASES, precision=5))
register("q3.copies", Spec("tokens", "For a large beta, look at which weight dominates each row; give one token "
                           "number per output, y1 first."))
register("q3.error_order", Spec("rate", "Pass the error's leading factor as a sympy expression in beta (or a "
                                "string such as 'beta**3'); how fast does the largest off-diagonal weight shrink?",
                                precision=1))
