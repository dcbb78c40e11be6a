"""Probes of the lab's function checks: run a student's function on a case, report what it did as plain data.

A case is JSON: ``{"logits": [...], "labels": [...]}`` for ``binary_accuracy``; ``{"seed": s, "sizes":
[...]}`` for the loops, which get a toy stand-in for ``BERTGRUSentiment`` (the same interface:
``classify(features, lengths)`` and ``forward(input_ids, attention_mask)``, with dropout) and batches
of those sizes (cached-feature batches, the last one of token ids), all drawn from the seed. The model
is put on the lab's device (``lab.device()``, where the notebook's model is) and the batches stay on the
CPU, as the lab's loaders give them, so code that is right in the notebook is right here. The dropout
mask is drawn on the CPU from the case, so every device gives the same numbers.

A probe computes nothing a blank asks: it reports the function's result, the weights after it, and in
which mode (training, gradients) the model was run. A loop is probed with a stand-in for the notebook's
``binary_accuracy`` (:class:`AccuracyStandIn`), so each check judges its own blank. The self-check compares that with stored hashes of
the instructor's outputs on the public cases; the grader, with the instructor's oracle on hidden ones.
Whatever the function prints (or a progress bar it draws) is swallowed.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from course_utils.checks import NoAnswer, _forms
from course_utils.checks.blanks import is_blank

_VOCAB, _EMBED, _STEPS = 12, 6, 4
_DIGITS = 6  # outputs are rounded here, so that a device's last-bit noise never reaches the hash


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


class CaseDropout(nn.Module):
    """Dropout (p = 0.5) whose masks come from a CPU generator seeded by the case: the same on every device."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, E) -> x with half its entries zeroed and the rest doubled in training mode; x in eval mode."""
        if not self.training:
            return x
        keep = torch.rand(x.shape, generator=self.generator) >= 0.5
        return x * keep.to(x.device, x.dtype) * 2.0


class ToySentiment(nn.Module):
    """Mean of the real positions' vectors -> dropout -> one logit; records (training, grad enabled) per pass."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(_VOCAB, _EMBED)
        self.dropout = CaseDropout(seed)
        self.out = nn.Linear(_EMBED, 1)
        self.calls: list[tuple[bool, bool]] = []
        self.outputs: list[torch.Tensor] = []  # each pass's logits (CPU copies), for the accuracy stand-in

    def classify(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """features: (B, T, E), lengths: (B,) -> logits (B, 1)."""
        self.calls.append((self.training, torch.is_grad_enabled()))
        lengths = lengths.to(features.device)
        mask = (torch.arange(features.shape[1], device=features.device) < lengths[:, None]).float()
        pooled = (features * mask[..., None]).sum(dim=1) / lengths[:, None].float()
        logits = self.out(self.dropout(pooled))
        self.outputs.append(logits.detach().cpu())
        return logits

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """input_ids, attention_mask: (B, T) -> logits (B, 1)."""
        return self.classify(self.embedding(input_ids), attention_mask.sum(dim=1))


#: What the stand-in for ``binary_accuracy`` returns on a loop's k-th call (exact binary fractions, all
#: different, so a plain mean of batch values differs from the mean over reviews).
_STAND_IN_VALUES = (0.625, 0.25, 0.875, 0.5, 0.375, 0.75, 0.125)
_WRONG_INPUTS = -1.0  # what the stand-in returns when it is not given this batch's logits and labels


class AccuracyStandIn:
    """Takes the place of the notebook's ``binary_accuracy`` while a loop is probed, so that a loop is judged
    on its own work: it returns a fixed value per call (the k-th of ``_STAND_IN_VALUES``; ``_WRONG_INPUTS``
    when its arguments are not the logits the model just gave and the labels of that batch), as a 0-d
    tensor where the student's own function returns tensors. It computes no accuracy."""

    def __init__(self, model: ToySentiment, batches: list, student: Any) -> None:
        self.model, self.batches, self.student, self.calls = model, batches, student, 0

    def __call__(self, logits: Any, labels: Any) -> Any:
        value = _STAND_IN_VALUES[self.calls % len(_STAND_IN_VALUES)]
        self.calls += 1
        passes = len(self.model.outputs)
        right = 0 < passes <= len(self.batches) and _same(logits, self.model.outputs[-1]) \
            and _same(labels, self.batches[passes - 1].labels)
        value = value if right else _WRONG_INPUTS
        return torch.tensor(value) if self._gives_tensors(logits, labels) else value

    def _gives_tensors(self, logits: Any, labels: Any) -> bool:
        """Whether the student's own ``binary_accuracy`` returns a tensor (a loop may call ``.item()`` on it)."""
        try:
            with torch.no_grad():
                return isinstance(_forms.call_quietly(self.student, logits, labels), torch.Tensor)
        except Exception:  # noqa: BLE001 - a broken accuracy is its own check's business
            return False


