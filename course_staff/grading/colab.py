"""Submissions that lost the handout's cell ids: say so in the row, with what the student should resubmit.

Colab keeps nbformat 4.5 cell ids when it saves a notebook it opened as 4.5 (the handouts are), also
in a copy ("Save a copy in Drive"). A student who pastes the handout's cells into a notebook made new
in Colab hands in nbformat 4.0 without ids (Colab's own ``metadata.id``s are new random ones): the
grader still finds the handout by the cells' contents and each cell left as given by its source, but
an answer cell the student filled in no longer says which blank it answers, so its output is not
compared and its written answer does not reach the TAs under its question.
"""

from __future__ import annotations

import nbformat

from course_staff.formats.handouts import SHARED_IDS, Handout
from course_staff.grading.locking import Prepared


def ids_lost(nb: nbformat.NotebookNode, handout: Handout, prepared: Prepared) -> str:
    """One line for the report when ``nb`` keeps none of the handout's own cell ids, else ``""``."""
    own = {cell.get("id") for cell in handout.nb.cells} - SHARED_IDS
    kept = {cell.get("id") for cell in nb.cells} | {cell.get("metadata", {}).get("id") for cell in nb.cells}
    if own & kept:
        return ""
    found = set(prepared.positions)
    uncompared = sorted(handout.compared - found)
    unplaced = sorted(set(handout.blanks) - found)
    lost = [f"{len(uncompared)} answer output(s) not compared" if uncompared else "",
            f"{len(unplaced)} written answer(s) not found for the TAs" if unplaced else ""]
    effect = ", ".join(filter(None, lost)) or "nothing lost"
    return (f"cell ids gone (nbformat 4.{nb.get('nbformat_minor', 0)}, none of the handout's ids: its cells were "
            f"pasted into a new notebook): matched by cell contents, checks run and scored, {effect}; resubmit "
            f"{handout.name}.ipynb itself: open it from its Colab badge, put your answers into its cells, save it "
            "(File > Save a copy in Drive) and hand in that file")
