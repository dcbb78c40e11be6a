"""The training driver: ``fit`` runs the loops it is given (the student's, in the lab notebook) epoch by epoch.

A batch is any object with ``labels (B,)`` and ``lengths (B,)`` and either
``input_ids, attention_mask (B, T)`` (a ``TokenBatch``) or ``features (B, T, E)`` (BERT's
output, cached); ``batch_logits`` gives its logits either way. ``fit`` keeps the best model by
validation loss and can resume after an interruption from the state it saves after every epoch,
but only a run made by the same loops and model class (``trained_by``).
"""

from __future__ import annotations

import hashlib
import inspect
import math
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from torch import nn

from course_utils.lab.checkpoint import (
    BEST_NAME,
    FORMAT,
    RESUME_NAME,
    ResumeMismatch,
    load_model_state,
    model_state,
    read_resume,
    restore_best,
    rng_state,
    save_atomic,
    set_rng_state,
)
HISTORY_KEYS = ("epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "epoch_time")


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


def _fingerprint(function: Callable) -> str:
    """SHA-256 (16 hex digits) of a function's source, or of its compiled code where there is no source."""
    try:
        text = inspect.getsource(function)
    except (OSError, TypeError):
        code = getattr(function, "__code__", None)
        text = repr((code.co_code, code.co_consts, code.co_names)) if code is not None else repr(function)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def trained_by(model: nn.Module, train_fn: Callable, evaluate_fn: Callable) -> dict[str, str]:
    """What made a run: the model's class and hashes of the two loops' source (stored in ``resume.pt``)."""
    cls = type(model)
    return {"model": f"{cls.__module__}.{cls.__qualname__}", "train_fn": _fingerprint(train_fn),
            "evaluate_fn": _fingerprint(evaluate_fn)}


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


def _resume_or_fresh(out: Path, meta: dict[str, Any] | None, model: nn.Module, optimizer: torch.optim.Optimizer,
                     made_by: dict[str, str], log: Callable[[str], None]) -> dict[str, Any] | None:
    """``read_resume``, or None after one line in ``log`` when the file cannot be continued."""
    try:
        state = read_resume(out, meta, model, optimizer)
    except ResumeMismatch as err:
        log(f"{err}: starting afresh (this run replaces {RESUME_NAME} and {BEST_NAME})")
        return None
    if state is not None and state.get("trained_by") != made_by:
        log(f"Not resuming {out / RESUME_NAME}: it was trained by other functions (train_epoch, evaluate or "
            "the model changed since); training starts again.")
        return None
    return state


def fit(model: nn.Module, train_batches: Iterable, valid_batches: Iterable, epochs: int,
        train_fn: Callable, evaluate_fn: Callable,
        optimizer: torch.optim.Optimizer | None = None, criterion: nn.Module | None = None,
        out_dir: Path | None = None, meta: dict[str, Any] | None = None, save_bert: bool = False,
        progress: bool = True, log: Callable[[str], None] = print) -> dict[str, list]:
    """Train for ``epochs`` with the given loops, keep the best model by validation loss; returns the history.

    train_fn(model, batches, optimizer, criterion) and evaluate_fn(model, batches, criterion), each
    returning (mean loss, accuracy in [0, 1]): the loops (the student's own, in the lab notebook).
    Their batches come behind a progress bar if ``progress``.
    optimizer: default Adam over the trainable parameters; criterion: default ``BCEWithLogitsLoss``.
    out_dir: if given, ``best.pt`` (best model) and ``resume.pt`` (model, optimizer, epoch, best loss,
    history, RNG states, ``trained_by``, and a copy of the best model) are written there atomically
    after every epoch, and a run with a ``resume.pt`` continues after its last completed epoch, first
    rewriting a ``best.pt`` that is not the best ``resume.pt`` records (Drive uploads the two files
    separately). meta: plain data stored in both files (e.g. the config); a ``resume.pt`` with other
    meta is refused. A ``resume.pt`` that cannot continue (made by other loops or another model class,
    whose source changed; or saved for other trainable parameters) is said in one line and replaced by a
    fresh run. save_bert: also store BERT's weights.
    """
    optimizer = optimizer or torch.optim.Adam([p for p in model.parameters() if p.requires_grad])
    criterion = criterion or nn.BCEWithLogitsLoss()
    history: dict[str, list] = {k: [] for k in HISTORY_KEYS}
    best_valid_loss = math.inf
    out = Path(out_dir) if out_dir is not None else None
    best = None  # the best epoch so far: {"epoch", "valid_loss", "model_state"}, also kept in resume.pt
    made_by = trained_by(model, train_fn, evaluate_fn)
    state = _resume_or_fresh(out, meta, model, optimizer, made_by, log) if out is not None else None
    if state is not None:
        load_model_state(model, state["model_state"])
        optimizer.load_state_dict(state["optimizer_state"])
        set_rng_state(state["rng"])
        history, best_valid_loss, best = state["history"], state["best_valid_loss"], state.get("best")
        log(f"Resuming from {out / RESUME_NAME}: {len(history['epoch'])} epoch(s) done")
        for i in range(len(history["epoch"])):
            log(epoch_line(history, i))
        if best is not None:
            restore_best(out, best, meta, log)
    for epoch in range(len(history["epoch"]), epochs):
        _set_epoch(train_batches, epoch)
        start = time.perf_counter()
        train_loss, train_acc = train_fn(model, with_progress(train_batches, "train", progress), optimizer, criterion)
        valid_loss, valid_acc = evaluate_fn(model, with_progress(valid_batches, "eval", progress), criterion)
        values = (epoch + 1, float(train_loss), float(train_acc), float(valid_loss), float(valid_acc),
                  time.perf_counter() - start)
        for key, value in zip(HISTORY_KEYS, values):
            history[key].append(value)
        if out is not None:
            weights = model_state(model, save_bert)  # one CPU copy serves both files
            if valid_loss < best_valid_loss:
                best = {"epoch": epoch + 1, "valid_loss": float(valid_loss), "model_state": weights}
                save_atomic({"format": FORMAT, "meta": meta, **best}, out / BEST_NAME)
            save_atomic({"format": FORMAT, "meta": meta, "model_state": weights,
                         "optimizer_state": optimizer.state_dict(), "history": history, "trained_by": made_by,
                         "best_valid_loss": min(best_valid_loss, float(valid_loss)), "best": best,
                         "rng": rng_state()},
                        out / RESUME_NAME)
        best_valid_loss = min(best_valid_loss, float(valid_loss))
        log(epoch_line(history, epoch))
    return history
