"""Run mode (full or tiny), seeding and environment detection.

Full mode (the default) uses ``bert-base-uncased`` from the model hub and the real IMDB
archive. Tiny mode (``COURSE_TINY=1``) runs everything offline at small sizes: a tokenizer
whose vocabulary the package builds, a small ``BertConfig`` and a synthetic review set.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Mapping

TINY_ENV = "COURSE_TINY"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def is_tiny(environ: Mapping[str, str] | None = None) -> bool:
    """Return True when ``COURSE_TINY`` asks for tiny mode (unset means full mode).

    environ: the environment to read (default ``os.environ``). Accepts 1/true/yes/on and
    0/false/no/off (any case); anything else is an error, so that a typo never silently
    starts a multi-hour full run.
    """
    raw = (os.environ if environ is None else environ).get(TINY_ENV, "")
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"{TINY_ENV}={raw!r} is not understood: "
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


def report_environment(needs_gpu: bool = False) -> str:
    """Print and return one line: the mode, and the device; advice when a GPU is needed but absent.

    needs_gpu: True for notebooks whose full mode trains a model (the lab).
    """
    import torch

    device = f"GPU ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "CPU only"
    line = f"mode: {mode_name()} | device: {device}"
    if needs_gpu and not is_tiny() and not torch.cuda.is_available():
        line += (
            "\nNo GPU found: full mode would take hours on a CPU. In Colab choose "
            "Runtime > Change runtime type > T4 GPU, then run again; or, for the small offline "
            "version, put os.environ['COURSE_TINY'] = '1' (after import os) at the top of this cell."
        )
    print(line)
    return line
