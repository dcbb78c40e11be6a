"""Checkpoints that hold only tensors, numbers, strings, lists and dicts.

They are written atomically (temporary file + ``os.replace``) and read with
``torch.load(..., weights_only=True)``, which never unpickles arbitrary objects. ``fit``'s two files,
``best.pt`` and ``resume.pt``: whether a ``resume.pt`` can be continued (``read_resume``), and a
``best.pt`` put back in step with the best model a ``resume.pt`` carries (``restore_best``).
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from course_utils.errors import CourseError
from course_utils.files import atomic_write

FORMAT = "course_utils.lab/1"
FROZEN_PREFIX = "bert."
BEST_NAME = "best.pt"
RESUME_NAME = "resume.pt"


class CheckpointError(CourseError, ValueError):
    """A checkpoint file that cannot be read or does not hold what the lab needs."""


def save_atomic(obj: dict[str, Any], path: Path) -> Path:
    """``torch.save(obj)`` to ``path`` atomically (see ``course_utils.files.atomic_write``)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write(Path(path), buffer.getvalue())
    return Path(path)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by this package; a missing or unreadable file raises naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist: run the lab notebook's training cell "
                                "first (it writes best.pt), or fix the path")  # the student's course-utils has no 'lab'
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for corrupt files
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(err).__name__}): "
                              "run the lab notebook's training cell again to re-create it") from err
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path} was not written by course_utils.lab ({FORMAT})")
    return obj


def model_state(model: nn.Module, include_bert: bool) -> dict[str, torch.Tensor]:
    """The model's state dict, without the frozen BERT (``bert.*``) unless ``include_bert``."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()
            if include_bert or not k.startswith(FROZEN_PREFIX)}


def load_model_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load ``state`` into ``model``; only BERT's entries may be missing (it is rebuilt, not stored)."""
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith(FROZEN_PREFIX)]
    if missing or result.unexpected_keys:
        raise CheckpointError(f"checkpoint does not fit the model: missing {missing}, "
                              f"unexpected {result.unexpected_keys}")


def rng_state() -> dict[str, Any]:
    """Random states of Python and torch (CPU and CUDA), as tensors and lists."""
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {"python": [version, list(internal), gauss], "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` saved."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class ResumeMismatch(CheckpointError):
    """A ``resume.pt`` of this run's settings that cannot continue with this model and optimizer."""


def resume_mismatch(state: dict[str, Any], model: nn.Module, optimizer: torch.optim.Optimizer) -> str | None:
    """Why ``state`` (a ``resume.pt``) cannot be loaded into ``model`` and ``optimizer``, or None if it can:
    other trainable parameters (the optimizer's groups hold other tensors) or other shapes."""
    saved = [len(g["params"]) for g in state["optimizer_state"]["param_groups"]]
    now = [len(g["params"]) for g in optimizer.param_groups]
    if saved != now:
        return (f"it was saved with other trainable parameters ({'+'.join(map(str, saved))} tensors in the "
                f"optimizer, now {'+'.join(map(str, now))})")
    params = [p for g in optimizer.param_groups for p in g["params"]]
    for i, values in state["optimizer_state"]["state"].items():
        for v in values.values():
            if torch.is_tensor(v) and v.dim() > 0 and v.shape != params[int(i)].shape:
                return (f"it was saved with other trainable parameters (a {tuple(v.shape)} tensor, "
                        f"now {tuple(params[int(i)].shape)})")
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    for k, v in state["model_state"].items():
        if k in shapes and v.shape != shapes[k]:
            return f"it was saved for a model of other sizes ({k}: {tuple(v.shape)}, now {tuple(shapes[k])})"
    return None


def read_resume(out_dir: Path, meta: dict[str, Any] | None, model: nn.Module,
                optimizer: torch.optim.Optimizer) -> dict[str, Any] | None:
    """The ``resume.pt`` in ``out_dir`` that ``fit`` continues from, or None if there is none.

    Raises ``CheckpointError`` for another run's file (other meta), ``ResumeMismatch`` for one that
    does not fit ``model`` and ``optimizer`` (``resume_mismatch``)."""
    path = Path(out_dir) / RESUME_NAME
    if not path.exists():
        return None
    state = load_checkpoint(path)
    if state.get("meta") != meta:
        raise CheckpointError(f"{path} belongs to another run (different settings): "
                              "delete it to start again, or choose another output folder")
    why = resume_mismatch(state, model, optimizer)
    if why is not None:
        raise ResumeMismatch(f"{path} cannot be continued: {why}")
    return state


def epochs_left(out_dir: Path, meta: dict[str, Any] | None, model: nn.Module, optimizer: torch.optim.Optimizer,
                epochs: int, made_by: dict[str, str] | None = None) -> int:
    """How many of ``epochs`` ``fit`` will train in ``out_dir`` (after a ``resume.pt``'s finished ones):
    known before any feature is extracted. made_by: ``train.trained_by`` of this run (a resume.pt made
    by others is not resumed). Raises as ``read_resume`` does for another run's file."""
    try:
        state = read_resume(out_dir, meta, model, optimizer)
    except ResumeMismatch:
        return epochs
    if state is None or (made_by is not None and state.get("trained_by") != made_by):
        return epochs
    return max(0, epochs - len(state["history"]["epoch"]))


def restore_best(out_dir: Path, best: dict[str, Any], meta: dict[str, Any] | None,
                 log: Callable[[str], None] = print) -> None:
    """Rewrite ``best.pt`` from ``best`` (the copy in ``resume.pt``) unless it already holds that epoch."""
    path = Path(out_dir) / BEST_NAME
    try:
        current = load_checkpoint(path)
        if (current.get("epoch"), current.get("valid_loss")) == (best["epoch"], best["valid_loss"]):
            return
        what = f"holds epoch {current.get('epoch')}"
    except (FileNotFoundError, CheckpointError):
        what = "is missing or unreadable"
    save_atomic({"format": FORMAT, "meta": meta, **best}, path)
    log(f"{path} {what}, not the best epoch {best['epoch']} that {RESUME_NAME} records (a save that did not "
        f"arrive, e.g. on Drive): rewritten from {RESUME_NAME}")
