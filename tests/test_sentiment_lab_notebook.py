"""The lab notebook's plumbing: where checkpoints go (Google Drive when mounted), and the stand-ins
that keep the notebook running while a student's blank (model, loops) is still ``...``."""

from __future__ import annotations

from pathlib import Path

import pytest

from course_utils.sentiment import lab
from course_utils.sentiment.config import LabConfig
from course_utils.sentiment.model import BERTGRUSentiment, load_bert

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def test_checkpoints_go_to_drive_when_it_is_mounted(tmp_path, monkeypatch):
    full = LabConfig()
    assert lab.default_out_dir(full, drive=tmp_path) == tmp_path / "course_utils" / "lab"
    assert lab.default_out_dir(full, drive=tmp_path / "not-mounted") == Path("runs/lab")
    tiny = lab.default_out_dir(LabConfig.tiny(), drive=tmp_path)
    assert tiny.is_dir() and tmp_path not in tiny.parents  # tiny runs start from scratch, off Drive


@pytest.mark.parametrize("name, args", [("train_epoch", 4), ("evaluate", 3)])
def test_own_loop_stands_in_for_a_blank_and_says_so_once(name, args, monkeypatch):
    seen, lines = [], []

    def blank(*a):
        seen.append(len(a))  # a body that is still ``...`` returns None

    monkeypatch.setattr(lab, name, lambda *a, **k: ("course", len(a)))
    loop = lab.own_loop(blank, name, log=lines.append)
    assert loop(*range(args)) == ("course", args) and loop(*range(args)) == ("course", args)
    assert seen == [args, args] and len(lines) == 1 and f"your {name} returns nothing yet" in lines[0]


def test_own_loop_keeps_a_written_loop():
    lines = []
    loop = lab.own_loop(lambda m, b, c: (0.5, 0.25), "evaluate", log=lines.append)
    assert loop(None, [], None) == (0.5, 0.25) and lines == []


def test_own_model_builds_a_stand_in_only_for_a_blank():
    config = LabConfig.tiny()
    bert = load_bert(tiny=True, seed=0)
    lines = []
    stand_in = lab.own_model(..., config, bert, log=lines.append)
    assert isinstance(stand_in, BERTGRUSentiment) and stand_in.rnn.hidden_size == config.hidden_dim
    assert stand_in.rnn.num_layers == config.n_layers and stand_in.rnn.bidirectional == config.bidirectional
    assert len(lines) == 1 and "Q2a" in lines[0]
    mine = BERTGRUSentiment(bert, 5, 1, 1, False, 0.0)
    assert lab.own_model(mine, config, bert, log=lines.append) is mine and len(lines) == 1
    assert next(mine.parameters()).device == lab.device()
