"""Every "not yet" teaches: the check tables' mistakes get a hint that names them, and the grader agrees.

``tests/hint_coverage.py`` runs every wrong row of the check tables through the self-check; a hint is
specific when it says more than the standing hint and where the output differs. The goal is 90%
(116 of 121 on 2026-12-05; 49 of 118 before the mistake tables of the hash-checked answers).
"""

from __future__ import annotations

import pytest

from course_utils.checks import verify
from tests import hint_coverage
from tests.check_tables import graded

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py

GOAL = 0.9


def test_nine_in_ten_mistakes_of_the_tables_get_a_hint_that_names_them():
    rows = hint_coverage.rows()
    missing = [f"{r.question} {r.label}: {r.detail or '(standing hint only)'}" for r in rows if not r.specific]
    assert len(rows) >= 110
    assert sum(r.specific for r in rows) >= GOAL * len(rows), "\n".join(missing)


@pytest.mark.parametrize(("question", "mode", "label", "answer", "right"), hint_coverage.answers(),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_the_self_check_and_the_grader_give_one_verdict(monkeypatch, question, mode, label, answer, right):
    monkeypatch.setenv("COURSE_TINY", "1" if mode == "tiny" else "0")
    mine = verify(question, answer)
    ok, detail = graded(question, answer)
    assert (mine.ok, ok) == (right, right), (mine.message, detail)
    if not right:
        assert detail, "a check that lost points says why"
        named = hint_coverage.Row(question, mode, label, mine.message)
        if named.specific and not named.detail.startswith(("on public case", "cannot use this answer")):
            # the grader names the slip in the self-check's words, or says on which hidden case it differs
            assert named.detail.rstrip(". ") in detail or detail.startswith("hidden case"), (named.detail, detail)


def test_two_slips_in_one_loop_are_both_named():
    from tests.test_checks_lab import _train_variant

    loop = _train_variant(zero_grad=False, weighted=False)
    message = verify("lab.train_epoch", loop).message
    assert "unless cleared" in message and "weight each batch" in message, message
    ok, detail = graded("lab.train_epoch", loop)
    assert not ok and "unless cleared" in detail and "weight each batch" in detail, detail
