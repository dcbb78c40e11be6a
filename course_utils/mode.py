"""Run mode (full or tiny), seeding and environment detection.

Full mode (the default) uses ``bert-base-uncased`` from the model hub and the real IMDB
archive. Tiny mode (``COURSE_TINY=1``) runs everything offline at small sizes: a tokenizer
whose vocabulary the package builds, a small ``BertConfig`` and a synthetic review set.
"""

from __future__ import annotations

import os
import random
import sys

TINY_ENV = "COURSE_TINY"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def is_tiny() -> bool:
    """Return True when ``COURSE_TINY`` asks for tiny mode.

    Accepts 1/true/yes/on and 0/false/no/off (any case); anything else is an error,
    so that a typo never silently starts a multi-hour full run.
    """
    value = os.environ.get(TINY_ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"{TINY_ENV}={os.environ[TINY_ENV]!r} is not understood: "
        f"set {TINY_ENV}=1 for tiny (offline) mode or {TINY_ENV}=0 for full mode."
    )


def mode_name() -> str:
    """``"tiny"`` or ``"full"``, for printing."""
    return "tiny" if is_tiny() else "full"


def in_colab() -> bool:
    """True when running inside Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def set_seed(seed: int) -> None:
    """Seed Python, NumPy (if installed) and torch, and make cuDNN deterministic."""
    random.seed(seed)
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy ships with torch in practice
        pass
    else:
        np.random.seed(seed)
    import torch

    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
