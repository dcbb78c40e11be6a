"""The grader's scratch copy of a submission: locked cells restored, comparisons set, grader cells in.

``prepare`` takes a submission and its handout and returns the notebook nbval will run, with notes
for the report. It never reads the file name and never changes the submitted file.

- **Locked cells** (handout cells tagged ``check`` or ``locked``, by id) get the handout's source
  back; an edited one is noted, a deleted one is put back after the nearest handout cell the
  submission kept, and a cell the student tagged ``check``/``locked`` that the handout does not lock
  is noted and runs as ordinary code (its tag removed: it counts for nothing).
- **Cell ids**: a cell without one (an editor that drops them) takes the id of the handout cell
  with the same source, if free; a repeated id (a pasted copy of a locked cell) gets a new one and
  counts for nothing.
- **Markers that dodge checks** (``NBVAL_SKIP``, ``NBVAL_IGNORE_OUTPUT``, ``NBVAL_RAISES_EXCEPTION``,
  as comments or tags) are disarmed; a ``# NBVAL_CHECK_OUTPUT`` line the handout has and the student
  removed is put back.
- **Mode**: the submission's mode is read from its saved outputs (the ``mode: full | device: ...``
  line of the setup cell, or ``tiny mode on cpu``); when it is not the grading mode (or unknown),
  the handout's ``mode-dependent`` cells are not compared. The handout's tags decide, never the
  submission's.
- **Grader cells** (ids ``course-grader-*``, see ``in_kernel/harness.py``) go first, after each check cell, and
  last. A student cell whose id imitates them is renamed (``student-N``); ``scan.py`` names it.
"""

from __future__ import annotations

import copy
import re
import secrets
from dataclasses import dataclass, field

import nbformat

from course_staff.formats.handouts import CHECK_LINE, CHECK_TAG, LOCKED_TAG, Handout, tags
from course_staff.grading.in_kernel import harness

GRADER_PREFIX = "course-grader-"
DODGE_MARKERS = ("NBVAL_SKIP", "NBVAL_IGNORE_OUTPUT", "NBVAL_RAISES_EXCEPTION")
DODGE_TAGS = frozenset({m.lower().replace("_", "-") for m in DODGE_MARKERS} | {"raises-exception"})
_DODGE_LINE = re.compile(r"^(\s*#+\s*)(" + "|".join(DODGE_MARKERS) + r")\s*$", re.MULTILINE)
_MODE_LINE = re.compile(r"\bmode: (tiny|full)\b|^(tiny|full) mode\b", re.MULTILINE)
IGNORE_TAG = "nbval-ignore-output"


@dataclass
class Prepared:
    """The notebook to run and what the grader changed or noticed, for the report."""

    nb: nbformat.NotebookNode
    mode: str | None  # the submission's mode from its outputs, None if unknown
    notes: list[str] = field(default_factory=list)  # locked-cell and marker changes, one phrase each
    positions: dict[str, int] = field(default_factory=dict)  # cell id -> 1-based place in the submission


def detect_mode(nb: nbformat.NotebookNode) -> str | None:
    """``"tiny"`` or ``"full"`` from the first mode line in the saved outputs; None if none."""
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            text = output.get("text", "") if output.get("output_type") == "stream" else ""
            found = _MODE_LINE.search(text if isinstance(text, str) else "".join(text))
            if found:
                return found.group(1) or found.group(2)
    return None


def prepare(nb: nbformat.NotebookNode, handout: Handout, grading_mode: str) -> Prepared:
    """The scratch notebook for ``nb`` (a copy; see the module docstring). grading_mode: tiny or full."""
    nb = copy.deepcopy(nb)
    result = Prepared(nb=nb, mode=detect_mode(nb))
    _identify(nb, handout, result)
    result.positions = {cell.id: i + 1 for i, cell in enumerate(nb.cells)}
    _disarm(nb)
    _restore_locked(nb, handout, result)
    _set_comparisons(nb, handout, result, compare_mode_dependent=result.mode == grading_mode)
    _insert_grader_cells(nb, handout)
    return result


def _identify(nb: nbformat.NotebookNode, handout: Handout, result: Prepared) -> None:
    """Give every cell a unique id: a cell without one (an editor that drops ids) takes the id of the
    handout cell with the very same source if that id is free; a repeated id (a copied cell) gets a new one."""
    nb.nbformat_minor = max(nb.get("nbformat_minor", 5), 5)
    present = {cell.get("id") for cell in nb.cells}
    by_source = {}
    for cell in handout.nb.cells:
        if cell.get("id") not in present:
            by_source.setdefault((cell.cell_type, cell.source), cell.id)
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        cell_id = cell.get("id") or by_source.pop((cell.cell_type, cell.source), None) or f"student-{index + 1}"
        if str(cell_id).startswith(GRADER_PREFIX):
            cell_id = f"student-{index + 1}"
        if cell_id in seen:
            if cell_id in handout.locked:
                result.notes.append(f"locked cell {index + 1} [{cell_id}] added (a copy; runs as ordinary code, "
                                    "counts for nothing)")
                cell.metadata["tags"] = [t for t in tags(cell) if t not in {CHECK_TAG, LOCKED_TAG}]
            cell_id = f"student-{index + 1}"
        cell["id"] = cell_id
        seen.add(cell_id)


