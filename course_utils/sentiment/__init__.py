"""The lab's old import path, ``course_utils.sentiment``: the package is ``course_utils.lab`` now.

Handouts released before the rename import ``course_utils.sentiment`` and its modules; each name here is
the same object as under ``course_utils.lab`` (``course_utils.sentiment.lab`` is ``course_utils.lab.workflow``),
so a model built through one path is an instance of the other's class. Kept for one term: remove it, and
this finder, when no handout of the term still in use imports the old path (tests/test_lab_rename.py).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

from course_utils.lab import *  # noqa: F401,F403 - the old package's names
from course_utils.lab import __all__  # noqa: F401

OLD, NEW = __name__, "course_utils.lab"
RENAMED = {"lab": "workflow"}  # old module name -> new one


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``course_utils.sentiment.X`` as the module ``course_utils.lab.X`` itself (not a copy)."""

    def find_spec(self, name, path=None, target=None):
        if not name.startswith(OLD + "."):
            return None
        head, _, rest = name[len(OLD) + 1:].partition(".")
        new = ".".join(filter(None, [NEW, RENAMED.get(head, head), rest]))
        if importlib.util.find_spec(new) is None:
            return None
        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec):
        head, _, rest = spec.name[len(OLD) + 1:].partition(".")
        return importlib.import_module(".".join(filter(None, [NEW, RENAMED.get(head, head), rest])))

    def exec_module(self, module) -> None:
        """The module ran when it was imported under its new name."""


if not any(isinstance(finder, _Alias) for finder in sys.meta_path):
    sys.meta_path.insert(0, _Alias())
