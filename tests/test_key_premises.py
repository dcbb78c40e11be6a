"""Each question's premise as code: numbers that no longer carry the lesson never become a key or a registry.

Tried as an instructor would: Q3's third token built as c + a (not c + b) makes x2 and x3 share a base vector,
so y3 tends to a blend and copies no token; a recurrent weight of +1 in Q2 makes the output no comparator.
"""

from __future__ import annotations

import argparse

import pytest
import torch

from course_staff import keys, registry
from course_staff.keys import q2 as q2_key
from course_staff.keys import q3 as q3_key


def test_the_course_numbers_keep_every_premise():
    assert q2_key.premise() == (True, "") and q3_key.premise() == (True, "")
    keys.premises()


def _third_token_c_plus_a(beta, dim=4, seed=0, dtype=torch.float64):
    basis, _ = _REAL(beta, dim, seed, dtype)
    a, b, c, d = basis
    return basis, torch.stack([d + b, a, c + a])


_REAL = q3_key.orthogonal_tokens


def test_tokens_that_share_a_base_vector_break_q3s_premise_and_no_registry_is_made(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(q3_key, "orthogonal_tokens", _third_token_c_plus_a)
    ok, why = q3_key.premise()
    assert not ok and "x2's score with itself" in why and "with x3" in why and "copies no token" in why, why
    with pytest.raises(keys.PremiseBroken, match="q3: the question's premise fails"):
        registry.build_registry({})
    from course_staff.authoring import keys as keys_command

    target = tmp_path / "checks.json"
    args = argparse.Namespace(settings=keys_command.settings.DEFAULT_PATH, answers=keys_command.Path("answers"),
                              only="02_rnn_recurrence", registry=target, no_registry=False, check=False,
                              no_execute=True, notebooks=keys_command.Path("notebooks"), remeasure=False)
    assert keys_command.keys(args) == 1
    assert "q3: the question's premise fails: x2's score" in capsys.readouterr().err
    assert not target.exists()


def test_a_recurrent_weight_of_plus_one_breaks_q2s_reading_as_a_comparator(monkeypatch):
    real = q2_key.hidden_step
    monkeypatch.setattr(q2_key, "hidden_step", lambda h, x, w_in=1, w_rec=-1: real(h, x, w_in, 1))
    ok, why = q2_key.premise()
    assert not ok and "no longer compares the two sums" in why
