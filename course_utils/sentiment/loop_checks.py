"""Judges of the lab's loops: a student's ``train_epoch`` and ``evaluate`` against the package's own.

Both run on a toy stand-in for ``BERTGRUSentiment`` (the same interface: ``classify(features,
lengths)`` and ``forward(input_ids, attention_mask)``) with dropout, over batches of different sizes
(two of cached features, one of token ids), from the same seed. The toy model records, for every
forward pass, whether it was in training mode and whether gradients were on, and the criterion
records what it was given, so that a wrong loop gets a hint about its actual mistake.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from course_utils.checks import NoAnswer, _forms

SEED = 7
BATCH_SIZES = (5, 3, 2)  # unequal sizes: a plain mean of batch means is not the mean over reviews
_LABELS = ((1, 0, 0, 1, 1), (0, 1, 0), (1, 1))
_VOCAB, _EMBED, _STEPS = 12, 6, 4
_TOLERANCE = 1e-5


@dataclass
class FeatureBatch:
    """Cached-feature batch: features (B, T, E), lengths (B,), labels (B,) floats."""

    features: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor


@dataclass
class TokenBatch:
    """Token batch: input_ids, attention_mask (B, T), lengths (B,), labels (B,) floats."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor


class ToySentiment(nn.Module):
    """Mean of the real positions' vectors -> dropout -> one logit; records (training, grad enabled, logits)."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(_VOCAB, _EMBED)
        self.dropout = nn.Dropout(0.5)
        self.out = nn.Linear(_EMBED, 1)
        self.calls: list[tuple[bool, bool]] = []
        self.logits: list[torch.Tensor] = []

    def classify(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """features: (B, T, E), lengths: (B,) -> logits (B, 1)."""
        self.calls.append((self.training, torch.is_grad_enabled()))
        mask = (torch.arange(features.shape[1]) < lengths[:, None]).float()
        pooled = (features * mask[..., None]).sum(dim=1) / lengths[:, None].float()
        logits = self.out(self.dropout(pooled))
        self.logits.append(logits.detach().reshape(-1))
        return logits

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """input_ids, attention_mask: (B, T) -> logits (B, 1)."""
        return self.classify(self.embedding(input_ids), attention_mask.sum(dim=1))


class RecordingLoss(nn.BCEWithLogitsLoss):
    """``BCEWithLogitsLoss`` that keeps every input it was given and every loss it returned."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[torch.Tensor] = []
        self.losses: list[float] = []

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:  # noqa: A002 (torch's name)
        """input: (B,) logits, target: (B,) 0.0/1.0 -> mean loss."""
        loss = super().forward(input, target)
        self.inputs.append(input.detach().reshape(-1))
        self.losses.append(float(loss))
        return loss


def toy_batches() -> list:
    """Two feature batches and one token batch (sizes 5, 3, 2), the same every call."""
    gen = torch.Generator().manual_seed(SEED)
    batches: list = []
    for size, labels in zip(BATCH_SIZES, _LABELS):
        lengths = torch.randint(1, _STEPS + 1, (size,), generator=gen)
        target = torch.tensor(labels, dtype=torch.float32)
        if len(batches) < 2:
            batches.append(FeatureBatch(torch.randn(size, _STEPS, _EMBED, generator=gen), lengths, target))
        else:
            mask = (torch.arange(_STEPS) < lengths[:, None]).long()
            ids = torch.randint(1, _VOCAB, (size, _STEPS), generator=gen) * mask
            batches.append(TokenBatch(ids, mask, lengths, target))
    return batches


@dataclass
class Run:
    """What one loop did: its result, the model afterwards, the criterion's records."""

    result: Any
    model: ToySentiment
    criterion: RecordingLoss


def run_loop(loop: Callable, training: bool) -> Run:
    """Run ``loop`` on a fresh toy model (in the wrong mode to start with) and the toy batches, seeded."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = ToySentiment()
        model.train(not training)  # a loop must set the mode itself
        criterion = RecordingLoss()
        if training:
            optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
            result = _forms.call_quietly(loop, model, toy_batches(), optimizer, criterion)
        else:
            result = _forms.call_quietly(loop, model, toy_batches(), criterion)
    return Run(result, model, criterion)


def _pair(result: Any) -> tuple[float, float]:
    if result is None:
        raise NoAnswer("your function returns nothing yet: write its body in place of the ... and "
                       "return (loss, accuracy).")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ValueError("return two numbers, (loss, accuracy)")
    return _forms.as_float(result[0]), _forms.as_float(result[1])


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=_TOLERANCE, abs_tol=_TOLERANCE)


def _weights(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _input_hint(run: Run) -> str | None:
    """A hint when the criterion was not given the model's logits (probabilities, rounded or not)."""
    inputs, logits = run.criterion.inputs, run.model.logits
    if inputs and logits and len(inputs[0]) == len(logits[0]) and not torch.allclose(inputs[0], logits[0]):
        if torch.all((inputs[0] == 0) | (inputs[0] == 1)):
            return ("your loss is computed on rounded probabilities, which have no useful gradient and ignore how "
                    "sure the model is: give the criterion the logits themselves. ")
        return "give the criterion the logits themselves: BCEWithLogitsLoss applies the sigmoid on its own. "
    return None


