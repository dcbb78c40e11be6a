"""Solution markers: turn a master notebook's cells into a student handout's cells.

Markers are otter-compatible:

- code: a block between a ``# BEGIN SOLUTION`` line and a ``# END SOLUTION`` line becomes one
  ``...`` line at the block's indentation;
- code: a single statement ending in ``# SOLUTION`` becomes ``target = ...`` for an assignment
  and ``...`` otherwise;
- markdown: a cell tagged ``solution`` becomes ``YOUR ANSWER HERE``;
- any cell tagged ``key-only`` (worked explanations, reference figures that give answers away)
  is left out of the handout.

Markers are comments: a marker inside a string literal, an unbalanced or nested block, or an
unknown variant (``# BEGIN SOLUTION NO PROMPT``) is a :class:`MarkerError`, never a silent leak.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from typing import Any

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
LINE = "# SOLUTION"
SOLUTION_TAG = "solution"
KEY_ONLY_TAG = "key-only"
ANSWER_PLACEHOLDER = "YOUR ANSWER HERE"
CODE_PLACEHOLDER = "..."

# Anything that looks like a marker, wherever it stands on a line.
_MARKER_TEXT = re.compile(r"(BEGIN|END)\s+SOLUTION|#\s*SOLUTION\b", re.IGNORECASE)


class MarkerError(ValueError):
    """A malformed solution marker; the message names the notebook, the cell and the line."""


def _comments_by_line(source: str) -> dict[int, str]:
    """Map 0-based line number -> the comment token on that line (markers must be comments)."""
    comments: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                comments[tok.start[0] - 1] = tok.string.strip()
    except (tokenize.TokenError, SyntaxError, IndentationError) as exc:
        raise MarkerError(f"the cell cannot be tokenized as Python ({exc})") from exc
    return comments


def _strip_line_marker(line: str) -> str:
    """``x = compute()  # SOLUTION`` -> ``x = ...``; a bare statement -> ``...``."""
    indent = line[: len(line) - len(line.lstrip())]
    code = line[: line.rindex("#")].strip()
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise MarkerError(
            f"'{LINE}' must end a complete one-line statement, got {code!r}; "
            f"wrap multi-line code in '{BEGIN}' / '{END}' instead"
        ) from exc
    stmt = tree.body[0] if len(tree.body) == 1 else None
    if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and stmt.value is not None:
        target = code.encode()[: stmt.value.col_offset].decode()  # col_offset counts UTF-8 bytes
        return indent + target + CODE_PLACEHOLDER
    return indent + CODE_PLACEHOLDER


def strip_code(source: str) -> str:
    """Return the handout version of one code cell's source.

    source: the master cell's code. Raises MarkerError for malformed markers.
    """
    if not _MARKER_TEXT.search(source):
        return source
    comments = _comments_by_line(source)
    out: list[str] = []
    in_block = False
    for number, line in enumerate(source.split("\n")):
        comment = comments.get(number)
        where = f"line {number + 1}"
        if _MARKER_TEXT.search(line):
            if comment is None or not _MARKER_TEXT.search(comment):
                raise MarkerError(f"{where}: a solution marker inside a string literal would hide code")
            if comment == BEGIN and line.strip() == BEGIN:
                if in_block:
                    raise MarkerError(f"{where}: '{BEGIN}' inside another solution block (blocks cannot nest)")
                in_block = True
                out.append(line[: line.index("#")] + CODE_PLACEHOLDER)
            elif comment == END and line.strip() == END:
                if not in_block:
                    raise MarkerError(f"{where}: '{END}' without a matching '{BEGIN}'")
                in_block = False
            elif comment == LINE and line.strip() != LINE:
                if in_block:
                    raise MarkerError(f"{where}: a '{LINE}' line inside a solution block")
                out.append(_strip_line_marker(line))
            else:
                raise MarkerError(
                    f"{where}: unsupported marker {comment!r}; use '{BEGIN}' and '{END}' on lines "
                    f"of their own, or end a statement with '{LINE}'"
                )
        elif not in_block:
            out.append(line)
    if in_block:
        raise MarkerError(f"'{BEGIN}' is never closed by '{END}'")
    return "\n".join(out)


def handout_cell(cell: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of one nbformat cell as a student sees it: no solution, no outputs.

    cell: an nbformat v4 cell (dict-like). Markdown tagged ``solution`` is replaced; markdown
    that contains code markers is an error (markdown answers use the tag).
    """
    new = dict(cell)
    metadata = dict(cell.get("metadata", {}))
    tags = list(metadata.get("tags", []))
    metadata.pop("execution", None)
    if cell["cell_type"] == "code":
        new["source"] = strip_code(cell["source"])
        new["outputs"] = []
        new["execution_count"] = None
    elif SOLUTION_TAG in tags:
        new["source"] = f"**{ANSWER_PLACEHOLDER}**"
        tags.remove(SOLUTION_TAG)
    elif _MARKER_TEXT.search(cell["source"]):
        raise MarkerError(f"a {cell['cell_type']} cell contains a code marker; tag the cell '{SOLUTION_TAG}' instead")
    if tags:
        metadata["tags"] = tags
    else:
        metadata.pop("tags", None)
    new["metadata"] = metadata
    return new
