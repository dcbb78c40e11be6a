"""Q2 and Q3 as a student meets them: right answers pass every check, wrong ones fail each with its hint,
blanks say "no answer yet", and nothing raises in any of the three.

The answers below are written here, independently of the masters (other code, other spellings).
"""

from __future__ import annotations

from typing import Callable

import nbformat
import pytest

from course_utils.checks import specs
from tests import walkthrough, walkthrough_q1_lab

Q2_RIGHT = {
    "df663ae2": "$h_t = x_t - h_{t-1}$, $h_0 = 0$, $y_t = \\sigma(1000 h_t)$: no bias anywhere.",
    "q2-step": ("import math\n\n"
                "def rnn_step(h_prev, x):\n"
                "    h = 1 * x + (-1) * h_prev\n"
                "    z = 1000 * h\n"
                "    y = 0.5 * (1 + math.tanh(z / 2))  # the logistic function, written so it cannot overflow\n"
                "    return h, y"),
    "q2-final-hidden": ("x = sp.IndexedBase('x')\n"
                        "h = 0\n"
                        "for t in range(1, 5):\n"
                        "    h = rnn_step(h, x[t])[0] if False else x[t] - h\n"
                        "h_4 = sp.expand(h)"),
    "q2-closed-form": ("x = sp.IndexedBase('x')\n"
                       "N, j = sp.symbols('N j', integer=True, nonnegative=True)\n"
                       "h_2N = sp.Sum(x[2 * j], (j, 1, N)) - sp.Sum(x[2 * j - 1], (j, 1, N))"),
    "q2-outputs": ("def last(xs):\n"
                   "    h = y = 0\n"
                   "    for v in xs:\n"
                   "        h, y = rnn_step(h, v)\n"
                   "    return y\n"
                   "y_a, y_b = round(last([3, 1, 2, 4]), 2), [last([5, 2000, 1, 3])]"),
    "3a74adbd": "It compares the sum at even positions with the sum at odd positions.",
}
Q2_WRONG = {
    "df663ae2": "$h_t = x_t + h_{t-1}$, $y_t = \\sigma(1000 - h_t)$.",
    "q2-step": ("import math\n\n"
                "def rnn_step(h_prev, x):\n"
                "    h = x - h_prev\n"
                "    return h, 0.5 * (1 + math.tanh((1000 - h) / 2))  # the seed's bias of 1000"),
    "q2-final-hidden": "x1, x2, x3, x4 = sp.symbols('x1:5')\nh_4 = x1 - x2 + x3 - x4",
    "q2-closed-form": ("x = sp.IndexedBase('x')\nN, k = sp.symbols('N k', integer=True)\n"
                       "h_2N = sp.Sum(x[2 * k - 1] - x[2 * k], (k, 1, N))"),
    "q2-outputs": "import math\ny_a, y_b = 1 / (1 + math.exp(-1000)), 0.5",
    "3a74adbd": "It says 1 every time.",
}
Q3_RIGHT = {
    "q3-norms": "norms = [round(float(r.norm()), 2) for r in X]",
    "79cf9458": "Orthogonality removes the cross terms: sqrt(2) beta, beta, sqrt(2) beta.",
    "q3-attention": ("def attend(X):\n"
                     "    s = X @ X.T\n"
                     "    s = s - s.max(dim=1, keepdim=True).values\n"
                     "    w = s.exp()\n"
                     "    w = w / w.sum(dim=1, keepdim=True)\n"
                     "    return w @ X"),
    "q3-weights": "_, X_1 = att.orthogonal_tokens(1.0, dim=6, seed=0)\ns = (X_1 @ X_1.T).numpy()\nweights_beta1 = [list(torch.softmax(torch.tensor(r), 0).numpy()) for r in s]",
    "q3-copies": "copies = ['x1', 'x2', 'x3']",
    "q3-error-order": "error_order = 'exp(-beta^2)'",
    "0021c92e": "Each output is close to its own input; the error falls like a Gaussian in beta.",
    "649ea340": "Queries and keys decide where to look, values what comes back.",
}
Q3_WRONG = {
    "q3-norms": "norms = (X ** 2).sum(dim=1)  # squared norms",
    "79cf9458": "2 beta, beta, 2 beta.",
    "q3-attention": ("import math\n\n"
                     "def attend(X):\n"
                     "    return torch.softmax(X @ X.T / math.sqrt(X.shape[1]), dim=1) @ X  # scaled"),
    "q3-weights": ("_, X_1 = att.orthogonal_tokens(1.0, dim=6, seed=0)\n"
                   "weights_beta1 = torch.softmax(X_1 @ X_1.T, dim=0)  # normalised down the columns"),
    "q3-copies": "copies = [3, 2, 1]",
    "q3-error-order": "beta = sp.Symbol('beta', positive=True)\nerror_order = sp.exp(-beta)",
    "0021c92e": "They average.",
    "649ea340": "It cannot.",
}
CASES = {"02_rnn_recurrence": (Q2_RIGHT, Q2_WRONG), "03_self_attention": (Q3_RIGHT, Q3_WRONG),
         **walkthrough_q1_lab.CASES}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_tables_fill_every_blank(name):
    handout = walkthrough.handout(name)
    blanks = walkthrough.blank_cells(handout)
    for table in CASES[name]:
        assert sorted(table) == sorted(blanks)
    ids = set(walkthrough.check_ids(handout))
    (prefix,) = {q.split(".", 1)[0] for q in ids}  # one question per handout, and every check of it is asked
    assert ids == {q for q in specs() if q.startswith(prefix + ".")}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_right_answers_pass_every_check(name, tmp_path):
    handout = walkthrough.handout(name)
    result = walkthrough.walk(walkthrough.fill(handout, CASES[name][0]), tmp_path)
    ids = walkthrough.check_ids(handout)
    assert result.messages == {q: f"{q}: correct." for q in ids}
    assert result.verdicts == {q: True for q in ids}


