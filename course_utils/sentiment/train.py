"""Training and evaluation loops, agnostic to token batches and cached-feature batches.

A batch is any object with ``labels (B,)`` and ``lengths (B,)`` and either
``input_ids, attention_mask (B, T)`` (a ``TokenBatch``) or ``features (B, T, E)`` (BERT's
output, cached). ``fit`` keeps the best model by validation loss and can resume after an
interruption from the state it saves after every epoch.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from torch import nn

from course_utils.sentiment.checkpoint import (
    FORMAT,
    CheckpointError,
    load_checkpoint,
    load_model_state,
    model_state,
    rng_state,
    save_atomic,
    set_rng_state,
)

BEST_NAME = "best.pt"
RESUME_NAME = "resume.pt"
HISTORY_KEYS = ("epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "epoch_time")


def binary_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction in [0, 1] of reviews whose predicted class (logit > 0) equals the label.

    logits: (B,) or (B, 1); labels: (B,) in {0, 1}.
    """
    predicted = logits.reshape(-1) > 0
    return (predicted == (labels.reshape(-1) > 0.5)).float().mean().item()


def batch_logits(model: nn.Module, batch: Any) -> torch.Tensor:
    """Logits (B,) of one batch: ``model(input_ids, attention_mask)`` or ``model.classify(features, lengths)``."""
    device = next(model.parameters()).device
    if hasattr(batch, "features"):
        logits = model.classify(batch.features.to(device).float(), batch.lengths)
    else:
        logits = model(batch.input_ids.to(device), batch.attention_mask.to(device))
    return logits.squeeze(-1)


def with_progress(batches: Iterable, desc: str, progress: bool) -> Iterable:
    """``batches`` behind a progress bar labelled ``desc`` if ``progress``, else unchanged."""
    if not progress:
        return batches
    from course_utils.progress import tqdm  # widgets in a kernel with ipywidgets, else a plain bar

    return tqdm(batches, desc=desc, leave=False)


def _run_epoch(model: nn.Module, batches: Iterable, criterion: nn.Module,
               optimizer: torch.optim.Optimizer | None, desc: str, progress: bool) -> tuple[float, float]:
    """Mean loss and accuracy over all reviews (each batch weighted by its size); trains if ``optimizer``."""
    device = next(model.parameters()).device
    total_loss = total_correct = 0.0
    count = 0
    for batch in with_progress(batches, desc, progress):
        logits = batch_logits(model, batch)
        labels = batch.labels.to(device).float()
        loss = criterion(logits, labels)
        if optimizer is not None:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        n = len(labels)
        total_loss += loss.item() * n
        total_correct += binary_accuracy(logits.detach(), labels) * n
        count += n
    if count == 0:
        raise ValueError(f"{desc}: no batches; is the data set empty?")
    return total_loss / count, total_correct / count


def train_epoch(model: nn.Module, batches: Iterable, optimizer: torch.optim.Optimizer,
                criterion: nn.Module, progress: bool = True) -> tuple[float, float]:
    """One pass of training over ``batches``; returns (mean loss on logits, accuracy in [0, 1])."""
    model.train()
    return _run_epoch(model, batches, criterion, optimizer, "train", progress)


def evaluate(model: nn.Module, batches: Iterable, criterion: nn.Module,
             progress: bool = True) -> tuple[float, float]:
    """Loss (on logits) and accuracy of ``model`` over ``batches``, in eval mode, without gradients."""
    model.eval()
    with torch.no_grad():
        return _run_epoch(model, batches, criterion, None, "eval", progress)


def epoch_line(history: dict[str, list], i: int) -> str:
    """One printed line for epoch ``history['epoch'][i]``: time, train and validation loss/accuracy."""
    minutes, seconds = divmod(int(history["epoch_time"][i]), 60)
    return (f"Epoch: {history['epoch'][i]:02} | Time: {minutes}m {seconds:02}s | "
            f"Train Loss: {history['train_loss'][i]:.3f} Acc: {history['train_acc'][i] * 100:.2f}% | "
            f"Val. Loss: {history['valid_loss'][i]:.3f} Acc: {history['valid_acc'][i] * 100:.2f}%")


