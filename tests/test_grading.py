"""``course-utils grade`` on a batch of submissions, honest and not (tests/fixtures/grading/).

The fixtures (made by ``tests/fixtures/grading/make_batch.py``) answer two tiny handouts with real
check ids; the rubric below gives q2.tie_output 2 points, q3.norms 3 and every other check 1, so
both handouts are worth 3. Each dishonest submission hides a wrong answer: it must lose exactly
that answer's points, however it was dressed up.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_staff.formats import report

FIXTURES = Path(__file__).parent / "fixtures" / "grading"
TIMEOUT = 45  # seconds per notebook: the honest ones need about 3 s alone, 15 s on a busy 2-core machine
RUBRIC = {"default": 1, "points": {"q2.tie_output": 2, "q3.norms": 3}}
RENAMED = "Copy of my homework FINAL (2).ipynb"
CHECK_COLUMNS = ["q2.tie_output", "q2.even_larger_output", "q3.norms"]
# file -> (status, score, max_score, q2.tie_output, q2.even_larger_output, q3.norms); '' = not this handout
EXPECTED = {
    "honest_tiny.ipynb": ("pass", 3, 3, "2", "1", ""),
    "honest_full.ipynb": ("pass", 3, 3, "2", "1", ""),  # saved in full mode, graded in tiny mode
    RENAMED: ("pass", 3, 3, "", "", "3"),  # no metadata, odd name: found by its cell ids
    "typed_verdict.ipynb": ("fail", 1, 3, "0", "1", ""),  # print("q2.tie_output: correct.") over 0.7
    "deleted_check.ipynb": ("fail", 2, 3, "2", "0", ""),  # check of a wrong y_even deleted
    "edited_check.ipynb": ("fail", 0, 3, "", "", "0"),  # check("q3.norms", <right literal>) over wrong norms
    "fabricated.ipynb": ("fail", 1, 3, "0", "1", ""),  # typed 0.500 over y_tie = 1.0 (behind NBVAL_IGNORE_OUTPUT)
    "monkeypatch.ipynb": ("fail", 1, 3, "0", "1", ""),  # course_utils.checks.verify replaced, y_tie = 0.7
    "raises.ipynb": ("fail", 2, 3, "2", "0", ""),  # y_even's cell raises (behind NBVAL_RAISES_EXCEPTION)
    "hangs.ipynb": ("timeout", 2, 3, "2", "0", ""),  # sleeps after the first check
    "kernel_dies.ipynb": ("error", 2, 3, "2", "0", ""),  # os._exit(1) after the first check
    "not_json.ipynb": ("error", 0, 0, "", "", ""),
}


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


def _grade(root: Path, subs: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "course_utils", "grade", str(subs), "--handouts", str(FIXTURES / "handouts"),
         "--rubric", str(root / "rubric.json"), "--timeout", str(TIMEOUT), *extra],
        cwd=root, env=env or dict(os.environ), capture_output=True, text=True, timeout=300)


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["file"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Grade a copy of the fixture batch once, as a grader would, from the command line."""
    root = tmp_path_factory.mktemp("grade")
    subs = root / "submissions"
    shutil.copytree(FIXTURES / "submissions", subs)
    (root / "rubric.json").write_text(json.dumps(RUBRIC), encoding="utf-8")
    scratch = root / "tmp"
    scratch.mkdir()
    before = _snapshot(subs)
    out = root / "out" / "report.csv"
    env = dict(os.environ, TMPDIR=str(scratch), GRADER_SECRET="do-not-leak")
    env.pop("TORCHINDUCTOR_CACHE_DIR", None)  # set by torch in this process if a test imported torch._dynamo
    proc = _grade(root, subs, "--report", str(out), "--jobs", "4", "--profile", str(root / "out" / "profile.csv"),
                  env=env)
    with out.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    return {"proc": proc, "rows": _rows(out), "header": header, "subs": subs, "before": before,
            "scratch": scratch, "out": out, "root": root}


