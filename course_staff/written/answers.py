"""Written answers for TAs: every *YOUR ANSWER HERE* blank of every submission, beside its prompt.

A handout's blank (a master's markdown cell tagged ``solution``) is found in a submission by its
cell id. ``write_csv`` gives one row per submission and question (``file, handout, question,
prompt, answer``); ``write_html`` one page with a section per question, each answer in a table
beside the prompt, for reading and marking. A blank the student left or deleted is exported as such.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_staff import csvsafe
from course_staff.formats.handouts import BLANK, Handout

NOT_ANSWERED = "(not answered)"
DELETED = "(answer cell deleted)"


@dataclass(frozen=True)
class Answer:
    """One student's answer to one written question."""

    file: str
    handout: str
    question: str  # the blank's cell id
    prompt: str  # the markdown cell before the blank in the handout
    answer: str
    variant: str = ""  # the submission's variants, "q2=7" (per-student variants on; the grading report's)


def collect(file: str, nb: nbformat.NotebookNode, handout: Handout, variant: str = "") -> list[Answer]:
    """The written answers of one submission, in handout order (``variant``: its report row's)."""
    cells = {cell.get("id"): cell for cell in nb.cells}
    found = []
    for cell_id, prompt in handout.blanks.items():
        cell = cells.get(cell_id)
        text = DELETED if cell is None else cell.source.strip()
        found.append(Answer(file, handout.name, cell_id, prompt.strip(), NOT_ANSWERED if text == BLANK else text,
                            variant))
    return found


def write_csv(answers: list[Answer], path: Path) -> None:
    """One CSV row per answer: file, handout, question, prompt, answer (formula-like text escaped: ``csvsafe``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csvsafe.writer(handle)
        writer.writerow(["file", "handout", "question", "prompt", "answer", "variant"])
        writer.writerows([a.file, a.handout, a.question, a.prompt, a.answer, a.variant] for a in answers)


def read_csv(path: Path) -> list[Answer]:
    """The answers of a CSV written by ``write_csv`` (as they were before ``csvsafe`` escaped them)."""
    with path.open(newline="", encoding="utf-8") as handle:
        _, rows = csvsafe.read(handle)
    return [Answer(row["file"], row["handout"], row["question"], row["prompt"], row["answer"], row.get("variant") or "")
            for row in rows]


def write_html(answers: list[Answer], path: Path) -> None:
    """A self-contained HTML page: per question, its prompt, then each student's answer in a row.

    Markdown is shown as escaped text (no script from a submission can run in a TA's browser).
    """
    questions: dict[tuple[str, str], list[Answer]] = {}
    for answer in answers:
        questions.setdefault((answer.handout, answer.question), []).append(answer)
    parts = ["<!doctype html>", '<html><head><meta charset="utf-8"><title>Written answers</title>',
             "<style>body{font-family:sans-serif;margin:2em}pre{white-space:pre-wrap;margin:0}"
             "td,th{border:1px solid #ccc;padding:.4em;vertical-align:top;text-align:left}"
             "table{border-collapse:collapse;width:100%}td.prompt{width:35%;background:#f6f6f6}</style>",
             "</head><body>", f"<h1>Written answers ({len(answers)})</h1>"]
    for (handout, question), group in questions.items():
        parts.append(f"<h2>{html.escape(handout)} &middot; {html.escape(question)}</h2>")
        parts.append("<table><tr><th>prompt</th><th>file</th><th>answer</th><th>mark</th></tr>")
        for answer in group:
            parts.append(f'<tr><td class="prompt"><pre>{html.escape(answer.prompt)}</pre></td>'
                         f"<td>{html.escape(answer.file)}</td><td><pre>{html.escape(answer.answer)}</pre></td>"
                         "<td></td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