def _same(given: Any, expected: torch.Tensor) -> bool:
    """Whether ``given`` holds the values of ``expected`` in any shape ((B,) or (B, 1)), on any device."""
    try:
        given = torch.as_tensor(given.detach() if isinstance(given, torch.Tensor) else given).float().cpu()
        return given.numel() == expected.numel() and torch.allclose(given.reshape(-1), expected.reshape(-1).float())
    except Exception:  # noqa: BLE001 - anything that is not these numbers
        return False


@contextlib.contextmanager
def accuracy_stand_in(loop: Callable, model: ToySentiment, batches: list):
    """While the block runs, the name ``binary_accuracy`` in the loop's module (the notebook's namespace, or
    the key's) is an :class:`AccuracyStandIn`; a loop that does not use that name runs unchanged."""
    namespace = getattr(loop, "__globals__", None)
    student = namespace.get("binary_accuracy") if isinstance(namespace, dict) else None
    if not callable(student):
        yield
        return
    namespace["binary_accuracy"] = AccuracyStandIn(model, batches, student)
    try:
        yield
    finally:
        namespace["binary_accuracy"] = student


def lab_device() -> torch.device:
    """The device the lab's model is on (``lab.device()``: CUDA if there is one)."""
    from course_utils.lab import workflow as lab

    return lab.device()


def toy_setup(case: dict, device: torch.device, training: bool) -> tuple[ToySentiment, list]:
    """The toy model (seeded, on ``device``, in the other mode than ``training``: a loop must set the mode
    itself) and the case's batches (on the CPU)."""
    seed, sizes = int(case["seed"]), [int(n) for n in case["sizes"]]
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ToySentiment(seed + 1)
    batches: list = []
    for i, size in enumerate(sizes):
        lengths = torch.randint(1, _STEPS + 1, (size,), generator=gen)
        labels = torch.randint(0, 2, (size,), generator=gen).float()
        if i < len(sizes) - 1:
            batches.append(FeatureBatch(torch.randn(size, _STEPS, _EMBED, generator=gen), lengths, labels))
        else:
            mask = (torch.arange(_STEPS) < lengths[:, None]).long()
            ids = torch.randint(1, _VOCAB, (size, _STEPS), generator=gen) * mask
            batches.append(TokenBatch(ids, mask, lengths, labels))
    return model.to(device).train(not training), batches


def _quietly(function: Callable, *args: Any) -> Any:
    """``function(*args)`` with its prints, progress bars and warnings swallowed; NoAnswer for an empty blank."""
    if not callable(function):
        raise ValueError("pass your function itself (its name, without calling it)")
    if is_blank(function):
        raise NoAnswer("write the body of your function in place of the ..., then run this cell again.")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        result = _forms.call_quietly(function, *args)
    if result is None:
        raise NoAnswer("your function returns nothing yet: finish it and return its result.")
    return result


