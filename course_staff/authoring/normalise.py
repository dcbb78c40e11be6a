"""Machine-dependent text in executed notebooks, replaced when the answer keys are written.

A stored key must be the same bytes on every run of ``course-utils keys`` and on every machine with
the pinned toolchain, so that an instructor can commit it. Some printed lines depend on the machine,
not on the masters: wall-clock times, free memory and disk, temporary paths. ``text`` replaces each
such figure by ``VARIES``; the rest of the line (what the reader needs) stays. The outputs a grader
compares (``# NBVAL_CHECK_OUTPUT`` cells) never print such figures.
"""

from __future__ import annotations

import re

import nbformat

VARIES = "[varies]"
_SIZE = r"\d+(?:\.\d+)? (?:B|KiB|MiB|GiB|TiB)"
RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # the lab's epoch line: "Epoch: 01 | Time: 0m 03s | ..."
    (re.compile(r"\bTime: \d+m \d{2}s"), f"Time: {VARIES}"),
    # the feature cache's storage line: "... fits in 50% of 22.7 GiB available RAM", "not ram: 3.1 GiB available RAM"
    (re.compile(rf"{_SIZE}( available RAM| free GPU memory| free disk in )"), rf"{VARIES}\1"),
    (re.compile(r"( free disk in )\S+?(?=[;)]|$)", re.M), rf"\1{VARIES}"),
    # temporary folders and files (checkpoints of the tiny lab, caches)
    (re.compile(r"/tmp/[\w.\-/]+"), f"/tmp/{VARIES}"),
)


def text(value: str) -> str:
    """``value`` with every machine-dependent figure (``RULES``) replaced by ``VARIES``."""
    for pattern, replacement in RULES:
        value = pattern.sub(replacement, value)
    return value


def outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Normalise, in place, the text of every stream output and ``text/plain`` result of ``nb``; returns it.

    Images are left alone: a figure whose pixels depend on the machine must not be drawn in a key.
    """
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                out["text"] = text(out["text"])
            elif "text/plain" in out.get("data", {}):
                out["data"]["text/plain"] = text(out["data"]["text/plain"])
    return nb
