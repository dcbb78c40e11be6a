"""Notebooks as Google Colab saves them, reproduced on our handouts (sources: tests/fixtures/colab/README.md).

Three ways a student's notebook reaches the grader from Colab, each modelled on a real Colab-saved file:

- :func:`saved` (source A, a 4.5 notebook saved by Colab): nbformat 4.5 kept, every cell's ``id`` kept and
  copied into ``metadata.id``; executed code cells get ``metadata.colab.base_uri``, ``outputId`` and
  ``executionInfo`` (status, timestamp, user, elapsed); a widget output (a tqdm bar) puts its model ids in
  ``metadata.colab.referenced_widgets`` and the models in the notebook's ``widgets`` state; the runtime's
  ``accelerator``/``colab.gpuType`` are written; the file is compact JSON.
- :func:`saved_copy` (source B, a copy Colab saved): as :func:`saved`, under the name ``Copy of ...``, with
  the "Open in Colab" badge cell Colab puts first (``metadata.id`` ``view-in-github``) and
  ``colab.include_colab_link``/``collapsed_sections`` in the notebook metadata.
- :func:`pasted` (source C, a notebook made new in Colab): nbformat 4.0, no cell ``id``s, a fresh 12-character
  ``metadata.id`` per cell, no ``tags``, no ``course`` metadata, ``colab.authorship_tag``: what a grader gets
  when a student pasted the handout's cells into a new notebook.
"""

from __future__ import annotations

import copy
import json
import random
import string
import uuid

USER = {"displayName": "A Student", "userId": "04512345678901234567"}
_ID_CHARS = string.ascii_letters + string.digits + "-_"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _colab_id(rng: random.Random) -> str:
    return "".join(rng.choice(_ID_CHARS) for _ in range(12))


def _output_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128)))


def _cell_metadata(cell: dict, cell_id: str, rng: random.Random, clock: list[int], keep_tags: bool) -> dict:
    metadata = {k: v for k, v in cell.get("metadata", {}).items() if keep_tags or k != "tags"}
    metadata["id"] = cell_id
    if cell["cell_type"] != "code" or cell.get("execution_count") is None:
        return metadata
    elapsed = rng.randint(40, 9000)
    clock[0] += elapsed + rng.randint(500, 20000)
    metadata["executionInfo"] = {"status": "ok", "timestamp": clock[0], "user_tz": -120, "elapsed": elapsed,
                                 "user": dict(USER)}
    if cell.get("outputs"):
        colab = {"base_uri": "https://localhost:8080/"}
        widgets = [o["data"][WIDGET_VIEW]["model_id"] for o in cell["outputs"] if WIDGET_VIEW in o.get("data", {})]
        if widgets:
            colab["referenced_widgets"] = widgets
        metadata["colab"] = colab
        metadata["outputId"] = _output_id(rng)
    return metadata


def _widget_state(nb: dict) -> dict:
    """The ``widgets`` notebook metadata Colab writes for the widget outputs (one progress model each)."""
    state = {}
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view:
                state[view["model_id"]] = {
                    "model_module": "@jupyter-widgets/controls", "model_name": "HBoxModel", "model_module_version": "1.5.0",
                    "state": {"_model_name": "HBoxModel", "_view_name": "HBoxView", "children": [], "layout": None}}
    return {WIDGET_STATE: state} if state else {}


def _notebook_metadata(nb: dict, rng: random.Random, *, keep_course: bool, copy_of: bool) -> dict:
    old = nb.get("metadata", {})
    colab = {"provenance": []}
    if "gpuType" in old.get("colab", {}):
        colab["gpuType"] = old["colab"]["gpuType"]
    if copy_of:
        colab.update({"collapsed_sections": [], "include_colab_link": True})
    if not keep_course:  # a notebook made in Colab
        colab["authorship_tag"] = "ABX9Ty" + "".join(rng.choice(_ID_CHARS) for _ in range(22))
    metadata = {"colab": colab, "kernelspec": {"display_name": "Python 3", "name": "python3"},
                "language_info": {"name": "python"}}
    if "accelerator" in old:
        metadata["accelerator"] = old["accelerator"]
    if keep_course and "course" in old:
        metadata["course"] = copy.deepcopy(old["course"])
    widgets = _widget_state(nb)
    if widgets:
        metadata["widgets"] = widgets
    return metadata


def _cells(nb: dict, rng: random.Random, *, keep_ids: bool) -> list[dict]:
    clock = [1755600000000]
    cells = []
    for cell in nb["cells"]:
        new = copy.deepcopy(cell)
        cell_id = cell.get("id") if keep_ids else _colab_id(rng)
        new["metadata"] = _cell_metadata(cell, cell_id, rng, clock, keep_tags=keep_ids)
        if keep_ids:
            new["id"] = cell_id
        else:
            new.pop("id", None)
        cells.append(new)
    return cells


def saved(nb: dict, seed: int = 0) -> dict:
    """``nb`` (a filled, executed handout, as JSON data) as Colab saves it to Drive (source A)."""
    rng = random.Random(seed)
    nb = json.loads(json.dumps(nb))
    return {"cells": _cells(nb, rng, keep_ids=True), "metadata": _notebook_metadata(nb, rng, keep_course=True, copy_of=False),
            "nbformat": 4, "nbformat_minor": 5}


def saved_copy(nb: dict, repository: str, path: str, seed: int = 1) -> dict:
    """``nb`` as a copy that Colab saved, "Open in Colab" badge first (source B)."""
    rng = random.Random(seed)
    nb = json.loads(json.dumps(nb))
    badge = {"cell_type": "markdown", "id": "view-in-github", "metadata": {"id": "view-in-github", "colab_type": "text"},
             "source": [f'<a href="https://colab.research.google.com/github/{repository}/blob/main/{path}" '
                        'target="_parent"><img src="https://colab.research.google.com/assets/colab-badge.svg" '
                        'alt="Open In Colab"/></a>']}
    return {"cells": [badge, *_cells(nb, rng, keep_ids=True)],
            "metadata": _notebook_metadata(nb, rng, keep_course=True, copy_of=True), "nbformat": 4, "nbformat_minor": 5}


def pasted(nb: dict, seed: int = 2) -> dict:
    """``nb``'s cells pasted into a notebook made new in Colab (source C): ids, tags and course metadata gone."""
    rng = random.Random(seed)
    nb = json.loads(json.dumps(nb))
    return {"cells": _cells(nb, rng, keep_ids=False), "metadata": _notebook_metadata(nb, rng, keep_course=False, copy_of=False),
            "nbformat": 4, "nbformat_minor": 0}


def dumps(nb: dict) -> str:
    """Colab's file: compact JSON (source A is written without spaces or indentation)."""
    return json.dumps(nb, ensure_ascii=False, separators=(",", ":"))