def test_the_profile_says_where_each_notebooks_time_went(batch: dict) -> None:
    from course_staff.grading.profile import PHASES

    profile = _rows(batch["root"] / "out" / "profile.csv")
    assert set(profile) == set(batch["rows"])
    for name, row in profile.items():
        if batch["rows"][name]["status"] != "pass":
            continue
        phases = {phase: float(row[phase]) for phase in PHASES}
        assert all(phases[p] > 0 for p in ("launch", "kernel", "cells", "teardown", "total")), (name, phases)
        parts = sum(v for p, v in phases.items() if p != "total")
        assert 0.8 * phases["total"] <= parts <= phases["total"] + 0.5, (name, phases)  # the phases cover the total
        assert phases["kernel"] < phases["total"] and float(batch["rows"][name]["seconds"]) <= phases["total"]
    with (batch["root"] / "out" / "profile.cells.csv").open(newline="", encoding="utf-8") as handle:
        cells = list(csv.DictReader(handle))
    honest = [c for c in cells if c["file"] == "honest_tiny.ipynb"]
    assert [int(c["position"]) for c in honest] == list(range(1, len(honest) + 1)) and len(honest) > 3
    assert any(c["cell_id"].startswith("course-grader-") for c in honest)  # the grader's cells are named too
    summary = (batch["root"] / "out" / "profile.md").read_text(encoding="utf-8")
    assert "| fx_rnn |" in summary and "Slowest cells" in summary and summary in batch["proc"].stdout


def test_batch_finishes_with_exit_zero_and_one_row_per_notebook(batch: dict) -> None:
    assert batch["proc"].returncode == 0, batch["proc"].stderr
    assert sorted(batch["rows"]) == sorted(EXPECTED)
    # one column per check id, handouts in file-name order (fx_attention, fx_functions, fx_rnn), checks in
    # notebook order (fx_functions is the attacks' handout: tests/test_grading_attacks.py)
    assert batch["header"] == [*report.REPORT_COLUMNS, "q3.norms", "q1.conv_parameters", "q1.gru_parameters",
                               "q3.attention", "q2.tie_output", "q2.even_larger_output"]
    assert report.REPORT_COLUMNS[:4] == ("file", "status", "score", "max_score")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_submission_gets_its_status_and_exactly_its_points(batch: dict, name: str) -> None:
    row = batch["rows"][name]
    got = (row["status"], float(row["score"]), float(row["max_score"]), *(row[c] for c in CHECK_COLUMNS))
    assert got == EXPECTED[name], row["detail"]


def test_every_notebook_finishes_within_its_time_limit(batch: dict) -> None:
    seconds = {name: float(row["seconds"]) for name, row in batch["rows"].items()}
    assert all(s < TIMEOUT + 5 for s in seconds.values()), seconds
    assert seconds["hangs.ipynb"] >= TIMEOUT
    assert _processes_mentioning(str(batch["scratch"])) == []


def test_a_notebook_that_hangs_or_dies_is_run_once_more_and_keeps_its_result(batch: dict) -> None:
    runs = {name: row["runs"] for name, row in batch["rows"].items()}
    assert runs["hangs.ipynb"] == runs["kernel_dies.ipynb"] == "2"  # run again (--retries 1), same end
    assert runs["not_json.ipynb"] == runs["typed_verdict.ipynb"] == "1"


