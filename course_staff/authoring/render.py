"""Render an executed notebook to Markdown, for reading an answer key without Jupyter."""

from __future__ import annotations

import base64
import re

import nbformat

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Preferred representation of a rich output, best first.
_ORDER = ("image/png", "text/markdown", "text/latex", "text/plain")


def _fence(text: str, lang: str = "") -> str:
    text = _ANSI.sub("", text).rstrip("\n")
    ticks = "````" if "```" in text else "```"
    return f"{ticks}{lang}\n{text}\n{ticks}"


def _output(out: nbformat.NotebookNode, figure: str, figures: dict[str, bytes]) -> str:
    if out.output_type == "stream":
        return _fence(out.text)
    if out.output_type == "error":
        return _fence("\n".join(out.traceback))
    data = out.get("data", {})
    for mime in _ORDER:
        if mime not in data:
            continue
        value = data[mime]
        if mime == "image/png":
            figures[figure] = base64.b64decode(value)
            return f"![figure]({figure})"
        if mime == "text/markdown":
            return value.rstrip("\n")
        if mime == "text/latex":
            return value.strip()
        return _fence(value)
    return ""


def markdown(nb: nbformat.NotebookNode, title: str, figure_dir: str) -> tuple[str, dict[str, bytes]]:
    """Render ``nb`` to Markdown.

    title: the master's name, for the header. figure_dir: folder (relative to the Markdown file)
    for the figures. Returns (markdown text, {relative figure path: PNG bytes}).
    """
    figures: dict[str, bytes] = {}
    mode = nb.metadata.get("course", {}).get("mode", "not executed")
    parts = [f"<!-- Answer key generated from answers/{title}.ipynb by `course-utils keys` "
             f"(mode: {mode}). Do not edit by hand. -->"]
    for index, cell in enumerate(nb.cells, start=1):
        if cell.cell_type == "markdown":
            parts.append(cell.source.strip())
            continue
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        parts.append(_fence(cell.source, "python"))
        for number, out in enumerate(cell.get("outputs", []), start=1):
            rendered = _output(out, f"{figure_dir}/cell{index:02d}_{number}.png", figures)
            if rendered:
                parts.append(rendered)
    return "\n\n".join(parts) + "\n", figures
