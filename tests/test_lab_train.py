"""Accuracy, epoch metrics weighted by batch size, token and feature batches, fit with best checkpoint and resume."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from course_utils.lab import batching, synthetic, text
from course_utils.lab.checkpoint import load_checkpoint
from course_utils.lab.model import build_model, load_bert
from course_staff.keys.lab import binary_accuracy, evaluate, train_epoch
from course_utils.lab.train import BEST_NAME, RESUME_NAME, batch_logits, fit

SIZES = dict(output_dim=1, n_layers=2, bidirectional=True, dropout=0.25)  # the lab's head but for its width


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def loaders(n: int = 96, batch_size: int = 16):
    """(tokenizer, ids, train loader, valid loader) over n synthetic reviews, 3/4 of them for training."""
    tok = text.load_tokenizer(tiny=True)
    rng = random.Random(0)
    labels = [i % 2 for i in range(n)]
    ids = text.encode(tok, [synthetic.make_review(rng, y) for y in labels])
    cut = n * 3 // 4
    train = batching.bucket_loader(batching.EncodedReviews(ids[:cut], labels[:cut]), batch_size, True, seed=1)
    valid = batching.bucket_loader(batching.EncodedReviews(ids[cut:], labels[cut:]), batch_size, False)
    return tok, ids, train, valid


def _model(vocab_size: int):
    return build_model(load_bert(tiny=True, vocab_size=vocab_size, seed=0), hidden_dim=9, **SIZES, seed=0)


def test_binary_accuracy_is_a_fraction():
    logits = torch.tensor([2.0, -1.0, 0.5, -3.0, 0.1])
    labels = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0])
    assert binary_accuracy(logits, labels) == pytest.approx(3 / 5)
    assert binary_accuracy(logits[:, None], labels) == pytest.approx(3 / 5)
    assert binary_accuracy(logits, (logits > 0).float()) == 1.0
    assert binary_accuracy(logits, (logits <= 0).float()) == 0.0


@dataclass
class FeatureBatch:
    features: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor


def test_metrics_are_weighted_by_batch_size_and_feature_batches_match():
    tok, _, _, _ = loaders()
    model = _model(len(tok)).eval()
    rng = random.Random(1)
    items = [(text.encode(tok, [synthetic.make_review(rng, i % 2)])[0], i % 2) for i in range(9)]
    big, small = batching.collate(items[:8]), batching.collate(items[8:])  # batch sizes 8 and 1
    criterion = nn.BCEWithLogitsLoss()
    loss, acc = evaluate(model, [big, small], criterion)
    with torch.no_grad():
        logits = torch.cat([batch_logits(model, big), batch_logits(model, small)])
        labels = torch.cat([big.labels, small.labels])
        oracle_loss = nn.functional.binary_cross_entropy_with_logits(logits, labels).item()
        oracle_acc = ((logits > 0).float() == labels).float().mean().item()
    assert loss == pytest.approx(oracle_loss, rel=1e-6)
    assert acc == pytest.approx(oracle_acc)
    # The same reviews as cached features give the same logits and metrics.
    with torch.no_grad():
        feats = [FeatureBatch(model.embed(b.input_ids, b.attention_mask).half(), b.lengths, b.labels)
                 for b in (big, small)]
        assert torch.allclose(batch_logits(model, feats[0]), batch_logits(model, big), atol=1e-2)
        full = [FeatureBatch(model.embed(b.input_ids, b.attention_mask), b.lengths, b.labels) for b in (big, small)]
    assert evaluate(model, full, criterion) == pytest.approx((loss, acc), rel=1e-6)


def test_train_epoch_learns_and_reports_fractions():
    tok, _, train, valid = loaders()
    model = _model(len(tok))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    before = [p.detach().clone() for p in model.bert.parameters()]
    losses = [train_epoch(model, train, opt, nn.BCEWithLogitsLoss()) for _ in range(3)]
    assert all(0.0 <= acc <= 1.0 for _, acc in losses)
    assert losses[-1][0] < losses[0][0]
    assert all(torch.equal(a, b) for a, b in zip(before, model.bert.parameters()))  # BERT untouched


def _final_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("bert.")}


def _without_times(history: dict) -> dict:
    return {k: v for k, v in history.items() if k != "epoch_time"}


def _run(out_dir, epochs, meta=None, log=None, train_fn=train_epoch, crash_at=None):
    tok, _, train, valid = loaders()
    train = train if crash_at is None else _CrashingIn(train, crash_at)
    torch.manual_seed(0)
    random.seed(0)
    model = _model(len(tok))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    history = fit(model, train, valid, epochs, train_fn, evaluate, optimizer=opt, out_dir=out_dir, meta=meta,
                  progress=False, log=log or (lambda line: None))
    return model, history


def test_resume_equals_an_uninterrupted_run(tmp_path):
    straight, h_straight = _run(tmp_path / "a", 3)
    _run(tmp_path / "b", 1)  # stops after epoch 1, as if Colab disconnected
    lines: list[str] = []
    resumed, h_resumed = _run(tmp_path / "b", 3, log=lines.append)
    assert lines[0].startswith("Resuming from") and "1 epoch(s) done" in lines[0]
    assert _without_times(h_resumed) == _without_times(h_straight)
    for k, v in _final_state(straight).items():
        assert torch.equal(v, _final_state(resumed)[k]), k


class _Interrupt(Exception):
    pass


class _CrashingIn:
    """The training loader, raising when epoch ``at`` (0-based) starts: a disconnect inside that epoch."""

    def __init__(self, loader, at):
        self.loader, self.at, self.epoch = loader, at, 0

    def set_epoch(self, epoch):
        self.epoch = epoch
        self.loader.batch_sampler.set_epoch(epoch)

    def __iter__(self):
        if self.epoch == self.at:
            raise _Interrupt
        return iter(self.loader)


def test_interrupted_inside_an_epoch_resumes_from_the_last_complete_one(tmp_path):
    straight, h_straight = _run(tmp_path / "a", 2)
    with pytest.raises(_Interrupt):
        _run(tmp_path / "b", 2, crash_at=1)
    resumed, h_resumed = _run(tmp_path / "b", 2)
    assert _without_times(h_resumed) == _without_times(h_straight)
    for k, v in _final_state(straight).items():
        assert torch.equal(v, _final_state(resumed)[k]), k


def test_a_run_made_by_other_functions_is_not_resumed(tmp_path):
    """The resume trap: the first run's loop is a placeholder; after the student writes train_epoch, the
    rerun must train with it from epoch 1, say so in one line, and not replay the old epochs."""
    def first_try(model, batches, optimizer, criterion):
        return 0.9, 0.1  # trains nothing

    calls = []

    def written(model, batches, optimizer, criterion):
        calls.append(1)
        return train_epoch(model, batches, optimizer, criterion)

    _run(tmp_path, 2, train_fn=first_try)
    lines: list[str] = []
    _, history = _run(tmp_path, 2, log=lines.append, train_fn=written)
    assert len(calls) == 2 and history["epoch"] == [1, 2] and history["train_loss"][0] != 0.9
    assert lines[0].startswith("Not resuming") and "other functions" in lines[0]
    assert not any(line.startswith("Resuming") for line in lines)
    lines.clear()
    _run(tmp_path, 3, log=lines.append, train_fn=written)  # the same functions: resumed after epoch 2
    assert lines[0].startswith("Resuming") and len(calls) == 3


def test_best_checkpoint_is_the_lowest_validation_loss_and_safe_to_load(tmp_path):
    model, history = _run(tmp_path, 3, meta={"name": "x"})
    best = torch.load(tmp_path / BEST_NAME, weights_only=True)  # plain data only
    epoch = min(range(3), key=lambda i: history["valid_loss"][i])
    assert best["epoch"] == history["epoch"][epoch]
    assert best["valid_loss"] == history["valid_loss"][epoch]
    assert best["meta"] == {"name": "x"} and not any(k.startswith("bert.") for k in best["model_state"])
    resume = load_checkpoint(tmp_path / RESUME_NAME)
    assert resume["history"]["epoch"] == [1, 2, 3]
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())  # atomic writes leave no temporaries
    with pytest.raises(ValueError, match="another run"):
        _run(tmp_path, 4, meta={"name": "y"})


def test_fit_runs_the_loops_it_is_given_on_every_epoch():
    """The lab notebook passes the student's loops: fit must call them (with the batches) and record their numbers."""
    tok, _, train, valid = loaders()
    model = _model(len(tok))
    calls = []

    def my_train(m, batches, optimizer, criterion):
        calls.append(("train", len(list(batches)), m.training))
        return 0.25, 0.5

    def my_evaluate(m, batches, criterion):
        calls.append(("evaluate", len(list(batches)), m.training))
        return 0.125, 0.75

    history = fit(model, train, valid, 2, my_train, my_evaluate, progress=False, log=lambda line: None)
    assert [c[:2] for c in calls] == [("train", len(train)), ("evaluate", len(valid))] * 2
    assert history["train_loss"] == [0.25, 0.25] and history["valid_acc"] == [0.75, 0.75]
