"""The lab's one label map: fixed ids in the order of ``LABELS`` (torchtext ordered labels by frequency instead).

The folder names of the IMDB layout (``train/neg``, ``train/pos``) are its keys.
"""

from __future__ import annotations

from types import MappingProxyType

LABELS = ("neg", "pos")  # the folder names, in id order
LABEL_VOCAB = MappingProxyType({name: i for i, name in enumerate(LABELS)})  # read-only: nothing can reorder the ids


def label_vocabulary() -> dict[str, int]:
    """A copy of ``LABEL_VOCAB`` as a plain dict (label name -> id)."""
    return dict(LABEL_VOCAB)
