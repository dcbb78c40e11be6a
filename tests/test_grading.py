"""``course-utils grade`` on a folder of tricky submissions (fixtures in tests/fixtures/grading/).

honest: every saved output is real; fabricated: the answer cells' saved outputs were typed in
(one also hides behind ``# NBVAL_IGNORE_OUTPUT``); honest_stripped: a typed-in answer whose
``# NBVAL_CHECK_OUTPUT`` lines were deleted (caught against ``handouts/honest.ipynb``); raises: a
cell raises (hidden behind ``# NBVAL_RAISES_EXCEPTION``); hangs: ``time.sleep(1000)``;
truncated: not JSON.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_utils import grading

FIXTURES = Path(__file__).parent / "fixtures" / "grading"
TIMEOUT = 20


def _snapshot(folder: Path) -> dict[str, str]:
    """Every path under ``folder`` with the SHA-256 of its content (folders map to '')."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""
            for p in sorted(folder.rglob("*"))}


def _processes_mentioning(text: str) -> list[int]:
    """Live process ids whose command line contains ``text``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().replace(b"\0", b" ").decode("utf-8", "replace"):
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Grade a copy of the fixtures once, as a grader would, from the command line."""
    root = tmp_path_factory.mktemp("grade")
    subs = root / "submissions"
    shutil.copytree(FIXTURES, subs)
    scratch = root / "tmp"
    scratch.mkdir()
    before = _snapshot(subs)
    report = root / "out" / "report.csv"
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "course_utils", "grade", str(subs), "--report", str(report),
         "--timeout", str(TIMEOUT), "--jobs", "4", "--handouts", str(subs / "handouts")],
        cwd=root, env=dict(os.environ, TMPDIR=str(scratch)), capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - start
    with report.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = {row["file"]: row for row in reader}
        columns = reader.fieldnames
    return {"proc": proc, "elapsed": elapsed, "rows": rows, "columns": columns, "subs": subs,
            "before": before, "scratch": scratch}


def test_batch_finishes_with_exit_zero_within_its_timeouts(batch: dict) -> None:
    assert batch["proc"].returncode == 0, batch["proc"].stderr
    # 5 notebooks (one not JSON) on 4 workers: the slowest is the hanging one, killed at TIMEOUT
    assert TIMEOUT <= batch["elapsed"] < TIMEOUT + 25, batch["elapsed"]


def test_report_has_the_documented_columns_and_one_row_per_notebook(batch: dict) -> None:
    assert tuple(batch["columns"]) == grading.REPORT_COLUMNS == (
        "file", "status", "cells_compared", "cells_differ", "cells_raised", "seconds", "detail")
    assert sorted(batch["rows"]) == sorted(p.name for p in FIXTURES.glob("*.ipynb"))


def _counts(row: dict) -> tuple[str, int, int, int]:
    return row["status"], int(row["cells_compared"]), int(row["cells_differ"]), int(row["cells_raised"])


def test_honest_submission_passes(batch: dict) -> None:
    row = batch["rows"]["honest.ipynb"]
    assert _counts(row) == ("pass", 2, 0, 0)
    assert 0 < float(row["seconds"]) < TIMEOUT


def test_fabricated_outputs_are_caught_even_behind_an_ignore_marker(batch: dict) -> None:
    row = batch["rows"]["fabricated.ipynb"]
    assert _counts(row) == ("fail", 2, 2, 0)
    assert row["detail"] == "cell 1: differ; cell 3: differ"


def test_removed_check_markers_are_caught_against_the_handout(batch: dict) -> None:
    row = batch["rows"]["honest_stripped.ipynb"]
    assert _counts(row) == ("fail", 0, 0, 0)
    assert row["detail"] == "2 NBVAL_CHECK_OUTPUT marker(s) removed"


def test_a_raising_cell_fails_even_behind_a_raises_marker(batch: dict) -> None:
    row = batch["rows"]["raises.ipynb"]
    assert _counts(row) == ("fail", 1, 0, 1)
    assert row["detail"] == "cell 2: raised"


def test_a_hanging_notebook_is_killed_with_its_kernel(batch: dict) -> None:
    row = batch["rows"]["hangs.ipynb"]
    assert row["status"] == "timeout"
    assert TIMEOUT <= float(row["seconds"]) < TIMEOUT + 5
    assert _processes_mentioning(str(batch["scratch"])) == []


def test_invalid_json_is_an_error_row_not_a_crash(batch: dict) -> None:
    row = batch["rows"]["truncated.ipynb"]
    assert _counts(row) == ("error", 0, 0, 0)
    assert row["detail"].startswith("not a valid notebook")


def test_nothing_is_written_in_the_submissions_folder_and_scratch_is_removed(batch: dict) -> None:
    assert _snapshot(batch["subs"]) == batch["before"]
    assert list(batch["scratch"].iterdir()) == []


@pytest.mark.parametrize("argv", [["does-not-exist"], [".", "--timeout", "0"], [".", "--jobs", "0"],
                                  [".", "--handouts", "missing"]])
def test_usage_errors_exit_two(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> None:
    from course_utils.cli import main

    monkeypatch.chdir(tmp_path)  # an empty folder: no notebooks
    assert main(["grade", *argv]) == 2
    assert list(tmp_path.iterdir()) == []


def test_disarm_removes_dodge_markers_but_keeps_the_check_marker() -> None:
    text = (FIXTURES / "fabricated.ipynb").read_text(encoding="utf-8")
    import nbformat

    disarmed, n_checked = grading._disarm(text)
    assert n_checked == 2
    cells = nbformat.reads(disarmed, as_version=4).cells
    assert cells[-1].source.splitlines()[:2] == ["# NBVAL_CHECK_OUTPUT", "# removed by grader: NBVAL_IGNORE_OUTPUT"]
    with pytest.raises(ValueError):
        grading._disarm((FIXTURES / "truncated.ipynb").read_text(encoding="utf-8"))
