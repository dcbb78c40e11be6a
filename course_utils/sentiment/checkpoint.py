"""Checkpoints that hold only tensors, numbers, strings, lists and dicts.

They are written atomically (temporary file + ``os.replace``) and read with
``torch.load(..., weights_only=True)``, which never unpickles arbitrary objects.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import torch
from torch import nn

from course_utils.errors import CourseError
from course_utils.files import atomic_write

FORMAT = "course_utils.sentiment/1"
FROZEN_PREFIX = "bert."


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
        raise FileNotFoundError(f"checkpoint {path} does not exist: run 'course-utils lab' first or fix the path")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for corrupt files
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(err).__name__}): "
                              "re-create it with 'course-utils lab'") from err
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path} was not written by course_utils.sentiment ({FORMAT})")
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
