"""How many of the check tables' mistakes get a hint that names them (issue 38's measure).

Every wrong row of the check tables (``tests/test_checks*.py``) runs through the self-check. Its hint is
*specific* when the message says more than the check's standing hint and more than where the output
differs ("on public case 2 of 6 ...", "entries 0, 2 ... are off"). ``python -m tests.hint_coverage``
prints the table; ``tests/test_hint_coverage.py`` holds the share to its goal.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Iterator

GENERIC = (re.compile(r"^on public case \d+ of \d+ your output differs from the right one\.$"),
           re.compile(r"^entries [\d, ]+ \(counting from 0\) are off\.$"),
           re.compile(r"^[^:]* (is|are) off\.$"),  # where, by name ("||x1|| and ||x3|| are off"), not why
           re.compile(r"^$"))


@dataclass(frozen=True)
class Row:
    """One wrong answer of a table: its check, the mode it is judged in, a label, the message."""

    question: str
    mode: str
    label: str
    message: str

    @property
    def detail(self) -> str:
        from course_utils.checks import spec_of

        text = self.message.split(": not yet. Hint: ", 1)[-1]
        hint = spec_of(self.question).hint
        return (text[: -len(hint)] if text.endswith(hint) else text).strip()

    @property
    def specific(self) -> bool:
        return not any(pattern.match(self.detail) for pattern in GENERIC)


def _label(value: Any) -> str:
    name = getattr(value, "__name__", None) or getattr(value, "__qualname__", None)
    text = name if name and name != "<lambda>" else repr(value)
    text = text if "\n" not in text else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _table_rows(right: bool) -> Iterator[tuple[str, str, Any]]:
    """(check id, mode, answer) of every table's right (or wrong) rows, tiny mode unless the table is full mode's."""
    from tests import test_checks, test_checks_lab, test_checks_q1, test_checks_q2, test_checks_q3

    for module in (test_checks_q1, test_checks_q2, test_checks_q3):
        for question, values in (module.RIGHT if right else module.WRONG).items():
            for value in values:
                yield question, "tiny", value
    pick = 1 if right else 2  # the tables of test_checks are (id, right, wrong)
    for mode, table in (("tiny", test_checks.COMMON + test_checks._tiny_answers()), ("full", test_checks.FULL)):
        for row in table:
            yield row[0], mode, row[pick]
    lab = test_checks_lab
    for question, table in (("lab.binary_accuracy", lab.ACCURACY_RIGHT if right else lab.ACCURACY_WRONG),
                            ("lab.train_epoch", lab.TRAIN_RIGHT if right else lab.TRAIN_WRONG),
                            ("lab.evaluate", lab.EVALUATE_RIGHT if right else lab.EVALUATE_WRONG)):
        for value in table:
            yield question, "tiny", value if right else value[0]  # a wrong row is (answer, its hint's words)
    for model in lab.model_rows()[0 if right else 1]:
        yield "lab.model", "tiny", model if right else model[0]


def _wrong_rows() -> Iterator[tuple[str, str, Any]]:
    return _table_rows(right=False)


def answers() -> list[tuple[str, str, str, Any, bool]]:
    """(check id, mode, label, answer, right?) of every row of the check tables, right and wrong."""
    return ([(q, mode, _label(v), v, True) for q, mode, v in _table_rows(right=True)]
            + [(q, mode, _label(v), v, False) for q, mode, v in _wrong_rows()])


def rows() -> list[Row]:
    """Every wrong row of the tables with the message its self-check prints."""
    from course_utils.checks import verify

    found, before = [], os.environ.get("COURSE_TINY")
    try:
        for question, mode, value in _wrong_rows():
            os.environ["COURSE_TINY"] = "1" if mode == "tiny" else "0"
            found.append(Row(question, mode, _label(value), verify(question, value).message))
    finally:
        if before is None:
            os.environ.pop("COURSE_TINY", None)
        else:
            os.environ["COURSE_TINY"] = before
    return found


def main() -> None:
    table = rows()
    for row in table:
        print(f"{'yes' if row.specific else 'NO ':4} {row.question:22} {row.mode:5} {row.label:40} {row.detail[:90]}")
    hit = sum(row.specific for row in table)
    print(f"\n{hit} of {len(table)} mistakes ({100 * hit / len(table):.0f}%) get a hint that names them")


if __name__ == "__main__":
    main()
