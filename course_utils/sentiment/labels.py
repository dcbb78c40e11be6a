"""The lab's one label map, fixed: ``neg`` = 0, ``pos`` = 1 (torchtext ordered labels by frequency instead).

The folder names of the IMDB layout (``train/neg``, ``train/pos``) are its keys.
"""

from __future__ import annotations

from types import MappingProxyType

LABEL_VOCAB = MappingProxyType({"neg": 0, "pos": 1})  # read-only: nothing can reorder the ids


def label_vocabulary() -> dict[str, int]:
    """A copy of ``LABEL_VOCAB`` as a plain dict: ``{'neg': 0, 'pos': 1}``."""
    return dict(LABEL_VOCAB)
