"""The lab's labels: the IMDB layout's folder names (``train/neg``, ``train/pos``), each read as its id.

Fixed ids in the order of ``LABELS`` (torchtext ordered labels by frequency instead).
"""

from __future__ import annotations

LABELS = ("neg", "pos")  # the folder names; a review's label is its folder's place in this tuple
