"""Start a graded notebook's IPython kernel (``python -m course_grader_kernel -f FILE``) as ``ipykernel_launcher`` does,
with fewer full garbage collections.

Standalone (the standard library and ipykernel only): the grader copies this file into the sandbox's grader
folder as ``course_grader_kernel.py``, and the pytest launcher (``course_grader_pytest``) has nbval start
kernels with it instead of ``ipykernel_launcher``.

CPython's cyclic garbage collector runs a full collection (every tracked object) after every
``threshold2`` (10) collections of the middle generation, while the number of objects grows: the more a
notebook has imported and built (torch, transformers, the lab), the longer each one takes. A
kernel lives for one notebook, so the grader's kernels make a full collection 10 times rarer
(``FULL_COLLECTION_EVERY``); the two younger generations are collected as often as the interpreter's
own thresholds say, ``gc.collect()`` still collects everything at once, and cyclic garbage among
older objects waits for the next full collection. What a cell computes is unchanged: the collector only
frees objects that nothing can reach.

This repeats ``ipykernel_launcher``'s few lines, and the pytest launcher replaces ipykernel's
``get_kernel_dict`` to start it: ``tests/test_grading_parts.py`` fails when either changes.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

# Saves 11% of a class's grading time, measured side by side (docs/grading-sandbox.md); pinned by tests.
FULL_COLLECTION_EVERY = 100  # middle-generation collections per full collection (CPython's default: 10)


def fewer_full_collections() -> tuple[int, ...]:
    """Keep this interpreter's two younger thresholds and make full collections ``FULL_COLLECTION_EVERY``
    middle-generation collections apart (never closer than the interpreter's own setting). Returns the
    thresholds now in force."""
    young, middle, full = gc.get_threshold()
    gc.set_threshold(young, middle, max(full, FULL_COLLECTION_EVERY))
    return gc.get_threshold()


def main() -> None:
    """What ``python -m ipykernel_launcher`` does, after ``fewer_full_collections``."""
    fewer_full_collections()
    # As ipykernel_launcher: the working folder off sys.path while ipykernel loads (the kernel puts it back).
    if sys.path[0] == "" or Path(sys.path[0]) == Path.cwd():
        del sys.path[0]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
