"""The grading benchmarks as a grader runs them: ci/grade_class.py on a small class, ci/bench_grade.py's batches."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "ci"))

import bench_grade  # noqa: E402 - ci/ is not a package


def test_a_class_of_one_student_is_graded_end_to_end_with_every_row_at_full_marks(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "ci" / "grade_class.py"), "--students", "1", "--jobs", "2",
                           "--keep", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rows pass with full marks: 4 of 4" in done.stdout
    assert re.search(r"4 notebooks \(1 students x 4 handouts\), --jobs 2, sandboxed: wall \d+ s .* peak memory", done.stdout)
    assert {p.name for p in tmp_path.iterdir()} == {"report.csv", "profile.csv", "profile.cells.csv", "profile.md"}
    assert "| 04_bert_gru_sentiment | 1 |" in (tmp_path / "profile.md").read_text(encoding="utf-8")


def test_the_benchmark_batch_is_every_handout_filled_from_its_own_trees_master(tmp_path: Path) -> None:
    bench_grade.make_batch(ROOT, tmp_path / "batch", 2)
    names = sorted(p.name for p in (tmp_path / "batch").iterdir())
    handouts = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert names == sorted(f"student{i:03d} {h}.ipynb" for h in handouts for i in range(2))
    assert sorted({bench_grade.handout_of(n) for n in names}) == handouts
    assert bench_grade.tree_env(tmp_path)["PYTHONPATH"].split(":")[0] == str(tmp_path)


def test_used_memory_is_total_less_available(tmp_path: Path) -> None:
    import grade_class

    (tmp_path / "meminfo").write_text("MemTotal:  1000 kB\nMemFree: 100 kB\nMemAvailable: 400 kB\n")
    assert grade_class.used_bytes(tmp_path / "meminfo") == 600 * 1024
