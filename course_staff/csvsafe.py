"""CSV cells a spreadsheet never runs as formulas (OWASP's rule on CSV injection), and reading them back.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be run as a
formula by Excel, LibreOffice or Google Sheets when a TA opens the file: a student controls file names
and written answers, so every CSV the package writes passes its cells through ``cell``, which puts a
single quote ``'`` before such text. Numbers stay numbers: ``int``/``float`` values, and text that is a
plain decimal number (``-3``, ``1.5e-2``: what the writers make of numeric values), which no
spreadsheet runs. Text that already looks escaped (quotes, then one of those characters) gets one
more quote, so ``unescape`` gives back exactly what was written: the readers of these files use it.
"""

from __future__ import annotations

import csv
import re
from typing import Any, Iterable, TextIO

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_ESCAPED = re.compile(r"'+[=+\-@\t\r]")


def cell(value: Any) -> Any:
    """``value`` as a CSV cell that no spreadsheet runs: numbers as they are, risky text behind a ``'``."""
    if value is None:
        return ""
    if isinstance(value, (int, float)):  # bool is an int: written True/False, harmless
        return value
    text = str(value)
    if text.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    if _ESCAPED.match(text):
        return "'" + text
    return text


def unescape(text: str) -> str:
    """A cell as ``cell`` was given it: the one quote it added taken off again."""
    return text[1:] if _ESCAPED.match(text) else text


class _Writer:
    def __init__(self, inner) -> None:
        self._inner = inner

    def writerow(self, row: Iterable[Any]):
        return self._inner.writerow([cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class _DictWriter(_Writer):
    def __init__(self, inner, fieldnames: list[str], restval: Any = "") -> None:
        super().__init__(inner)
        self.fieldnames, self._restval = list(fieldnames), restval

    def writeheader(self):
        return self.writerow(self.fieldnames)

    def writerow(self, row):
        if isinstance(row, dict):
            row = [row.get(name, self._restval) for name in self.fieldnames]
        return super().writerow(row)


def writer(handle: TextIO, **kwargs) -> _Writer:
    """``csv.writer`` whose every cell goes through ``cell`` (the header row too)."""
    return _Writer(csv.writer(handle, **kwargs))


def dict_writer(handle: TextIO, fieldnames, restval: Any = "", **kwargs) -> _DictWriter:
    """``csv.DictWriter`` (keys not in ``fieldnames`` ignored) whose every cell goes through ``cell``."""
    return _DictWriter(csv.writer(handle, **kwargs), fieldnames, restval)


def read(handle: TextIO, **kwargs) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows (name -> text) of a file of ``writer``, as they were before ``cell``.

    As ``csv.DictReader``: blank lines skipped, a short row's missing cells ``None``.
    """
    reader = csv.reader(handle, **kwargs)
    header = [unescape(h) for h in next(reader, [])]
    rows = []
    for values in reader:
        if values:
            rows.append({name: (unescape(values[i]) if i < len(values) else None) for i, name in enumerate(header)})
    return header, rows
