"""Counting a model's parameters: one definition for every notebook."""

from __future__ import annotations

from torch import nn


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``model``: all of them, or only those with ``requires_grad``.

    A tensor shared between layers is counted once (``model.parameters()`` yields it once).
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
