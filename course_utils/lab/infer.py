"""P(positive) for new reviews, and for every review of a data set."""

from __future__ import annotations

from typing import Iterable, Sequence, overload

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from course_utils.errors import CourseError
from course_utils.lab.batching import collate
from course_utils.lab.text import encode
from course_utils.lab.train import batch_logits


class TextError(CourseError, ValueError):
    """A review to classify that is empty or only whitespace."""


def check_texts(texts: Sequence[object]) -> list[str]:
    """The texts if all are non-blank strings; otherwise a TypeError or ``TextError`` naming the fix."""
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"review {i} is a {type(text).__name__}, not a str: pass the review's text")
        if not text.strip():
            raise TextError(f"review {i} is empty or only whitespace: pass some text to classify")
    return list(texts)


@overload
def predict_sentiment(model: nn.Module, tokenizer: PreTrainedTokenizerBase, sentence: str) -> float: ...
@overload
def predict_sentiment(model: nn.Module, tokenizer: PreTrainedTokenizerBase, sentence: list[str]) -> list[float]: ...


def predict_sentiment(model: nn.Module, tokenizer: PreTrainedTokenizerBase,
                      sentence: str | list[str]) -> float | list[float]:
    """P(positive) of one review (a float) or of a list of reviews (a list, computed as one batch).

    Reviews longer than the model's limit are cut to 510 word pieces plus [CLS] and [SEP];
    padding is masked, so a review's probability does not depend on the others in its batch.
    """
    single = isinstance(sentence, str)
    if not single and not isinstance(sentence, (list, tuple)):
        raise TypeError(f"sentence must be a str or a list of str, not {type(sentence).__name__}")
    texts = check_texts([sentence] if single else sentence)
    if not texts:
        return []
    ids = encode(tokenizer, texts)
    batch = collate([(x, 0) for x in ids], pad_id=tokenizer.pad_token_id)
    model.eval()
    with torch.no_grad():
        probs = torch.sigmoid(batch_logits(model, batch)).tolist()
    return probs[0] if single else probs


def predict_batches(model: nn.Module, batches: Iterable) -> tuple[torch.Tensor, torch.Tensor]:
    """P(positive) and labels of every review in ``batches`` (token or feature batches): two (N,) tensors."""
    model.eval()
    probs, labels = [], []
    with torch.no_grad():
        for batch in batches:
            probs.append(torch.sigmoid(batch_logits(model, batch)).cpu())
            labels.append(batch.labels.cpu().float())
    return torch.cat(probs), torch.cat(labels)


class RecordingLoss(nn.Module):
    """A loss that keeps the logits and labels it is given, so that the predictions of one evaluation pass can
    be used again (the confusion matrix) without running the model a second time.

    loss: the loss to compute (e.g. ``nn.BCEWithLogitsLoss()``); calling this module returns exactly what
    ``loss(logits, labels)`` returns. ``logits``/``labels``: the flattened (B,) tensors of every call, on the CPU.
    """

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss
        self.logits: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        self.logits.append(logits.detach().reshape(-1).float().cpu())
        self.labels.append(torch.as_tensor(labels).detach().reshape(-1).float().cpu())
        return self.loss(logits, labels)


def shared_predictions(recorded: RecordingLoss, model: nn.Module, batches: Iterable,
                       n_reviews: int) -> tuple[torch.Tensor, torch.Tensor]:
    """P(positive) and labels, two (N,) tensors, of the ``n_reviews`` reviews in ``batches``.

    Read off the logits an evaluation loop passed to ``recorded`` when it saw each review once (one
    logit and one label per review, ``n_reviews`` in all); otherwise (a loop that computed its loss
    another way, or called it more or less often) ``predict_batches`` runs the model again.
    """
    logits, labels = recorded.logits, recorded.labels
    if logits and len(logits) == len(labels) and all(a.shape == b.shape for a, b in zip(logits, labels)):
        probs, targets = torch.sigmoid(torch.cat(logits)), torch.cat(labels)
        if probs.numel() == n_reviews:
            return probs, targets
    return predict_batches(model, batches)


def padding_effect(model: nn.Module, tokenizer: PreTrainedTokenizerBase, texts: list[str]) -> dict[str, float]:
    """Largest change of a logit when a review is batched with longer ones (padded) instead of alone.

    ``masked``: the model as built (attention mask for BERT, GRU read up to each review's length): ~1e-6.
    ``unmasked``: the same weights, but BERT attends to [PAD] and the GRU reads the padding.
    """
    ids = encode(tokenizer, check_texts(texts))
    batch = collate([(x, 0) for x in ids], pad_id=tokenizer.pad_token_id)
    device = next(model.parameters()).device
    input_ids, everything = batch.input_ids.to(device), torch.ones_like(batch.input_ids, device=device)
    model.eval()
    with torch.no_grad():
        alone = torch.cat([batch_logits(model, collate([(x, 0)])) for x in ids])
        masked = batch_logits(model, batch)
        unmasked = model.classify(model.embed(input_ids, everything), everything.sum(dim=1)).squeeze(-1)
    return {"masked": (masked - alone).abs().max().item(), "unmasked": (unmasked - alone).abs().max().item()}
