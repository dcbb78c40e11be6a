"""A student's walkthrough of a handout: fill its blanks, execute it, read what every self-check said.

Reusable for every handout: a test writes an answers table (cell id -> the cell's source as a student
would fill it), independently of the master, and calls :func:`walk`. Three tables per handout: right
answers (every check says "correct."), wrong ones (every check says "not yet. Hint: ..."), and none
(the blanks stay ``...``: every check says "no answer yet"). Executing raises if any cell raises.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_staff.authoring.markers import ANSWER_PLACEHOLDER, CODE_PLACEHOLDER

ROOT = Path(__file__).resolve().parents[1]
CHECK_TAG = "check"
_CHECK_CALL = re.compile(r"""check\(\s*["']([\w.]+)["']""")
_VERDICTS_CELL = "import json\nfrom course_utils.checks import verdicts\nprint('VERDICTS=' + json.dumps(verdicts()))"


@dataclass
class Walk:
    """What one executed walkthrough showed: each check's printed line, and the kernel's verdicts."""

    messages: dict[str, str]  # check id -> the line it printed
    verdicts: dict[str, bool]  # course_utils.checks.verdicts() at the end of the notebook
    stopped: tuple[str, str] | None = None  # (cell id, "Error: message") of the cell that stopped the run


def handout(name: str) -> nbformat.NotebookNode:
    """The committed handout ``notebooks/<name>.ipynb``."""
    return nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)


def check_ids(nb: nbformat.NotebookNode) -> list[str]:
    """The ids of every self-check called in the notebook's cells tagged ``check``, in order."""
    return [q for c in nb.cells if CHECK_TAG in c.metadata.get("tags", []) for q in _CHECK_CALL.findall(c.source)]


def blank_cells(nb: nbformat.NotebookNode) -> list[str]:
    """Ids of the cells a student must fill: code holding a ``...`` placeholder, markdown "YOUR ANSWER HERE"."""
    blanks = []
    for cell in nb.cells:
        if cell.cell_type == "code" and re.search(rf"(^|[=\s(,]){re.escape(CODE_PLACEHOLDER)}($|[\s,)#])", cell.source, re.M):
            blanks.append(cell.id)
        elif cell.cell_type == "markdown" and cell.source.strip("* \n") == ANSWER_PLACEHOLDER:
            blanks.append(cell.id)
    return blanks


def fill(nb: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of ``nb`` with each cell named in ``answers`` (by id) given that source; KeyError for an unknown id."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    cells = {c.id: c for c in nb.cells}
    unknown = sorted(set(answers) - set(cells))
    if unknown:
        raise KeyError(f"no cells with ids {unknown} in the handout")
    for cell_id, source in answers.items():
        cells[cell_id].source = source
    return nb


def walk(nb: nbformat.NotebookNode, cwd: Path, timeout: int = 600, may_stop: bool = False) -> Walk:
    """Execute ``nb`` in a fresh kernel in tiny mode and collect the checks' lines.

    A cell that raises raises here, unless ``may_stop``: then the run stops at that cell, as Run all does
    (``Walk.stopped`` names it), and the verdicts recorded so far are still read.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.cells.append(nbformat.v4.new_code_cell(_VERDICTS_CELL, id="walkthrough-verdicts"))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    stopped = None
    client.reset_execution_trackers()
    with client.setup_kernel(env={**os.environ, "COURSE_TINY": "1", "MPLBACKEND": "Agg"}):
        for index, cell in enumerate(nb.cells[:-1]):
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as exc:
                if not may_stop:
                    raise
                stopped = (cell.id, f"{exc.ename}: {exc.evalue}")
                break
        client.execute_cell(nb.cells[-1], len(nb.cells) - 1)
    messages: dict[str, str] = {}
    for cell in nb.cells:
        if CHECK_TAG in cell.metadata.get("tags", []):
            for line in _stdout(cell).splitlines():
                question = line.split(":", 1)[0]
                messages[question] = line
    verdict_line = [x for x in _stdout(nb.cells[-1]).splitlines() if x.startswith("VERDICTS=")][0]
    return Walk(messages, json.loads(verdict_line.removeprefix("VERDICTS=")), stopped)


def _stdout(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
