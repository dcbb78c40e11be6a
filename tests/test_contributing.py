"""CONTRIBUTING.md's "add a check" recipe, followed on a copy of the tree: a toy check, keys, a graded notebook.

The recipe's files are the only ones edited; ``course-utils keys`` does the rest (registry, key, handout);
the grader then gives the toy check its point for a right answer and none for a wrong one.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
MASTER = "02_rnn_recurrence"
#: The recipe's files, for question q2 (the recipe writes them with q and NN).
EDITED = ("course_utils/q2/checks.py", "course_staff/keys/q2.py", f"answers/{MASTER}.ipynb", "answers/rubric.json")


def _recipe() -> str:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    return text.split("**Add a check to question `q`**", 1)[1].split("**Change", 1)[0]


def test_the_recipe_names_the_files_this_test_edits_and_one_command():
    recipe = _recipe()
    for generic in ("course_utils/q/checks.py", "course_staff/keys/q.py", "answers/NN_*.ipynb", "answers/rubric.json"):
        assert generic in recipe
    assert "Run `course-utils keys`" in recipe
    assert [path.replace("q2", "q").replace(MASTER, "NN_*") for path in EDITED] == [
        "course_utils/q/checks.py", "course_staff/keys/q.py", "answers/NN_*.ipynb", "answers/rubric.json"]


def _copy_tree(target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("course_utils", "course_staff", "answers", "notebooks"):
        shutil.copytree(ROOT / name, target / name, ignore=ignore)
    for name in ("course.toml", "pyproject.toml"):
        shutil.copy2(ROOT / name, target / name)


def _follow_the_recipe(tree: Path) -> None:
    with open(tree / EDITED[0], "a", encoding="utf-8") as handle:  # 1. the public check
        handle.write('\nregister("q2.toy", Spec("int", "Add the two inputs of the toy sequence."))\n')
    with open(tree / EDITED[1], "a", encoding="utf-8") as handle:  # 2. its answer and a known slip in the key
        handle.write("\n\n_answers_without_toy, _mistakes_without_toy = answers, mistakes\n\n\n"
                     "def answers(tiny):\n    return {**_answers_without_toy(tiny), 'q2.toy': 3 + 4}\n\n\n"
                     "def mistakes(tiny, found):\n"
                     "    return {**_mistakes_without_toy(tiny, found), 'q2.toy': [(3 * 4, 'add, do not multiply. ')]}\n")
    master = nbformat.read(tree / EDITED[2], as_version=4)  # 3. the blank and its check cell
    at = next(i for i, cell in enumerate(master.cells) if cell.get("id") == "check-q2-outputs") + 1
    blank = nbformat.v4.new_code_cell("toy = ...  # the sum of the toy sequence (3, 4)\n# BEGIN SOLUTION\n"
                                      "toy = 3 + 4\n# END SOLUTION\nprint(toy)", id="q2-toy")
    check = nbformat.v4.new_code_cell('# NBVAL_CHECK_OUTPUT\ncheck("q2.toy", toy)', id="check-q2-toy",
                                      metadata={"tags": ["check"]})
    master.cells[at:at] = [blank, check]
    nbformat.write(master, tree / EDITED[2])
    rubric = json.loads((tree / EDITED[3]).read_text(encoding="utf-8"))  # 4. its points
    rubric["points"]["q2.toy"] = 1
    (tree / EDITED[3]).write_text(json.dumps(rubric, indent=1) + "\n", encoding="utf-8")


@pytest.mark.slow
def test_a_check_added_by_the_recipe_is_keyed_handed_out_and_graded(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    _copy_tree(tree)
    _follow_the_recipe(tree)
    env = {**os.environ, "PYTHONPATH": str(tree), "COURSE_TINY": "1"}
    keys = subprocess.run([sys.executable, "-m", "course_utils", "keys", "--only", MASTER], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=900)
    assert keys.returncode == 0, keys.stdout[-2000:] + keys.stderr[-3000:]
    assert "registry: written" in keys.stdout and "handouts: 1 written" in keys.stdout, keys.stdout

    from course_staff.formats import handouts

    handout = nbformat.read(tree / "notebooks" / f"{MASTER}.ipynb", as_version=4)
    toy = next(cell for cell in handout.cells if cell.get("id") == "q2-toy")
    assert toy.source.startswith("toy = ...") and "3 + 4" not in toy.source
    master = nbformat.read(tree / EDITED[2], as_version=4)
    honest = handouts.filled_from_master(handouts.load_handouts(tree / "notebooks")[MASTER], master)
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(honest, subs / "right.ipynb")
    for cell in honest.cells:
        if cell.get("id") == "q2-toy":
            cell.source = cell.source.replace("toy = 3 + 4", "toy = 3 * 4")
    nbformat.write(honest, subs / "slip.ipynb")
    report = tmp_path / "report.csv"
    graded = subprocess.run([sys.executable, "-m", "course_utils", "grade", str(subs), "--report", str(report),
                             "--jobs", "1"], cwd=tree, env=env, capture_output=True, text=True, timeout=1200)
    assert graded.returncode == 0, graded.stdout[-2000:] + graded.stderr[-3000:]
    with open(report, newline="", encoding="utf-8") as handle:
        rows = {row["file"]: row for row in csv.DictReader(handle)}
    right, slip = rows["right.ipynb"], rows["slip.ipynb"]
    assert float(right["q2.toy"]) == 1 and float(right["score"]) == float(right["max_score"]), right
    assert float(slip["q2.toy"]) == 0 and float(slip["score"]) == float(slip["max_score"]) - 1, slip
    assert "q2.toy: add, do not multiply" in slip["detail"], slip["detail"]
