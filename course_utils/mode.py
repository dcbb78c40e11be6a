"""Run mode (full or tiny), seeding and environment detection.

Full mode (the default) uses ``bert-base-uncased`` from the model hub and the real IMDB
archive. Tiny mode (``COURSE_TINY=1``) runs everything offline at small sizes: a tokenizer
whose vocabulary the package builds, a small ``BertConfig`` and a synthetic review set.

One source of truth: the ``COURSE_TINY`` variable of this process. Everything that asks for the
mode (``is_tiny()``, ``mode_name()``, the self-checks, ``LabConfig.for_mode()``, and any command
the process starts) reads it. ``use(tiny)`` sets it: a notebook run by papermill with an injected
``TINY = True`` calls ``mode.use(TINY)`` first thing in the cell after the parameters cell, so the
injected value and the environment can never disagree.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
from collections.abc import Iterator, Mapping

from course_utils.errors import CourseError

TINY_ENV = "COURSE_TINY"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


class ModeError(CourseError, ValueError):
    """``COURSE_TINY`` holds a value that is neither true nor false."""


def use(tiny: bool) -> bool:
    """Make ``tiny`` (True: tiny, False: full) the mode of this process: sets ``COURSE_TINY``.

    Returns ``tiny``. Call it with a notebook's ``TINY`` (e.g. injected by papermill) so that the
    self-checks, the lab and child processes follow that value, whatever the environment said.
    """
    if not isinstance(tiny, bool):
        raise TypeError(f"mode.use takes True (tiny) or False (full), not {tiny!r}")
    os.environ[TINY_ENV] = "1" if tiny else "0"
    return tiny


def is_tiny(environ: Mapping[str, str] | None = None) -> bool:
    """Return True when ``COURSE_TINY`` asks for tiny mode (unset means full mode).

    environ: the environment to read (default ``os.environ``, which ``use()`` sets).
    Accepts 1/true/yes/on and 0/false/no/off (any case); anything else is a ``ModeError``, so that
    a typo never silently starts a multi-hour full run.
    """
    raw = (os.environ if environ is None else environ).get(TINY_ENV, "")
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ModeError(
        f"{TINY_ENV}={raw!r} is not understood: "
        f"set {TINY_ENV}=1 for tiny (offline) mode or {TINY_ENV}=0 for full mode."
    )


def mode_name() -> str:
    """``"tiny"`` or ``"full"``: ``is_tiny()``, so the value of the last ``use()`` if any."""
    return "tiny" if is_tiny() else "full"


def in_colab() -> bool:
    """True when running inside Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def set_seed(seed: int) -> None:
    """Seed Python, NumPy (if installed) and torch (CPU and CUDA). No other setting changes."""
    random.seed(seed)
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy ships with torch in practice
        pass
    else:
        np.random.seed(seed)
    import torch

    torch.manual_seed(seed)


@contextlib.contextmanager
def deterministic_cudnn() -> Iterator[None]:
    """Inside the block, cuDNN picks deterministic kernels (no benchmarking); the flags are restored after."""
    import torch

    cudnn = torch.backends.cudnn
    before = (cudnn.deterministic, cudnn.benchmark)
    cudnn.deterministic, cudnn.benchmark = True, False
    try:
        yield
    finally:
        cudnn.deterministic, cudnn.benchmark = before


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