def _number(value: Any) -> float:
    return round(_forms.as_float(value), _DIGITS)


def observe_accuracy(function: Callable, case: dict, device: torch.device | None = None) -> float:
    """``function(logits, labels)`` on the case's tensors (on the lab's device), as a float."""
    device = lab_device() if device is None else device
    logits = torch.tensor(case["logits"], dtype=torch.float32, device=device)
    labels = torch.tensor(case["labels"], dtype=torch.float32, device=device)
    return _number(_quietly(function, logits, labels))


def observe_loop(loop: Callable, case: dict, training: bool, device: torch.device | None = None,
                 stand_in: bool = True) -> list:
    """What ``loop`` did on the case: ``[loss, accuracy, weights, modes]``.

    loop: ``train_epoch(model, batches, optimizer, criterion)`` (training) or ``evaluate(model, batches,
    criterion)``; it runs with :func:`accuracy_stand_in`, so its accuracy is the mean over reviews of the
    stand-in's values and a wrong ``binary_accuracy`` costs only its own check (``stand_in=False``: the
    loop as it is, for the key's loop that computes its accuracy itself); weights: the sum and the sum of squares of every parameter tensor afterwards (SGD, lr
    0.5); modes: the distinct (training mode, gradients on) pairs of the model's forward passes, in order.
    """
    device = lab_device() if device is None else device
    model, batches = toy_setup(case, device, training)
    criterion = nn.BCEWithLogitsLoss()
    args = (model, batches, torch.optim.SGD(model.parameters(), lr=0.5), criterion) if training \
        else (model, batches, criterion)
    try:  # evaluate must leave the weights as they are (a device without data, "meta", has nothing to compare)
        before = None if training else _weights(model)
    except NotImplementedError:
        before = None
    try:
        with accuracy_stand_in(loop, model, batches) if stand_in else contextlib.nullcontext():
            result = _quietly(loop, *args)
    except RuntimeError as exc:
        if "does not require grad" in str(exc):
            raise ValueError("the loss has no gradient to follow back to the weights") from None
        raise
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ValueError("return two numbers, (loss, accuracy)")
    weights = _weights(model)
    if before is not None and weights != before:
        raise ValueError("evaluate changed the model's weights: measuring must leave the model as it was")
    modes = list(dict.fromkeys(model.calls))
    return [_number(result[0]), _number(result[1]), weights, [list(m) for m in modes]]


def _weights(model: nn.Module) -> list:
    """[[sum, sum of squares] per parameter tensor], rounded: what a loop did to the weights."""
    return [[_number(p.detach().sum()), _number((p.detach() ** 2).sum())] for p in model.parameters()]


def probe_accuracy(function: Any, case: dict) -> float:
    """The probe of ``lab.binary_accuracy``."""
    return observe_accuracy(function, case)


def probe_train_epoch(function: Any, case: dict) -> list:
    """The probe of ``lab.train_epoch``."""
    return observe_loop(function, case, training=True)


def probe_evaluate(function: Any, case: dict) -> list:
    """The probe of ``lab.evaluate``."""
    return observe_loop(function, case, training=False)


def model_forms(model: Any) -> list[list[str]]:
    """Canonical texts of a built model (the ``lab.model`` check): the head's parameter count, the shape
    of its logits for a batch of 2 reviews, the dropout inside the GRU and before the linear layer."""
    bert = set(map(id, model.bert.parameters()))
    head = [p for p in model.parameters() if id(p) not in bert]
    embedding = model.bert.config.hidden_size
    device = head[0].device
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            logits = model.classify(torch.zeros(2, 3, embedding, device=device), torch.tensor([3, 2]))
    finally:
        model.train(was_training)
    dropouts = f"{float(model.rnn.dropout):.4f},{float(model.dropout.p):.4f}"
    return [[str(sum(p.numel() for p in head))], [",".join(map(str, logits.shape))], [dropouts]]
