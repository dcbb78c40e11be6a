"""Gradescope round trip: the autograder bundle's run_autograder on a local copy of Gradescope's layout.

Gradescope's specification (https://gradescope-autograders.readthedocs.io/en/latest/specs/): the zip
holds setup.sh and run_autograder at its root; at run time /autograder/source holds the zip's files,
/autograder/submission the student's files, and run_autograder must write /autograder/results/results.json.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from course_utils.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "grading"
# results.json keys the specification defines (top level and per test) and their allowed values
TOP_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
            "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format",
             "tags", "visibility", "extra_data"}
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "autograder"
    rubric = out.parent / "rubric.json"
    rubric.write_text(json.dumps({"default": 1, "points": {"q2.tie_output": 2}}), encoding="utf-8")
    assert main(["autograder", str(out), "--handouts", str(FIXTURES / "handouts"), "--rubric", str(rubric),
                 "--timeout", "60"]) == 0
    return out


def _run_autograder(bundle: Path, root: Path, submissions: list[Path]) -> dict:
    """Lay out root/ as Gradescope does, run run_autograder there, return results.json."""
    with zipfile.ZipFile(bundle / "autograder.zip") as archive:
        archive.extractall(root / "source")
    shutil.copyfile(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    for path in submissions:
        shutil.copyfile(path, root / "submission" / path.name)
    env = dict(os.environ, COURSE_AUTOGRADER_ROOT=str(root), COURSE_AUTOGRADER_PYTHON=sys.executable)
    proc = subprocess.run(["bash", str(root / "run_autograder")], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


def _assert_follows_the_specification(results: dict) -> None:
    assert set(results) <= TOP_KEYS and isinstance(results["score"], float)
    for test in results["tests"]:
        assert set(test) <= TEST_KEYS
        assert {"name", "score", "max_score", "output", "visibility"} <= set(test)
        assert test["visibility"] in VISIBILITY and test["status"] in {"passed", "failed"}
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert 0 <= test["score"] <= test["max_score"] or test["max_score"] == 0
    assert results["score"] == sum(t["score"] for t in results["tests"])


def test_the_bundle_has_the_files_gradescope_wants_at_the_zip_root(bundle: Path) -> None:
    with zipfile.ZipFile(bundle / "autograder.zip") as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert {"setup.sh", "run_autograder", "rubric.json", "handouts/fx_rnn.ipynb", "handouts/fx_attention.ipynb",
            "handouts/fx_functions.ipynb"} == names
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    setup = (bundle / "setup.sh").read_text(encoding="utf-8")
    assert "course-utils[grade] @ git+https://github.com/" in setup and "torch==" in setup


def test_run_autograder_grades_one_submission_into_results_json(bundle: Path, tmp_path: Path) -> None:
    results = _run_autograder(bundle, tmp_path, [FIXTURES / "submissions" / "typed_verdict.ipynb"])
    _assert_follows_the_specification(results)
    tests = {t["name"]: t for t in results["tests"]}
    assert results["score"] == 1.0  # q2.tie_output (2 points) faked, q2.even_larger_output (1) right
    assert (tests["q2.tie_output"]["score"], tests["q2.tie_output"]["max_score"]) == (0.0, 2.0)
    assert (tests["q2.even_larger_output"]["score"], tests["q2.even_larger_output"]["status"]) == (1.0, "passed")
    assert tests["notebook"]["status"] == "failed" and "edited (restored)" in tests["notebook"]["output"]
    assert (tmp_path / "results" / "report.csv").is_file()


def test_run_autograder_writes_results_json_even_without_a_notebook(bundle: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no notebook here", encoding="utf-8")
    results = _run_autograder(bundle, tmp_path, [tmp_path / "notes.txt"])
    _assert_follows_the_specification(results)
    assert results["score"] == 0.0 and "exactly one .ipynb" in results["output"]
