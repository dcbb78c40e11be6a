"""The rubric beside the masters prices every self-check a handout runs, and nothing else."""

import json
import re
from pathlib import Path

import nbformat

from course_utils import checks

REPO = Path(__file__).resolve().parents[1]
CHECK_CALL = re.compile(r"""check\(\s*["']([\w.]+)["']""")


def _handout_check_ids() -> set[str]:
    ids = set()
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if "check" in cell.metadata.get("tags", []):
                ids.update(CHECK_CALL.findall(cell.source))
    return ids


def test_rubric_prices_exactly_the_checks_the_handouts_run() -> None:
    rubric = json.loads((REPO / "answers" / "rubric.json").read_text(encoding="utf-8"))
    priced = set(rubric["points"])
    used = _handout_check_ids()
    assert used == set(checks.specs()), "every registered check is run by some handout, and only those"
    assert priced == used, f"unpriced: {sorted(used - priced)}; priced but never run: {sorted(priced - used)}"
    assert all(isinstance(p, int) and p > 0 for p in rubric["points"].values())
