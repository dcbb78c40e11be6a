"""Reach the answer key's names from a student-facing module, where the instructor package is installed."""

from __future__ import annotations

import importlib


def key_attribute(module: str, key_module: str, names: tuple[str, ...], name: str) -> object:
    """``getattr(key_module, name)`` for a key name of ``module``; AttributeError where the key is absent.

    module: the asking module's ``__name__``; key_module: e.g. ``course_utils.staff.recurrence_key``;
    names: the key's names that ``module`` forwards. Used by a module-level ``__getattr__``.
    """
    if name not in names:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    try:
        key = importlib.import_module(key_module)
    except ImportError:
        short = module.rsplit(".", 1)[-1]
        raise AttributeError(f"{short}.{name} is part of the answer key, not of the student package") from None
    return getattr(key, name)