def _diagnose_values(run: Run, loss: float, acc: float, ref: Run) -> str | None:
    """A hint for a wrong (loss, accuracy), from what the loop computed; None if both are right.

    ref: the course's loop on the same model and batches (same per-batch losses when the updates agree).
    """
    want, want_losses = _pair(ref.result), ref.criterion.losses
    sizes = list(BATCH_SIZES)
    if acc > 1 + _TOLERANCE:
        return "your accuracy is above 1: return a fraction of the reviews, not a percentage or a count. "
    batch_losses = run.criterion.losses
    if len(batch_losses) != len(want_losses) or not all(map(_close, batch_losses, want_losses)):
        return "your loss on a batch differs from the course's; use the criterion you are given, on the logits. "
    if len(batch_losses) == len(sizes) and not _close(loss, want[0]):
        if _close(loss, sum(batch_losses) / len(sizes)):
            return ("your loss is a plain mean of the batch losses; the batches differ in size: weight each "
                    "batch's loss by its number of reviews and divide by the number of reviews. ")
        return "your mean loss differs from the course's on the test batches. "
    logits = run.model.logits
    if len(logits) == len(sizes) and not _close(acc, want[1]):
        labels = [b.labels for b in toy_batches()]
        per_batch = [((z > 0).float() == y).float().mean().item() for z, y in zip(logits, labels)]
        if _close(acc, sum(per_batch) / len(sizes)):
            return ("your accuracy is a plain mean of the batch accuracies; the batches differ in size: weight "
                    "each by its number of reviews. ")
        return "your accuracy differs from the course's on the test batches. "
    if not (_close(loss, want[0]) and _close(acc, want[1])):
        return "your (loss, accuracy) differ from the course's on the test batches. "
    return None


def _call(loop: Any, training: bool) -> Run | tuple[bool, str]:
    if not callable(loop):
        return False, "pass your function itself (its name, without calling it). "
    try:
        return run_loop(loop, training)
    except RuntimeError as exc:
        if "does not require grad" in str(exc):
            return False, ("the loss has no gradient to follow: compute it on the logits, not on rounded "
                           "probabilities or on numbers taken out with .item(). ")
        raise
    except AttributeError as exc:
        if "input_ids" in str(exc) or "features" in str(exc):
            return False, ("get each batch's logits with batch_logits(model, batch): the lab's batches hold BERT's "
                           "cached features, not always token ids. ")
        raise


def _start(loop: Any, training: bool) -> tuple[Run, float, float] | tuple[bool, str]:
    """Run the student's loop: (run, loss, accuracy), or a verdict when it cannot be judged further."""
    run = _call(loop, training)
    if isinstance(run, tuple):
        return run
    loss, acc = _pair(run.result)
    if not run.model.calls:
        return False, "your function never ran the model: get each batch's logits with batch_logits(model, batch). "
    return run, loss, acc


def judge_train_epoch(loop: Any) -> tuple[bool, str]:
    """The student's ``train_epoch(model, batches, optimizer, criterion)`` against ``train.train_epoch``."""
    from course_utils.sentiment.train import train_epoch

    started = _start(loop, training=True)
    if len(started) == 2:
        return started
    run, loss, acc = started
    if not all(training for training, _ in run.model.calls):
        return False, "put the model in training mode (model.train()) before the loop: dropout must be on. "
    hint = _input_hint(run)
    if hint:
        return False, hint
    ref = run_loop(lambda m, b, o, c: train_epoch(m, b, o, c, progress=False), training=True)
    before = _weights(run_loop(lambda *args: (0.0, 0.0), training=True).model)
    mine = _weights(run.model)
    if torch.allclose(mine, before):
        return False, "the weights did not change: back-propagate the loss and take an optimizer step for every batch. "
    same_first = run.criterion.losses[:1] == ref.criterion.losses[:1]
    if same_first and not torch.allclose(mine, _weights(ref.model), atol=1e-5):
        return False, ("the weights after the epoch differ from the course's: clear the old gradients before each "
                       "backward pass (optimizer.zero_grad()), then take one step per batch. ")
    hint = _diagnose_values(run, loss, acc, ref)
    return (False, hint) if hint else (True, "")


def judge_evaluate(loop: Any) -> tuple[bool, str]:
    """The student's ``evaluate(model, batches, criterion)`` against ``train.evaluate``."""
    from course_utils.sentiment.train import evaluate

    started = _start(loop, training=False)
    if len(started) == 2:
        return started
    run, loss, acc = started
    if any(training for training, _ in run.model.calls):
        return False, "switch the model to evaluation mode (model.eval()) first: dropout must be off when measuring. "
    if any(grad for _, grad in run.model.calls):
        return False, "compute no gradients while evaluating: run the loop inside a torch.no_grad() block. "
    ref = run_loop(lambda m, b, c: evaluate(m, b, c, progress=False), training=False)
    hint = _input_hint(run) or _diagnose_values(run, loss, acc, ref)
    if hint:
        return False, hint
    if not torch.allclose(_weights(run.model), _weights(ref.model)):
        return False, "evaluating must not change the weights. "
    return True, ""
