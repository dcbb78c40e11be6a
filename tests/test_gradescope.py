"""Gradescope round trip: the autograder bundle's run_autograder on a local copy of Gradescope's layout.

Gradescope's specification (https://gradescope-autograders.readthedocs.io/en/latest/specs/): the zip
holds setup.sh and run_autograder at its root; at run time /autograder/source holds the zip's files,
/autograder/submission the student's files, and run_autograder must write /autograder/results/results.json.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
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


def _lay_out(bundle: Path, root: Path, submissions: list[Path]) -> None:
    """root/ as Gradescope lays /autograder out: source/ (the zip's files), run_autograder, submission/."""
    with zipfile.ZipFile(bundle / "autograder.zip") as archive:
        for info in archive.infolist():  # extractall drops the modes: Gradescope keeps them
            archive.extract(info, root / "source")
            (root / "source" / info.filename).chmod(info.external_attr >> 16)
    shutil.copyfile(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    for path in submissions:
        shutil.copyfile(path, root / "submission" / path.name)


def _run_autograder(bundle: Path, root: Path, submissions: list[Path], **env_vars: str) -> dict:
    """Lay out root/ as Gradescope does, run run_autograder there, return results.json."""
    _lay_out(bundle, root, submissions)
    env = dict(os.environ, COURSE_AUTOGRADER_ROOT=str(root), COURSE_AUTOGRADER_PYTHON=sys.executable, **env_vars)
    proc = subprocess.run(["bash", str(root / "run_autograder")], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    _run_autograder.stderr = proc.stderr
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
    wheels = [n for n in names if n.startswith("wheels/")]
    assert len(wheels) == 1 and re.fullmatch(r"wheels/course_utils-[\w.]+-py3-none-any\.whl", wheels[0])
    assert {"setup.sh", "run_autograder", "rubric.json", "handouts/fx_rnn.ipynb", "handouts/fx_attention.ipynb",
            "handouts/fx_functions.ipynb", *wheels} == names
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    with zipfile.ZipFile(bundle / "autograder.zip") as archive, \
            zipfile.ZipFile(io.BytesIO(archive.read(wheels[0]))) as wheel:  # the instructor package itself
        assert "course_staff/grading/gradescope.py" in wheel.namelist()
        assert "Provides-Extra: grade" in next(wheel.read(n).decode() for n in wheel.namelist() if n.endswith("METADATA"))
    setup = (bundle / "setup.sh").read_text(encoding="utf-8")
    assert "git+" not in setup and f"$ROOT/source/{wheels[0]}[grade]" in setup and "torch==" in setup


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


def test_without_a_sandbox_the_submission_is_not_graded_unconfined(bundle: Path, tmp_path: Path) -> None:
    results = _run_autograder(bundle, tmp_path, [FIXTURES / "submissions" / "typed_verdict.ipynb"],
                              COURSE_GRADER_BWRAP=str(tmp_path / "no-such-bwrap"))
    _assert_follows_the_specification(results)
    assert results["score"] == 0.0 and results["tests"] == []
    assert "could not be graded safely" in results["output"] and "not run" in results["output"]
    assert "no sandbox can be made here" in _run_autograder.stderr  # the log says why
    assert not (tmp_path / "results" / "report.csv").exists()  # nothing was run
    assert "--no-sandbox" not in (bundle / "run_autograder").read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.bundle
def test_setup_sh_builds_the_image_from_the_zip_and_run_autograder_grades(bundle: Path, tmp_path: Path) -> None:
    """setup.sh in a scratch root laid out as Gradescope's: its own venv from the zip's wheel and the package
    index only (torch from the configured index instead of PyTorch's, apt skipped), then one submission graded
    by that venv alone, the kernel as ``student`` where the test runs as root."""
    root = tmp_path / "autograder"
    _lay_out(bundle, root, [FIXTURES / "submissions" / "typed_verdict.ipynb"])
    # the venv outside /tmp: the sandbox cannot bind a Python environment that lives under /tmp
    venv = Path(tempfile.mkdtemp(prefix="course-grader-", dir="/var/tmp")) / "venv"
    try:
        _setup_and_grade(root, venv)
    finally:
        shutil.rmtree(venv.parent, ignore_errors=True)


def _setup_and_grade(root: Path, venv: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env.update(COURSE_AUTOGRADER_ROOT=str(root), COURSE_AUTOGRADER_VENV=str(venv),
               COURSE_AUTOGRADER_SKIP_APT="1", COURSE_AUTOGRADER_TORCH_INDEX="",
               COURSE_AUTOGRADER_BASE_PYTHON=getattr(sys, "_base_executable", sys.executable))
    setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], cwd=root / "source", env=env,
                           capture_output=True, text=True, timeout=1200)
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    python = venv / "bin" / "python"
    where = subprocess.run([str(python), "-c", "import course_staff; print(course_staff.__file__)"], env=env,
                           cwd=root, capture_output=True, text=True, check=True).stdout  # not this checkout's cwd
    assert where.startswith(str(venv))  # the zip's wheel, not this checkout
    if os.geteuid() == 0:
        import pwd

        pwd.getpwnam("student")  # setup.sh made the kernel's user
    proc = subprocess.run(["bash", str(root / "run_autograder")], cwd=root, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    _assert_follows_the_specification(results)
    tests = {t["name"]: t for t in results["tests"]}
    assert {"q2.tie_output", "q2.even_larger_output", "notebook"} <= set(tests)  # a test per check
    assert results["score"] == 1.0 and tests["q2.even_larger_output"]["status"] == "passed", results