def _disarm(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = _DODGE_LINE.sub(r"\1removed by grader: \2", cell.source)
            if isinstance(cell.metadata.get("tags"), list):
                cell.metadata["tags"] = [t for t in tags(cell) if t not in DODGE_TAGS]


def _restore_locked(nb: nbformat.NotebookNode, handout: Handout, result: Prepared) -> None:
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        cell_id = cell.id
        locked = handout.locked.get(cell_id)
        if locked is not None:
            seen.add(cell_id)
            if cell.cell_type != locked.cell_type:
                nb.cells[index] = _fresh(locked)
            elif cell.source != locked.source:
                cell.source = locked.source
            else:
                cell.metadata["tags"] = tags(locked)
                continue
            result.notes.append(f"locked cell {_where(result, cell_id)} edited (restored)")
            nb.cells[index].metadata["tags"] = tags(locked)
        elif {CHECK_TAG, LOCKED_TAG} & set(tags(cell)):
            result.notes.append(f"locked cell {_where(result, cell_id)} added (runs as ordinary code, counts for nothing)")
            cell.metadata["tags"] = [t for t in tags(cell) if t not in {CHECK_TAG, LOCKED_TAG}]
    order = handout.order
    for cell_id, locked in handout.locked.items():
        if cell_id in seen:
            continue
        result.notes.append(f"locked cell [{cell_id}] deleted (restored)")
        before = order[: order.index(cell_id)]
        ids = [cell.id for cell in nb.cells]
        kept = [ids.index(i) for i in before if i in ids]
        nb.cells.insert(max(kept) + 1 if kept else 0, _fresh(locked))


def _set_comparisons(nb: nbformat.NotebookNode, handout: Handout, result: Prepared, compare_mode_dependent: bool) -> None:
    for cell in nb.cells:
        cell_id = cell.id
        if cell.cell_type != "code" or cell_id not in handout.compared:
            continue
        if cell_id in handout.mode_dependent and not compare_mode_dependent:
            cell.source = CHECK_LINE.sub("# not compared by the grader: mode-dependent", cell.source)
            cell.metadata["tags"] = [*tags(cell), IGNORE_TAG]
        elif not CHECK_LINE.search(cell.source):
            result.notes.append(f"NBVAL_CHECK_OUTPUT of cell {_where(result, cell_id)} removed (put back)")
            cell.source = "# NBVAL_CHECK_OUTPUT\n" + cell.source


def _insert_grader_cells(nb: nbformat.NotebookNode, handout: Handout) -> None:
    """The harness's cells (``in_kernel/harness.py``): start, a capture after each check cell, finish."""
    name = f"_course_grader_{secrets.token_hex(4)}"
    start = (f"def {name}():\n"
             "    import importlib.util, os\n"
             f"    path = os.path.join(os.environ.get({harness.IO_VARIABLE!r}, '.'), 'harness.py')\n"
             "    spec = importlib.util.spec_from_file_location('course_grader_harness', path)\n"
             "    module = importlib.util.module_from_spec(spec)\n"
             "    spec.loader.exec_module(module)\n"
             "    return module.Harness()\n"
             f"{name} = {name}()")
    cells = [_grader_cell("start", start)]
    for cell in nb.cells:
        cells.append(cell)
        calls = handout.calls.get(cell.id)
        if calls and cell.cell_type == "code":
            values = ", ".join(f"{c.question!r}: lambda: ({c.expression})" for c in calls)
            cells.append(_grader_cell(f"after-{cell.id}", f"{name}.capture({cell.id!r}, {{{values}}});"))
    cells.append(_grader_cell("finish", f"{name}.finish();"))
    nb.cells = cells


def _grader_cell(suffix: str, source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source, id=f"{GRADER_PREFIX}{suffix}"[:64])


def _fresh(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A handout cell as inserted into a submission: no outputs, never run."""
    new = copy.deepcopy(cell)
    if new.cell_type == "code":
        new.outputs, new.execution_count = [], None
    return new


def _where(result: Prepared, cell_id: str) -> str:
    position = result.positions.get(cell_id)
    return f"{position} [{cell_id}]" if position else f"[{cell_id}]"