def _set_epoch(batches: Iterable, epoch: int) -> None:
    """Tell a bucketed sampler (or any iterable with ``set_epoch``) which epoch's shuffle to use."""
    for target in (batches, getattr(batches, "batch_sampler", None)):
        if hasattr(target, "set_epoch"):
            target.set_epoch(epoch)


def fit(model: nn.Module, train_batches: Iterable, valid_batches: Iterable, epochs: int,
        optimizer: torch.optim.Optimizer | None = None, criterion: nn.Module | None = None,
        out_dir: Path | None = None, meta: dict[str, Any] | None = None, save_bert: bool = False,
        progress: bool = True, log: Callable[[str], None] = print,
        train_fn: Callable | None = None, evaluate_fn: Callable | None = None) -> dict[str, list]:
    """Train for ``epochs``, keep the best model by validation loss; returns the history (lists per epoch).

    optimizer: default Adam over the trainable parameters; criterion: default ``BCEWithLogitsLoss``.
    out_dir: if given, ``best.pt`` (best model) and ``resume.pt`` (model, optimizer, epoch, best loss,
    history, RNG states) are written there atomically after every epoch, and a run with a
    ``resume.pt`` continues after its last completed epoch. meta: plain data stored in both files
    (e.g. the config); a ``resume.pt`` with other meta is refused. save_bert: also store BERT's weights.
    train_fn(model, batches, optimizer, criterion) and evaluate_fn(model, batches, criterion), each
    returning (mean loss, accuracy in [0, 1]): the loops to use (a student's own, in the lab notebook);
    default ``train_epoch`` and ``evaluate``. Their batches come behind a progress bar if ``progress``.
    """
    run_train = train_fn or (lambda m, b, o, c: train_epoch(m, b, o, c, progress=False))
    run_evaluate = evaluate_fn or (lambda m, b, c: evaluate(m, b, c, progress=False))
    optimizer = optimizer or torch.optim.Adam([p for p in model.parameters() if p.requires_grad])
    criterion = criterion or nn.BCEWithLogitsLoss()
    history: dict[str, list] = {k: [] for k in HISTORY_KEYS}
    best_valid_loss = math.inf
    out = Path(out_dir) if out_dir is not None else None
    if out is not None and (out / RESUME_NAME).exists():
        state = load_checkpoint(out / RESUME_NAME)
        if state.get("meta") != meta:
            raise CheckpointError(f"{out / RESUME_NAME} belongs to another run (different settings): "
                             "delete it to start again, or choose another output folder")
        load_model_state(model, state["model_state"])
        optimizer.load_state_dict(state["optimizer_state"])
        set_rng_state(state["rng"])
        history, best_valid_loss = state["history"], state["best_valid_loss"]
        log(f"Resuming from {out / RESUME_NAME}: {len(history['epoch'])} epoch(s) done")
        for i in range(len(history["epoch"])):
            log(epoch_line(history, i))
    for epoch in range(len(history["epoch"]), epochs):
        _set_epoch(train_batches, epoch)
        start = time.perf_counter()
        train_loss, train_acc = run_train(model, with_progress(train_batches, "train", progress), optimizer, criterion)
        valid_loss, valid_acc = run_evaluate(model, with_progress(valid_batches, "eval", progress), criterion)
        values = (epoch + 1, train_loss, train_acc, valid_loss, valid_acc, time.perf_counter() - start)
        for key, value in zip(HISTORY_KEYS, values):
            history[key].append(value)
        if out is not None:
            weights = model_state(model, save_bert)  # one CPU copy serves both files
            if valid_loss < best_valid_loss:
                save_atomic({"format": FORMAT, "meta": meta, "model_state": weights,
                             "epoch": epoch + 1, "valid_loss": valid_loss}, out / BEST_NAME)
            save_atomic({"format": FORMAT, "meta": meta, "model_state": weights,
                         "optimizer_state": optimizer.state_dict(), "history": history,
                         "best_valid_loss": min(best_valid_loss, valid_loss), "rng": rng_state()},
                        out / RESUME_NAME)
        best_valid_loss = min(best_valid_loss, valid_loss)
        log(epoch_line(history, epoch))
    return history