def test_a_kernel_that_stalls_once_costs_the_student_nothing(tmp_path: Path) -> None:
    """A stall the notebook does not cause (seen once in CI: an 8 s notebook killed at its 45 s limit,
    none of its checks reached) is simulated by a cell that sleeps only on its first run: the second run counts.
    With ``--retries 0`` the same notebook is a timeout."""
    (tmp_path / "rubric.json").write_text(json.dumps(RUBRIC), encoding="utf-8")
    procs = {}
    for retries in ("1", "0"):
        nb = nbformat.read(FIXTURES / "submissions" / "honest_tiny.ipynb", 4)
        mark = tmp_path / f"first-run-happened-{retries}"
        nb.cells.insert(2, nbformat.v4.new_code_cell(
            f"import pathlib, time\nmark = pathlib.Path({str(mark)!r})\n"
            "if not mark.exists():\n    mark.touch()\n    time.sleep(600)", id="stall-once"))
        subs = tmp_path / f"submissions-{retries}"
        subs.mkdir()
        nbformat.write(nb, subs / "stalls_once.ipynb")
        procs[retries] = subprocess.Popen(
            [sys.executable, "-m", "course_utils", "grade", str(subs), "--handouts", str(FIXTURES / "handouts"),
             "--rubric", str(tmp_path / "rubric.json"), "--timeout", "30", "--retries", retries,
             "--report", str(tmp_path / f"report-{retries}.csv"),
             "--no-sandbox"],  # the mark must outlive a run, which no sandbox lets it do
            cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    out = {retries: proc.communicate(timeout=300)[0] for retries, proc in procs.items()}
    assert [proc.returncode for proc in procs.values()] == [0, 0]
    row = _rows(tmp_path / "report-1.csv")["stalls_once.ipynb"]
    assert (row["status"], row["score"], row["runs"]) == ("pass", "3", "2"), row["detail"]
    assert "(run 2 times)" in out["1"]
    row = _rows(tmp_path / "report-0.csv")["stalls_once.ipynb"]
    assert (row["status"], row["score"], row["runs"]) == ("timeout", "0", "1"), row["detail"]


def test_honest_full_mode_work_is_not_compared_where_the_mode_matters(batch: dict) -> None:
    full, tiny = batch["rows"]["honest_full.ipynb"], batch["rows"]["honest_tiny.ipynb"]
    assert (full["mode"], tiny["mode"]) == ("full", "tiny")
    assert int(tiny["cells_compared"]) == 3 and int(full["cells_compared"]) == 2  # vocabulary / split cell skipped
    assert int(full["cells_differ"]) == 0 and full["detail"] == ""


def test_the_detail_names_what_was_faked(batch: dict) -> None:
    detail = {name: row["detail"] for name, row in batch["rows"].items()}
    # a check that lost its points says so, with why where the self-check knows the slip (0.7: no known one)
    assert detail["typed_verdict.ipynb"] == ("locked cell 7 [rnn-check-tie] edited (restored); "
                                             "q2.tie_output: not the right value")
    assert detail["deleted_check.ipynb"] == ("locked cell [rnn-check-even] deleted (restored); q2.even_larger_output: "
                                             "that would be the output for h_4 = 0: run the recurrence over this sequence")
    assert detail["edited_check.ipynb"] == "locked cell 7 [att-check] edited (restored); q3.norms: ||x1|| and ||x3|| are off"
    assert detail["fabricated.ipynb"] == ("cell 6 [rnn-tie]: differ; q2.tie_output: the output unit in the figure has no "
                                          "bias: it is the sigmoid of the weight on its edge times h_4 (is your sigmoid's "
                                          "argument 1000 - h?)")
    assert detail["raises.ipynb"] == ("cell 9 [rnn-even]: raised; cell 10 [rnn-check-even]: raised; "
                                      "q2.even_larger_output: the value could not be read (NameError: name 'y_even' "
                                      "is not defined)")
    # the patched verify fools the student's own check, not the grader (which judges the value in its process)
    assert detail["monkeypatch.ipynb"] == ("q2.tie_output: not the right value; "
                                           "suspicious source in cell 5 [student-helper]: assigns into c")
    assert detail["hangs.ipynb"].startswith("killed after the time limit")
    assert detail["kernel_dies.ipynb"].startswith("the kernel died")
    assert detail["not_json.ipynb"].startswith("not a valid notebook")
    assert all(detail[name] == "" for name in ("honest_tiny.ipynb", RENAMED))


def test_written_answers_are_exported_beside_their_prompts(batch: dict) -> None:
    with batch["out"].with_suffix(".answers.csv").open(newline="", encoding="utf-8") as handle:
        answers = {(row["file"], row["question"]): row for row in csv.DictReader(handle)}
    graded = [name for name, want in EXPECTED.items() if want[2] > 0]
    assert sorted({file for file, _ in answers}) == sorted(graded)
    tie = answers[("honest_tiny.ipynb", "rnn-why")]
    assert tie["prompt"] == "**3.** Why is the tie exactly 0.5? Answer in one sentence."
    assert tie["answer"] == "Even and odd sums cancel, so h = 0 and sigmoid(0) = 0.5."
    assert answers[(RENAMED, "att-why")]["answer"] == "Only the scale: every norm grows with beta."
    page = batch["out"].with_suffix(".answers.html").read_text(encoding="utf-8")
    assert page.count("<tr><td class=\"prompt\">") == len(answers)
    assert "Why is the tie exactly 0.5?" in page and "sigmoid(0) = 0.5." in page


def test_nothing_is_written_in_the_submissions_folder_and_scratch_is_removed(batch: dict) -> None:
    assert _snapshot(batch["subs"]) == batch["before"]
    assert list(batch["scratch"].iterdir()) == []


def test_shards_joined_give_the_same_rows_as_one_run(batch: dict, tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    names = ["honest_tiny.ipynb", "typed_verdict.ipynb", RENAMED, "not_json.ipynb", "deleted_check.ipynb"]
    for name in names:
        shutil.copyfile(batch["subs"] / name, subs / name)
    parts = [tmp_path / f"shard{k}.csv" for k in (1, 2)]
    for k, part in enumerate(parts, start=1):
        assert _grade(batch["root"], subs, "--shard", f"{k}/2", "--report", str(part)).returncode == 0
    assert all(_rows(p) for p in parts)  # both shards got work: the split is not trivial here
    merged = tmp_path / "merged.csv"
    from course_utils.cli import main

    assert main(["grade-merge", str(merged), *map(str, parts)]) == 0
    whole = {name: {**row, "seconds": ""} for name, row in batch["rows"].items() if name in names}
    assert {name: {**row, "seconds": ""} for name, row in _rows(merged).items()} == whole
    with merged.with_suffix(".answers.csv").open(newline="", encoding="utf-8") as handle:
        assert sorted(row["file"] for row in csv.DictReader(handle)) == sorted(n for n in names if n != "not_json.ipynb")
    assert main(["grade-merge", str(tmp_path / "again.csv"), str(parts[0]), str(parts[0])]) == 2  # a file twice


@pytest.mark.parametrize("argv", [["does-not-exist"], [".", "--timeout", "0"], [".", "--jobs", "0"],
                                  [".", "--handouts", "missing"], [".", "--shard", "3/2"],
                                  [".", "--retries", "-1"]])
def test_usage_errors_exit_two(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> None:
    from course_utils.cli import main

    monkeypatch.chdir(tmp_path)  # an empty folder: no notebooks, no handouts
    if "--shard" in argv:
        with pytest.raises(SystemExit) as exit_:
            main(["grade", *argv])
        assert exit_.value.code == 2
    else:
        assert main(["grade", *argv]) == 2
    assert list(tmp_path.iterdir()) == []


REAL = ("01_cnn_vs_rnn", "02_rnn_recurrence", "03_self_attention", "04_bert_gru_sentiment")
# What the lab's mode-dependent cells print in Colab's full mode (bert-base-uncased, the IMDB archive):
# an honest full-mode submission carries these, and tiny-mode grading must not compare them.
FULL_MODE_PRINTS = ("30522", "[7592, 2088, 2129, 2024, 2017, 1029]", "(training, validation, test): (17500, 7500, 25000)",
                    "parameters: 112241409", "trainable parameters: 2759169")


def _grade_real(tmp_path: Path, name: str, edit=None):
    import nbformat

    from course_staff.formats import handouts, scoring
    from course_staff.grading import submission

    repo = Path(__file__).parent.parent
    known = handouts.load_handouts(repo / "notebooks")
    handout = known[name]
    honest = handouts.filled_from_master(handout, nbformat.read(repo / "answers" / f"{name}.ipynb", 4))
    if edit:
        edit(honest)
    path = tmp_path / f"my homework ({name[:2]}).ipynb"  # named unlike the handout
    nbformat.write(honest, path)
    settings = submission.Settings(known, scoring.load_rubric(repo / "answers" / "rubric.json"), timeout=600,
                                   sanitize=repo / "course_staff" / "grading" / "in_kernel" / "nbval_sanitize.cfg")
    row, _, matched = submission.grade_notebook(path, tmp_path / "scratch", settings)
    return row, handout, matched, settings


@pytest.mark.slow
@pytest.mark.parametrize("name", REAL)
def test_an_honest_submission_of_each_real_handout_passes_with_full_marks(tmp_path: Path, name: str) -> None:
    """The course's own handouts, filled in from their executed masters, as a student would hand them in."""
    row, handout, matched, settings = _grade_real(tmp_path, name)
    assert matched is handout
    assert (row.status, row.detail, row.cells_differ) == ("pass", "", 0)
    assert row.cells_compared == sum(cell_id in handout.compared for cell_id in handout.order) > 0
    assert row.score == row.max_score == sum(settings.rubric.of(q) for q in handout.check_ids) > 0


def _full_mode_outputs(nb, mode_line: bool) -> int:
    """Give the lab's mode-dependent cells the outputs Colab's full mode prints (and, with ``mode_line``,
    the full-mode line of the first cells); returns how many cells changed."""
    import nbformat

    full, changed = iter(FULL_MODE_PRINTS), 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if mode_line and output.get("name") == "stdout" and "tiny mode on cpu" in output.get("text", ""):
                output["text"] = output["text"].replace("tiny mode on cpu", "full mode on cuda")
        if "mode-dependent" in cell.metadata.get("tags", []) and cell.get("outputs"):
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=next(full) + "\n")]
            changed += 1
    return changed


@pytest.mark.slow
def test_an_honest_full_mode_lab_as_colab_saves_it_gets_full_marks_in_tiny_mode(tmp_path: Path) -> None:
    """The lab run in Colab's full mode: its mode line says full and its mode-dependent cells print the
    full-mode numbers. Re-executed offline in tiny mode it keeps full marks; those cells are not compared."""
    changed = []
    row, handout, matched, settings = _grade_real(tmp_path, "04_bert_gru_sentiment",
                                                  lambda nb: changed.append(_full_mode_outputs(nb, mode_line=True)))
    assert changed == [len(FULL_MODE_PRINTS)]
    assert matched is handout
    assert row.mode == "full"
    assert (row.status, row.cells_differ) == ("pass", 0), row.detail
    assert row.score == row.max_score == sum(settings.rubric.of(q) for q in handout.check_ids) > 0


@pytest.mark.slow
def test_full_mode_numbers_under_a_tiny_mode_line_are_compared_and_differ(tmp_path: Path) -> None:
    """The same outputs in a notebook that says it ran in tiny mode are fabrications: they are compared."""
    row, *_ = _grade_real(tmp_path, "04_bert_gru_sentiment", lambda nb: _full_mode_outputs(nb, mode_line=False))
    assert row.mode == "tiny"
    assert row.status == "fail"
    assert row.cells_differ == len(FULL_MODE_PRINTS)
    assert row.score == row.max_score  # the checks themselves are still right: only the outputs were typed


def _replace_in_cell(nb, cell_id: str, old: str, new: str) -> None:
    (cell,) = [c for c in nb.cells if c.get("id") == cell_id]
    assert old in cell.source
    cell.source = cell.source.replace(old, new)


@pytest.mark.slow
def test_a_percentage_in_binary_accuracy_costs_its_own_check_only_and_the_detail_says_why(tmp_path: Path) -> None:
    """The loops call the student's binary_accuracy; they are judged on their own work (issue 38)."""
    right = "return ((logits > 0).float() == labels).float().mean().item()"
    row, handout, _, settings = _grade_real(tmp_path, "04_bert_gru_sentiment", lambda nb: _replace_in_cell(
        nb, "check-lab-accuracy", right, right.replace("return ", "return 100 * ")))
    assert row.max_score == sum(settings.rubric.of(q) for q in handout.check_ids)
    assert row.score == row.max_score - settings.rubric.of("lab.binary_accuracy"), row.detail
    assert "lab.binary_accuracy: that looks like a percentage" in row.detail
    assert "lab.train_epoch" not in row.detail and "lab.evaluate" not in row.detail


@pytest.mark.slow
def test_a_wrong_value_is_named_in_the_detail_with_its_hint(tmp_path: Path) -> None:
    """A plain answer that lost its points says why in the report, in the self-check's words."""
    row, handout, _, settings = _grade_real(tmp_path, "02_rnn_recurrence", lambda nb: _replace_in_cell(
        nb, "q2-final-hidden", "h_4 = sp.expand(W_IN * x_t + W_REC * h_4)", "h_4 = sp.expand(W_IN * x_t - W_REC * h_4)"))
    assert row.score == row.max_score - settings.rubric.of("q2.final_hidden"), row.detail
    assert "q2.final_hidden: every input carries the same sign" in row.detail