def _assert_every_check(result: walkthrough.Walk, ids: list[str], says: str, ends: Callable[[str], str]) -> None:
    """Every check in ``ids`` printed one line "<id>: <says>...<ends(id)>" and recorded False."""
    assert sorted(result.messages) == sorted(ids)
    for question, line in result.messages.items():
        assert line.startswith(f"{question}: {says}") and line.endswith(ends(question)), line
    assert result.verdicts == {q: False for q in ids}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_wrong_answers_fail_every_check_with_its_hint(name, tmp_path):
    from course_utils.checks import specs

    handout = walkthrough.handout(name)
    result = walkthrough.walk(walkthrough.fill(handout, CASES[name][1]), tmp_path)
    _assert_every_check(result, walkthrough.check_ids(handout), "not yet. Hint: ", lambda q: specs()[q].hint)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_blanks_say_no_answer_yet(name, tmp_path):
    """Untouched blanks: every check run says "no answer yet"; a handout whose later cells use the student's
    code (``walkthrough_q1_lab.STOPS``) stops at the first cell that needs a blank, in one line naming it."""
    handout = walkthrough.handout(name)
    stop = walkthrough_q1_lab.STOPS.get(name)
    result = walkthrough.walk(handout, tmp_path, may_stop=stop is not None)
    ids = walkthrough.check_ids(handout)
    if stop is not None:
        cell_id, says = stop
        assert result.stopped is not None and result.stopped[0] == cell_id, result.stopped
        assert result.stopped[1].startswith("BlankNotFilled: ") and says in result.stopped[1], result.stopped
        before = [c.id for c in handout.cells][:[c.id for c in handout.cells].index(cell_id)]
        ids = walkthrough.check_ids(nbformat.from_dict({**handout, "cells": [c for c in handout.cells if c.id in before]}))
    _assert_every_check(result, ids, "no answer yet: ", lambda q: "")


def test_the_lab_handout_states_what_the_student_is_given_and_asked():
    text = "\n".join(c.source for c in walkthrough.handout("04_bert_gru_sentiment").cells if c.cell_type == "markdown")
    for needed in walkthrough_q1_lab.LAB_PROMPTS:
        assert needed in text, needed


@pytest.mark.parametrize("path", sorted((walkthrough.ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_check_cells_only_call_check(path):
    """A cell tagged ``check`` is locked by the grader: it may hold nothing but ``check("id", value)`` calls."""
    import ast

    handout = walkthrough.handout(path.stem)
    for cell in handout.cells:
        if walkthrough.CHECK_TAG in cell.metadata.get("tags", []):
            body = ast.parse(cell.source).body
            assert body and all(isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)
                                and getattr(s.value.func, "id", None) == "check" for s in body), cell.source
