"""Q3 self-checks judge right: every right form students write passes, every known wrong one fails.

Oracles worked out by hand here: ||x1|| = ||x3|| = sqrt(2) beta and ||x2|| = beta (orthogonal parts),
scores beta^2 [[2,0,1],[0,1,0],[1,0,2]] softmaxed per row, each y_i close to its own x_i, and an error
that shrinks like e^(-beta^2); the attention functions below are written here, not taken from the package.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp
import torch

from course_utils import checks
from tests.check_tables import graded, table_tests

BETA = sp.Symbol("beta", positive=True)
SCORES = ([2, 0, 1], [0, 1, 0], [1, 0, 2])


def _softmax(row: list[float]) -> list[float]:
    exps = [math.exp(v - max(row)) for v in row]
    return [e / sum(exps) for e in exps]


WEIGHTS = [_softmax(r) for r in SCORES]  # beta = 1
NORMS = [3 * math.sqrt(2), 3.0, 3 * math.sqrt(2)]  # beta = 3


def attend_torch(X):
    return torch.softmax(X @ X.T, dim=-1) @ X


def attend_stable_by_hand(X):
    scores = X @ X.T
    scores = scores - scores.max(dim=1, keepdim=True).values
    weights = scores.exp() / scores.exp().sum(dim=1, keepdim=True)
    return weights @ X


def attend_numpy(X):
    X = np.asarray(X)
    s = X @ X.T
    w = np.exp(s - s.max(axis=1, keepdims=True))
    return (w / w.sum(axis=1, keepdims=True)) @ X


def attend_with_weights(X):
    weights = torch.softmax(X @ X.T, dim=1)
    return weights @ X, weights


def attend_scaled(X):
    return torch.softmax(X @ X.T / math.sqrt(X.shape[1]), dim=1) @ X


def attend_transposed(X):  # softmax down the columns: weights transposed
    return torch.softmax(X @ X.T, dim=0) @ X


def attend_naive(X):  # exp overflows at beta = 1000: inf / inf = nan
    e = torch.exp(X @ X.T)
    return (e / e.sum(dim=1, keepdim=True)) @ X


def attend_weights_only(X):
    return torch.softmax(X @ X.T, dim=1)


def attend_by_scores(X):  # the scores used as weights, no softmax
    return (X @ X.T) @ X


def attend_identity(X):  # "it copies", without computing anything
    return X.clone()


RIGHT = {
    "q3.norms": [NORMS, tuple(NORMS), torch.tensor(NORMS), np.array(NORMS), [4.24, 3, 4.24], [4.243, 3.0, 4.243],
                 [3 * sp.sqrt(2), 3, 3 * sp.sqrt(2)], sp.Matrix([3 * sp.sqrt(2), 3, 3 * sp.sqrt(2)]),
                 torch.tensor([[4.2426], [3.0], [4.2426]]), ["4.24", "3", "4.24"]],
    "q3.weights": [WEIGHTS, torch.tensor(WEIGHTS), np.array(WEIGHTS), [[round(w, 2) for w in r] for r in WEIGHTS],
                   sp.Matrix(3, 3, lambda i, j: sp.exp(SCORES[i][j]) / sum(sp.exp(s) for s in SCORES[i])),
                   tuple(tuple(r) for r in WEIGHTS)],
    "q3.attention": [attend_torch, attend_stable_by_hand, attend_numpy, attend_with_weights],
    "q3.copies": [[1, 2, 3], (1, 2, 3), ["x1", "x2", "x3"], ["x_1", "x_2", "x_3"], ["x_{1}", "x_{2}", "x_{3}"],
                  list(sp.symbols("x1:4")), torch.tensor([1, 2, 3]), np.array([1, 2, 3])],
    "q3.error_order": [sp.exp(-BETA**2), sp.exp(-sp.Symbol("beta") ** 2), "exp(-beta**2)", "exp(-beta^2)",
                       "e^(-beta^2)", "exp(-β**2)", sp.sqrt(10) * BETA * sp.exp(-BETA**2), lambda b: math.exp(-b * b),
                       sp.exp(-sp.Symbol("b") ** 2)],
}
WRONG = {
    "q3.norms": [[6.0, 3.0, 6.0], [18, 9, 18], [2 * math.sqrt(3), 3, 2 * math.sqrt(3)], [4.2, 3, 4.2],
                 [math.sqrt(2), 1, math.sqrt(2)], NORMS[:2]],
    "q3.weights": [[_softmax([v / 2 for v in r]) for r in SCORES],  # 1/sqrt(d) scaling, d = 4
                   np.array(WEIGHTS).T.tolist(),  # transposed
                   [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
                   SCORES],  # the scores, no softmax
    "q3.attention": [attend_scaled, attend_transposed, attend_naive, attend_weights_only, attend_identity,
                     attend_by_scores],
    "q3.copies": [[3, 2, 1], [1, 1, 1], [2, 2, 2], [0, 1, 2], ["x3", "x2", "x1"]],
    "q3.error_order": [sp.exp(-BETA), sp.exp(-2 * BETA**2), 1 / BETA**2, "exp(-beta**2/2)", "exp(-sqrt(2)*beta)"],
}
WEIRD = [None, "", "???", "(((", [], {}, object(), float("nan"), lambda *a: 1 / 0, "beta + x", True]


(test_right_answers_pass, test_wrong_answers_fail_with_the_hint,
 test_weird_input_never_raises_and_a_blank_is_no_answer) = table_tests(RIGHT, WRONG, WEIRD)


def test_attention_hints_point_at_the_mistake_without_the_formula():
    assert "scaled by 1/sqrt(dim)" in checks.verify("q3.attention", attend_scaled).message
    assert "not finite" in checks.verify("q3.attention", attend_naive).message
    assert "which axis" in checks.verify("q3.attention", attend_transposed).message
    assert "one output row per token" in checks.verify("q3.attention", attend_weights_only).message
    for question in ("q3.attention", "q3.weights", "q3.norms"):
        hint = checks.specs()[question].hint
        for code in ("X X^T", "X @ X", "softmax(", "||u + v||^2 =", "dim=1", "max("):
            assert code not in hint, (question, code)

    def attend(X):
        ...

    assert checks.verify("q3.attention", attend).message.startswith("q3.attention: no answer yet: ")


def test_the_attention_probe_leaves_the_students_input_alone():
    seen = []

    def attend(X):
        seen.append(X)
        out = torch.softmax(X @ X.T, dim=1) @ X
        X.zero_()  # a student function that scribbles on its input must not fool the comparison
        return out

    assert checks.verify("q3.attention", attend).ok and len(seen) == len(checks.specs()["q3.attention"].public_cases)


def test_the_key_attention_is_torchs_sdpa_at_scale_one():
    from course_staff.keys import q3 as q3_key

    for case in checks.specs()["q3.attention"].public_cases:
        X = q3_key.tokens_of(case)
        want = torch.nn.functional.scaled_dot_product_attention(X[None], X[None], X[None], scale=1.0)[0]
        finite = torch.isfinite(want).all(dim=1)
        torch.testing.assert_close(q3_key.self_attention(X)[0][finite], want[finite], rtol=1e-9, atol=1e-9)


def test_right_answers_pass_the_graders_hidden_cases():
    for attend in RIGHT["q3.attention"]:
        assert graded("q3.attention", attend) == (True, ""), attend


def test_wrong_answers_fail_the_graders_hidden_cases():
    for attend in WRONG["q3.attention"]:
        assert not graded("q3.attention", attend)[0], attend


def test_a_lookup_table_of_the_public_cases_passes_the_self_check_only():
    from course_staff.keys import q3 as q3_key

    table = [(q3_key.tokens_of(case), attend_torch(q3_key.tokens_of(case))) for case in
             checks.specs()["q3.attention"].public_cases]

    def replay(X):
        return next((Y for X_seen, Y in table if X_seen.shape == X.shape and torch.equal(X_seen, X)), X)

    assert checks.verify("q3.attention", replay).ok
    assert not graded("q3.attention", replay)[0]
