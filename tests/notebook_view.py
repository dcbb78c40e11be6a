"""What JupyterLab shows for a stored notebook cell: how many figures and typeset formulas.

The browser test compares these counts, derived from the notebook file alone, with what the page
shows. Formulas are counted the way JupyterLab finds them before MathJax typesets them: a port of
``removeMath`` in ``@jupyterlab/rendermime`` (``latex.ts``), which skips code spans and fenced code,
balances braces, and ends an unclosed formula at a blank line.
"""

from __future__ import annotations

import re

# Math delimiters and the symbols removeMath tracks, split out of the text (JupyterLab's MATHSPLIT).
MATH_SPLIT = re.compile(r"(\$\$?|\\(?:begin|end)\{[a-z]*\*?\}|\\[{}$]|[{}]|(?:\n\s*)+|@@\d+@@|\\\\[()[\]])",
                        re.IGNORECASE)
CODE_FENCE = re.compile(r"^(?P<fence>`{3,}|(~T){3,})[^`\n]*\n([\s\S]*?)^(?P=fence)`*$", re.MULTILINE)
CODE_SPAN = re.compile(r"(^|[^\\])(`+)([^\n]*?[^`\n])\2(?!`)", re.MULTILINE)
# Output MIME types in JupyterLab's order of preference for untrusted (stored) outputs; the first one an
# output has is the one shown. SVG and JavaScript are left out: JupyterLab shows them only when trusted.
MIME_ORDER = ("text/html", "text/markdown", "text/latex", "image/png", "image/jpeg", "image/gif", "text/plain")
FIGURE_MIMES = ("image/png", "image/jpeg", "image/gif")  # drawn as `.jp-RenderedImage img`
TYPESET_MIMES = ("text/html", "text/markdown", "text/latex")  # MathJax typesets these


def count_formulas(text: str) -> int:
    """Number of formulas MathJax typesets in a markdown or LaTeX text (one ``mjx-container`` each)."""
    if "`" in text or "~~~" in text:  # a `$` inside code is not math
        text = text.replace("~", "~T")
        text = CODE_FENCE.sub(lambda m: m.group(0).replace("$", "~D"), text)
        text = CODE_SPAN.sub(lambda m: m.group(0).replace("$", "~D"), text)
    blocks = MATH_SPLIT.split(re.sub(r"\r\n?", "\n", text))
    formulas = 0
    start = end = last = None
    braces = 0
    i = 1
    while i < len(blocks):
        block = blocks[i]
        if block.startswith("@"):
            pass  # text that looks like JupyterLab's own placeholders: kept, not math
        elif start is not None:
            if block == end:
                if braces:
                    last = i
                else:
                    formulas += 1
                    start = end = last = None
            elif re.search(r"\n.*\n", block):  # a blank line ends an unclosed formula
                if last is not None:
                    i = last
                    formulas += 1
                start = end = last = None
                braces = 0
            elif block == "{":
                braces += 1
            elif block == "}" and braces:
                braces -= 1
        elif block in ("$", "$$"):
            start, end, braces = i, block, 0
        elif block in ("\\\\(", "\\\\["):
            start, end, braces = i, "\\\\)" if block.endswith("(") else "\\\\]", 0
        elif block[1:6] == "begin":
            start, end, braces = i, "\\end" + block[6:], 0
        i += 2
    if start is not None and last is not None:
        formulas += 1
    return formulas


def shown_mime(output: dict) -> str | None:
    """The MIME type JupyterLab renders for one stored output (None for streams and errors)."""
    data = output.get("data", {})
    return next((mime for mime in MIME_ORDER if mime in data), None)


def expected_view(cell: dict) -> tuple[int, int]:
    """(figures, formulas) a person sees in one stored cell of a notebook (nbformat 4 dict)."""
    if cell["cell_type"] == "markdown":
        return 0, count_formulas("".join(cell["source"]))
    figures = formulas = 0
    for output in cell.get("outputs", []):
        mime = shown_mime(output)
        if mime in FIGURE_MIMES:
            figures += 1
        elif mime in TYPESET_MIMES:
            text = output["data"][mime]
            formulas += count_formulas(text if isinstance(text, str) else "".join(text))
    return figures, formulas
