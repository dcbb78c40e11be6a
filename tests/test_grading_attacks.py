"""Issue 21's attacks that need no sandbox, each a submission with the row it must get (fixtures in
tests/fixtures/grading/attacks/, made by make_batch.py).

Every attack hides wrong answers (0 points without a trick) behind one trick that fooled the
in-kernel grading of 85087ed (the before column of README's table). Now the kernel only hands back
values, judged in the grader's process: no trick earns a point, and the source scan names the cell.
Honest function answers that print, log or show a progress bar keep their points.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_grading import _rows

FIXTURES = Path(__file__).parent / "fixtures" / "grading"
RUBRIC = {"default": 1, "points": {"q2.tie_output": 2, "q3.norms": 3}}
TIMEOUT = 60

# file -> (status, score, max_score, what the detail must contain)
EXPECTED = {
    "attack_forged_log.ipynb": ("fail", 0, 3, "mentions .jsonl"),
    "attack_grader_id.ipynb": ("fail", 0, 3, "imitates a grader cell id"),
    "attack_spec_registry.ipynb": ("fail", 0, 3, "mentions _SPECS"),
    "attack_frozen_spec.ipynb": ("fail", 0, 3, "mentions __setattr__"),
    "attack_result_class.ipynb": ("fail", 0, 3, "assigns into c"),
    "attack_hashlib.ipynb": ("fail", 0, 3, "assigns into c"),
    "attack_verify_defaults.ipynb": ("fail", 0, 3, "mentions __defaults__"),
    "attack_tensor_subclass.ipynb": ("fail", 0, 3, "mentions __torch_function__"),
    "attack_allclose.ipynb": ("fail", 0, 3, "replaces torch.allclose"),
    "attack_oracle_restored.ipynb": ("fail", 0, 3, "replaces _oracle_home.self_attention"),
    "attack_import_key.ipynb": ("fail", 0, 3, "imports instructor code (course_staff)"),
    "attack_lookup_table.ipynb": ("pass", 0, 3, "q1.conv_parameters: hidden case"),
    "attack_answers_claims.ipynb": ("fail", 0, 3, "mentions COURSE_GRADER_IO"),
    "attack_answers_oversized.ipynb": ("fail", 0, 3, "mentions COURSE_GRADER_IO"),
    "attack_answers_malformed.ipynb": ("fail", 0, 3, "mentions COURSE_GRADER_IO"),
    "honest_functions.ipynb": ("pass", 3, 3, ""),
    "honest_functions_print_tqdm.ipynb": ("pass", 3, 3, ""),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("attacks")
    subs = root / "submissions"
    shutil.copytree(FIXTURES / "attacks", subs)
    (root / "rubric.json").write_text(json.dumps(RUBRIC), encoding="utf-8")
    out = root / "report.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "course_utils", "grade", str(subs), "--handouts", str(FIXTURES / "handouts"),
         "--rubric", str(root / "rubric.json"), "--timeout", str(TIMEOUT), "--jobs", "2", "--report", str(out)],
        cwd=root, env=dict(os.environ), capture_output=True, text=True, timeout=900)
    return {"proc": proc, "rows": _rows(out) if out.is_file() else {}}


def test_every_attack_gets_a_row(graded: dict) -> None:
    assert graded["proc"].returncode == 0, graded["proc"].stderr[-2000:]
    assert sorted(graded["rows"]) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_attack_gains_a_point_and_honest_printing_loses_none(graded: dict, name: str) -> None:
    row = graded["rows"][name]
    status, score, maximum, detail = EXPECTED[name]
    assert (row["status"], float(row["score"]), float(row["max_score"])) == (status, score, maximum), row["detail"]
    assert detail in row["detail"], row["detail"]
    if name.startswith("honest"):
        assert row["detail"] == "", row["detail"]
        assert (row["q1.conv_parameters"], row["q1.gru_parameters"]) == ("1", "1")


def test_hidden_cases_are_fresh_for_every_run() -> None:
    from course_staff.grading import judge

    first, second = (judge.draw_cases(["q1.conv_parameters", "q2.tie_output"], seed) for seed in (1, 2))
    assert sorted(first) == ["q1.conv_parameters"] and first != second
