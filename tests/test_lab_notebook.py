"""The lab notebook's plumbing: where checkpoints go (Google Drive when mounted), the best epoch loaded into the
student's own model, and blanks that stop a cell in one line instead of a stand-in taking their place."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from course_utils.checks.blanks import BlankNotFilled, require
from course_utils.lab import workflow as lab
from course_utils.lab.checkpoint import CheckpointError, model_state, save_atomic
from course_utils.lab.config import LabConfig
from course_utils.lab.model import BERTGRUSentiment, load_bert

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def test_checkpoints_go_to_drive_when_it_is_mounted(tmp_path, monkeypatch):
    full = LabConfig()
    assert lab.default_out_dir(full, drive=tmp_path) == tmp_path / "course_utils" / "lab"
    assert lab.default_out_dir(full, drive=tmp_path / "not-mounted") == Path("runs/lab")
    tiny = lab.default_out_dir(LabConfig.tiny(), drive=tmp_path)
    assert tiny.is_dir() and tmp_path not in tiny.parents  # tiny runs start from scratch, off Drive


def test_the_package_has_no_stand_in_for_a_blank():
    assert not hasattr(lab, "own_model") and not hasattr(lab, "own_loop") and not hasattr(lab, "run_lab")

    def train_epoch(model, batches, optimizer, criterion):
        ...

    for blank in (..., train_epoch):
        with pytest.raises(BlankNotFilled, match="write train_epoch in its cell above .*lab.train_epoch"):
            require(blank, "train_epoch", "lab.train_epoch")


def test_load_best_puts_the_best_weights_into_the_students_model(tmp_path):
    bert = load_bert(tiny=True, seed=0)
    torch.manual_seed(1)
    trained = BERTGRUSentiment(bert, 5, 1, 2, True, 0.25)
    save_atomic({"format": "course_utils.lab/1", "meta": {}, "model_state": model_state(trained, True),
                 "epoch": 1, "valid_loss": 0.5}, tmp_path / "best.pt")
    torch.manual_seed(2)
    mine = BERTGRUSentiment(bert, 5, 1, 2, True, 0.25).train()
    assert lab.load_best(tmp_path, mine) is mine and not mine.training
    assert all(torch.equal(a, b) for a, b in zip(mine.rnn.parameters(), trained.rnn.parameters()))
    with pytest.raises(CheckpointError, match="does not hold this model's weights"):
        lab.load_best(tmp_path, BERTGRUSentiment(bert, 6, 1, 2, True, 0.25))


def test_the_keys_q4b_discussion_reads_the_probabilities_its_run_printed():
    """Q4b's model answer quotes each probability of the run above it and says on which side of 0.5 it lies."""
    import re

    import nbformat

    key = nbformat.read(Path(__file__).resolve().parents[1] / "answers" / "04_bert_gru_sentiment.ipynb", as_version=4)
    cells = {c.id: c for c in key.cells}
    printed = "".join(o.get("text", "") for o in cells["8ddda753"].outputs)
    answer = " ".join(cells["lab-q4b-answer"].source.split())
    probabilities = re.findall(r"^(\d\.\d{3})  ", printed, re.M)
    assert len(probabilities) == 2
    for p in probabilities:
        side = "above 0.5" if float(p) > 0.5 else "below 0.5"
        assert f"{p}, {side}" in answer or f"{p}, just {side}" in answer, (p, side)
        assert ("classified positive" if float(p) > 0.5 else "classified negative") in answer
