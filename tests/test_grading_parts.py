"""The grader's parts without a batch: matching, locking, the harness and judging, scoring, shards, environment."""

from __future__ import annotations

import copy
import json
import os
import threading
from pathlib import Path

import nbformat
import pytest

from course_utils import checks
from course_staff.formats import handouts, scoring
from course_staff.grading import judge, locking, run, sandbox, scan, shards
from course_staff.grading.in_kernel import harness

FIXTURES = Path(__file__).parent / "fixtures" / "grading"


@pytest.fixture(scope="module")
def known() -> dict[str, handouts.Handout]:
    return handouts.load_handouts(FIXTURES / "handouts")


def _submission(name: str) -> nbformat.NotebookNode:
    return handouts.read_notebook((FIXTURES / "submissions" / name).read_text(encoding="utf-8"))


def _cell(nb: nbformat.NotebookNode, cell_id: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.get("id") == cell_id)


def test_a_handout_knows_its_locked_cells_checks_comparisons_and_blanks(known: dict) -> None:
    rnn = known["fx_rnn"]
    assert sorted(rnn.locked) == ["rnn-check-even", "rnn-check-tie"]
    assert rnn.check_ids == ["q2.tie_output", "q2.even_larger_output"]
    assert rnn.calls["rnn-check-tie"] == [handouts.CheckCall("q2.tie_output", "y_tie")]
    assert rnn.compared == {"rnn-tie", "rnn-even", "rnn-sizes"} and rnn.mode_dependent == {"rnn-sizes"}
    assert rnn.blanks == {"rnn-why": "**3.** Why is the tie exactly 0.5? Answer in one sentence."}
    assert sorted(known["fx_attention"].locked) == ["att-check", "att-given"]  # 'locked' tag and 'check' tag


def test_check_calls_are_read_in_source_order_whatever_the_spelling() -> None:
    source = 'check("a.b", x[0] + 1)\nchecks.check("c.d", f(y, z))\nprint(check)'
    assert handouts.check_calls(source) == [handouts.CheckCall("a.b", "x[0] + 1"), handouts.CheckCall("c.d", "f(y, z)")]
    with pytest.raises(ValueError, match="not valid Python"):
        handouts.check_calls("check(")


def test_matching_uses_metadata_then_cell_ids_never_the_name(known: dict) -> None:
    nb = _submission("honest_tiny.ipynb")
    assert handouts.match(nb, known) == (known["fx_rnn"], "metadata")
    del nb.metadata["course"]
    handout, how = handouts.match(nb, known)
    assert handout is known["fx_rnn"] and how == "cells (100%)"
    for cell in nb.cells:  # ids rewritten (an editor that drops them): the unchanged cells still tell
        cell["id"] = "x" + cell["id"]
    assert handouts.match(nb, known)[0] is known["fx_rnn"]
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('my own notebook')", id="a")])
    handout, how = handouts.match(other, known)
    assert handout is None and how.startswith("matches no handout")


def test_a_submission_without_cell_ids_is_locked_by_source_and_copies_do_not_count(known: dict) -> None:
    nb = _submission("honest_tiny.ipynb")
    nb.nbformat_minor = 4
    for cell in nb.cells:
        del cell["id"]
    copied = copy.deepcopy(nb.cells[6])  # the tie's check cell, pasted again at the end
    nb.cells.append(copied)
    prepared = locking.prepare(nb, known["fx_rnn"], "tiny")
    ids = [c.id for c in prepared.nb.cells]
    assert ids.count("rnn-check-tie") == 1 and ids.count("course-grader-after-rnn-check-tie") == 1
    assert ids[ids.index("rnn-check-tie") + 1] == "course-grader-after-rnn-check-tie"
    assert prepared.notes == ["locked cell 14 [student-14] added (runs as ordinary code, counts for nothing)"]
    assert prepared.nb.nbformat_minor == 5
    nb = _submission("honest_tiny.ipynb")
    nb.cells.append(copy.deepcopy(nb.cells[6]))  # same id twice: the first is the locked one
    prepared = locking.prepare(nb, known["fx_rnn"], "tiny")
    ids = [c.id for c in prepared.nb.cells]
    assert ids.count("course-grader-after-rnn-check-tie") == 1 and "student-14" in ids
    assert prepared.notes == ["locked cell 14 [rnn-check-tie] added (a copy; runs as ordinary code, counts for nothing)"]


def test_prepare_restores_edited_deleted_and_ignores_added_locked_cells(known: dict) -> None:
    nb = _submission("honest_tiny.ipynb")
    _cell(nb, "rnn-check-tie").source = 'print("q2.tie_output: correct.")'
    nb.cells.remove(_cell(nb, "rnn-check-even"))
    extra = nbformat.v4.new_code_cell('check("q2.tie_output", 0.5)', id="mine", metadata={"tags": ["check"]})
    nb.cells.append(extra)
    before = copy.deepcopy(nb)
    prepared = locking.prepare(nb, known["fx_rnn"], "tiny")
    assert nb == before  # the submission itself is never changed
    ids = [c.id for c in prepared.nb.cells]
    assert _cell(prepared.nb, "rnn-check-tie").source == 'check("q2.tie_output", y_tie)'
    assert ids.index("rnn-check-even") == ids.index("rnn-even") + 1  # back after the cell it followed
    assert _cell(prepared.nb, "mine").metadata["tags"] == []
    assert prepared.notes == ["locked cell 7 [rnn-check-tie] edited (restored)",
                              "locked cell 13 [mine] added (runs as ordinary code, counts for nothing)",
                              "locked cell [rnn-check-even] deleted (restored)"]
    assert ids[0] == "course-grader-start" and ids[-1] == "course-grader-finish"
    assert ids[ids.index("rnn-check-tie") + 1] == "course-grader-after-rnn-check-tie"
    assert ids[ids.index("rnn-check-even") + 1] == "course-grader-after-rnn-check-even"
    assert "course-grader-after-mine" not in ids


def test_prepare_puts_back_removed_markers_and_disarms_dodges(known: dict) -> None:
    nb = _submission("honest_tiny.ipynb")
    _cell(nb, "rnn-tie").source = "# NBVAL_SKIP\ny_tie = 0.5\nprint(f'y_4 = {y_tie:.3f}')"
    _cell(nb, "rnn-even").metadata["tags"] = ["nbval-ignore-output"]
    prepared = locking.prepare(nb, known["fx_rnn"], "tiny")
    tie = _cell(prepared.nb, "rnn-tie").source
    assert tie.startswith("# NBVAL_CHECK_OUTPUT\n# removed by grader: NBVAL_SKIP")
    assert _cell(prepared.nb, "rnn-even").metadata["tags"] == []
    assert prepared.notes == ["NBVAL_CHECK_OUTPUT of cell 6 [rnn-tie] removed (put back)"]


@pytest.mark.parametrize(("name", "grading", "compared"), [
    ("honest_tiny.ipynb", "tiny", True), ("honest_full.ipynb", "tiny", False), ("honest_full.ipynb", "full", True)])
def test_mode_dependent_cells_are_compared_only_within_one_mode(known: dict, name: str, grading: str,
                                                                compared: bool) -> None:
    nb = _submission(name)
    # a student tagging a mode-independent answer 'mode-dependent' gains nothing: the handout decides
    _cell(nb, "rnn-tie").metadata["tags"] = ["mode-dependent"]
    prepared = locking.prepare(nb, known["fx_rnn"], grading)
    assert prepared.mode == name.split("_")[1].split(".")[0]
    sizes = _cell(prepared.nb, "rnn-sizes")
    assert bool(handouts.CHECK_LINE.search(sizes.source)) is compared
    assert (locking.IGNORE_TAG in sizes.metadata.get("tags", [])) is not compared
    assert handouts.CHECK_LINE.search(_cell(prepared.nb, "rnn-tie").source)


def test_mode_is_read_from_the_saved_outputs() -> None:
    def with_output(text: str) -> nbformat.NotebookNode:
        cell = nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output("stream", name="stdout", text=text)])
        return nbformat.v4.new_notebook(cells=[cell])

    assert locking.detect_mode(with_output("mode: full | device: GPU (Tesla T4)\n")) == "full"
    assert locking.detect_mode(with_output("tiny mode on cpu\n")) == "tiny"
    assert locking.detect_mode(with_output("nothing here\n")) is None


def _harness_run(tmp_path: Path, cases: dict, steps) -> dict:
    """Run ``steps(harness)`` as the grader cells would, the cases served on the FIFO; the answers file."""
    io_dir = run.prepare_io(tmp_path)
    stop = threading.Event()
    server = threading.Thread(target=run.serve_cases, args=(io_dir / "cases", json.dumps(cases) + "\n", stop))
    server.start()
    try:
        steps(harness.Harness(str(io_dir), block=False))
    finally:
        stop.set()
        server.join()
    return json.loads((io_dir / "answers.json").read_text(encoding="utf-8"))


def test_the_harness_hands_back_values_only_and_calls_functions_on_the_served_cases(tmp_path: Path,
                                                                                   capsys) -> None:
    def conv(c_in, c_out, k):
        print("counting")  # printing inside a function costs nothing
        return c_out * (c_in * k * k + 1)

    def slow(*args):
        while True:
            pass

    cases = {"q1.conv_parameters": [[2, 3, 3], [1, 1, 1]], "q1.gru_parameters": [[4, 5]]}
    original = harness.CALL_LIMIT_S
    harness.CALL_LIMIT_S = 0.5
    try:
        data = _harness_run(tmp_path, cases, lambda h: (
            h.capture("c1", {"q2.tie_output": lambda: 0.5, "q3.norms": lambda: undefined}),  # noqa: F821
            h.capture("c2", {"q1.conv_parameters": lambda: conv, "q1.gru_parameters": lambda: slow}),
            h.finish()))
    finally:
        harness.CALL_LIMIT_S = original
    answers = data["answers"]
    assert data["done"] is True
    assert answers["q2.tie_output"] == {"cell": "c1", "plain": 0.5}
    assert answers["q3.norms"]["error"].startswith("NameError")
    assert answers["q1.conv_parameters"]["probe"] == [{"output": 57}, {"output": 2}]
    assert answers["q1.gru_parameters"]["probe"] == [{"timeout": True}]
    assert "counting" not in capsys.readouterr().out
    results = judge.judge_answers(["q2.tie_output", "q3.norms", "q1.conv_parameters", "q1.gru_parameters", "x.y"],
                                  json.dumps(data), cases)
    assert results == {"q2.tie_output": (True, ""), "q3.norms": (False, "the value could not be read (NameError: "
                                                                        "name 'undefined' is not defined)"),
                       "q1.conv_parameters": (True, ""),
                       "q1.gru_parameters": (False, "hidden case 1: the function ran past its time limit"),
                       "x.y": (False, "unknown check id")}


def test_a_function_given_as_a_rate_travels_as_its_canonical_texts_and_is_judged_as_the_self_check_does(
        tmp_path: Path) -> None:
    import math

    from course_utils.checks import verify

    right, wrong = (lambda b: math.exp(-b * b)), (lambda b: math.exp(-b))
    data = _harness_run(tmp_path, {}, lambda h: (
        h.capture("c1", {"q3.error_order": lambda: right}), h.finish()))
    assert set(data["answers"]["q3.error_order"]) == {"cell", "neighbours"}
    assert judge.judge_answers(["q3.error_order"], json.dumps(data), {}) == {"q3.error_order": (True, "")}
    (tmp_path / "2").mkdir()
    data = _harness_run(tmp_path / "2", {}, lambda h: (h.capture("c1", {"q3.error_order": lambda: wrong}), h.finish()))
    ok, detail = judge.judge_answers(["q3.error_order"], json.dumps(data), {})["q3.error_order"]
    assert not ok and not verify("q3.error_order", wrong).ok and detail.startswith("the scores grow like beta^2")
    forged = {"answers": {"q3.error_order": {"neighbours": [[str(r / 10) for r in range(3)] * 9]}}}
    assert judge.judge_answers(["q3.error_order"], json.dumps(forged), {})["q3.error_order"][0] is False


def test_the_harness_refuses_instructor_code_in_the_kernel(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = ("import course_staff.keys, importlib\n"
              f"from course_staff.grading.in_kernel import harness\nharness.Harness({str(tmp_path)!r})\n"
              "for name in ('course_staff.keys', 'course_staff.keys.q1'):\n"
              "    try:\n        importlib.import_module(name)\n        print('imported', name)\n"
              "    except ModuleNotFoundError:\n        print('refused', name)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.split("\n")[:2] == ["refused course_staff.keys", "refused course_staff.keys.q1"], done.stderr


@pytest.mark.parametrize(("text", "why"), [
    (None, "check cell did not run"), ("{not json", "the answers file is not the harness's"),
    ('{"answers": {"q2.tie_output": {"verified": true, "ok": true}}}', "the value could not be read ()"),
    ('{"answers": {"q2.tie_output": {"plain": {"__sympy__": "Pow(Integer(10), Integer(99999999))"}}}}',
     "the value is not plain answer data"),
    ('{"answers": {"q2.tie_output": {"plain": "__import__(\'os\').system(\'x\')"}}}', ""),
    ('{"answers": {"q2.tie_output": {"plain": ' + "[" * 5000 + "]" * 5000 + "}}}", "the answers file is not the harness's"),
    ('{"answers": {"q2.tie_output": {"plain": ' + "[" * 50 + "]" * 50 + "}}}", "the value is not plain answer data"),
    ('{"answers": {"q1.conv_parameters": {"probe": [{"output": 1}]}}}', ""),
])
def test_a_forged_or_malformed_answers_file_is_wrong_answers_never_a_crash(text, why) -> None:
    results = judge.judge_run(["q2.tie_output", "q1.conv_parameters"], text,
                              judge.draw_cases(["q1.conv_parameters"], 7), tiny=True)
    assert not any(ok for ok, _ in results.values())
    assert results["q2.tie_output"][1].startswith(why)


def test_scores_come_from_the_judgements_and_the_rubric() -> None:
    rubric = scoring.Rubric({"a.x": 2.0}, default=1.0)
    results = {"a.x": (True, ""), "a.y": (False, ""), "a.w": (False, "hidden case 2: a value differs.")}
    result = scoring.score(["a.x", "a.y", "a.z", "a.w"], results, rubric)
    assert result.points == {"a.x": 2.0, "a.y": 0.0, "a.z": 0.0, "a.w": 0.0}
    assert (result.total, result.maximum) == (2.0, 5.0)
    assert result.notes == ["a.z: check cell did not run", "a.w: hidden case 2: a value differs."]


@pytest.mark.parametrize("text", ['{"points": {"a": -1}}', '{"points": {"a": true}}', '{"default": "2"}', "[1"])
def test_a_malformed_rubric_is_refused_with_its_format(tmp_path: Path, text: str) -> None:
    (tmp_path / "r.json").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="rubric|expected"):
        scoring.load_rubric(tmp_path / "r.json")


def test_the_course_rubric_is_valid() -> None:
    rubric = scoring.load_rubric(Path(__file__).parent.parent / "answers" / "rubric.json")
    assert rubric.of("q2.final_hidden") == 2.0 and rubric.of("some.new_check") == rubric.default == 1.0


def test_scan_flags_rebinding_and_poking_but_not_ordinary_code(known: dict) -> None:
    assert scan._reasons("from course_utils.checks import check\nx = 1\nprint(x)") == []
    assert scan._reasons("check = print") == ["rebinds check"]
    assert scan._reasons("import course_utils.checks as c\nc._VERDICTS['q'] = True") == ["mentions _VERDICTS", "assigns into c"]
    assert scan._reasons("import sys\nsys.modules['course_utils.checks'] = None") == ["mentions sys.modules"]
    assert scan._reasons("%pip install x\nsetattr(a, 'b', 1)") == ["calls setattr"]
    assert scan._reasons("import torch\ntorch.allclose = lambda *a: True") == ["replaces torch.allclose"]
    assert scan._reasons("try:\n    from course_staff.keys import solutions\nexcept ImportError:\n    pass") == [
        "imports instructor code (course_staff)"]
    assert scan._reasons("import course_utils, pathlib\nm = pathlib.Path(course_utils.__file__).parents[1] / 'answers'") \
        == ["reads the package's folder for notebooks (the masters in answers/)"]
    assert scan._reasons("import matplotlib.pyplot as plt\nplt.rcParams['figure.dpi'] = 80") == []
    imitation = nbformat.v4.new_code_cell("print('{}')", id="course-grader-after-rnn-check-tie")
    nb = _submission("honest_tiny.ipynb")
    nb.cells.append(imitation)
    assert scan.suspicious(nb, known["fx_rnn"]) == [
        "suspicious source in cell 14 [course-grader-after-rnn-check-tie]: imitates a grader cell id"]
    prepared = locking.prepare(nb, known["fx_rnn"], "tiny")
    assert [c.id for c in prepared.nb.cells].count("course-grader-after-rnn-check-tie") == 1  # renamed
    flagged = scan.suspicious(_submission("monkeypatch.ipynb"), known["fx_rnn"])
    assert flagged == ["suspicious source in cell 5 [student-helper]: assigns into c"]


def test_shards_are_stable_disjoint_and_cover_everything() -> None:
    paths = [Path(f"student_{i:03d}.ipynb") for i in range(200)]
    parts = [shards.select(paths, (k, 4)) for k in range(1, 5)]
    assert sorted(p for part in parts for p in part) == sorted(paths)
    assert all(20 < len(part) < 80 for part in parts)  # a hash spreads them
    assert shards.select(paths[:50], (2, 4)) == [p for p in parts[1] if p in paths[:50]]  # others do not move it
    assert shards.parse_shard("3/8") == (3, 8)
    for bad in ("0/2", "3/2", "x", "1/2/3"):
        with pytest.raises(Exception, match="--shard"):
            shards.parse_shard(bad)


def test_kernels_get_a_minimal_environment(tmp_path: Path) -> None:
    grader = {"PATH": "/usr/bin", "LANG": "en_US.UTF-8", "AWS_SECRET_ACCESS_KEY": "x", "GITHUB_TOKEN": "y",
              "HOME": "/home/grader", "HF_HOME": "/cache/hf", "EXTRA": "z"}
    env = run.kernel_environment(tmp_path, tiny=True, extra=["EXTRA"], environ=grader)
    assert "AWS_SECRET_ACCESS_KEY" not in env and "GITHUB_TOKEN" not in env
    assert env["HOME"] == env["TMPDIR"] == str(tmp_path) and env["COURSE_TINY"] == "1"
    assert (env["PATH"], env["HF_HOME"], env["EXTRA"]) == ("/usr/bin", "/cache/hf", "z")


def test_a_notebook_sees_only_the_minimal_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_SECRET", "do-not-leak")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os\nprint(sorted(os.environ))", id="probe")])
    (tmp_path / "s.ipynb").write_text(nbformat.writes(nb), encoding="utf-8")
    environment = sandbox.build_environment(run.GRADER_MODULES)
    boxed = sandbox.available() is None  # sandboxed where bwrap works, as course-utils grade runs it
    try:
        env = run.grading_environment(tmp_path, True, (), environment, sandboxed=boxed)
        execution = run.execute(tmp_path / "s.ipynb", 60, env, None, environment, sandboxed=boxed)
    finally:
        environment.close()
    assert [c["kind"] for c in execution.cells] == ["ok"], execution.output
    assert "GRADER_SECRET" not in execution.output + json.dumps(execution.cells)
    assert not list(tmp_path.rglob("*.jsonl"))  # the cell log is a pipe, no file


def test_check_records_the_last_verdict_per_id_for_the_grader(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(checks, "_VERDICTS", {}, raising=False)
    checks.check("q2.tie_output", 0.7)
    checks.check("q2.even_larger_output", 1.0)
    checks.check("q2.tie_output", 0.5)
    seen = checks.verdicts()
    assert seen == {"q2.tie_output": True, "q2.even_larger_output": True}
    seen["q2.tie_output"] = False  # a copy: changing it changes nothing
    assert checks.verdicts()["q2.tie_output"] is True
    assert capsys.readouterr().out.splitlines()[0].startswith("q2.tie_output: not yet.")


def test_written_answers_left_blank_or_deleted_are_exported_as_such(known: dict, tmp_path: Path) -> None:
    from course_staff.written import answers

    nb = _submission("honest_tiny.ipynb")
    _cell(nb, "rnn-why").source = "**YOUR ANSWER HERE**"
    found = answers.collect("a.ipynb", nb, known["fx_rnn"])
    assert [(a.question, a.answer) for a in found] == [("rnn-why", answers.NOT_ANSWERED)]
    nb.cells.remove(_cell(nb, "rnn-why"))
    assert answers.collect("a.ipynb", nb, known["fx_rnn"])[0].answer == answers.DELETED
    evil = answers.Answer("b.ipynb", "fx_rnn", "rnn-why", "prompt", "<script>alert(1)</script>")
    answers.write_html([evil], tmp_path / "page.html")
    assert "<script>" not in (tmp_path / "page.html").read_text(encoding="utf-8")


# ---- what grading costs: the profile, the judging workers, the launcher, lazy specs ----------------------------

def test_the_profile_of_a_run_reads_the_plugins_clocks_and_ignores_what_is_not_a_number() -> None:
    cells = [{"id": "a", "seconds": 1.5, "setup_s": 0.7}, {"id": "course-grader-after-x", "seconds": 0.25, "setup_s": 0.01},
             {"id": "b", "seconds": "lots", "setup_s": True}]
    execution = run.Execution(cells, 0, False, "", 5.0, timing={"configure": 101.0, "first_setup": 101.2, "finish": 104.0,
                                                                 "teardown_s": 0.4}, started=100.0, ended=104.5)
    got = run.profile(execution, lambda cell_id: cell_id.startswith(locking.GRADER_PREFIX))
    assert got == {"launch": 1.0, "collect": 0.2, "kernel": 0.7, "cells": 1.51, "grader_cells": 0.25, "teardown": 0.9}
    empty = run.profile(run.Execution([], None, True, "", 1.0, started=100.0, ended=101.0), lambda _: False)
    assert set(empty.values()) == {0.0}  # a run that ended before pytest started: nothing to say


def test_the_profile_summary_gives_medians_per_handout_and_the_slowest_cells() -> None:
    from course_staff.formats.report import Row
    from course_staff.grading import profile

    rows = [Row(f"s{i}.ipynb", "pass", handout="h", profile={p: float(i) for p in profile.PHASES},
                cell_seconds=[("slow", 2.0 + i), ("fast", 0.1)]) for i in range(1, 4)]
    text = profile.summary(rows + [Row("broken.ipynb", "error")])
    assert "| h | 3 | " + " | ".join(["2.00"] * len(profile.PHASES)) + " |" in text
    assert "- h: `slow` 4.00 s, `fast` 0.10 s" in text


def test_one_judging_worker_serves_many_notebooks_and_a_broken_one_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = '{"answers": {"q2.tie_output": {"plain": 0.5}}}'
    judge.close_workers()
    assert judge.judge_run(["q2.tie_output"], answers, {}, tiny=True) == {"q2.tie_output": (True, "")}
    [worker] = judge._IDLE
    assert judge.judge_run(["q2.tie_output"], answers, {}, tiny=True)["q2.tie_output"][0]
    assert judge._IDLE == [worker] and worker.uses == 2  # the same process, its imports paid once
    worker.proc.kill()  # a worker that died while idle is never used again
    worker.proc.wait()
    assert judge.judge_run(["q2.tie_output"], answers, {}, tiny=True)["q2.tie_output"][0]
    [fresh] = judge._IDLE
    assert fresh is not worker
    late = judge.judge_run(["q2.tie_output"], answers, {}, tiny=True, timeout=0.001)  # no answer in time: killed
    assert late == {"q2.tie_output": (False, "judging ran past its time limit (0.001 s)")}
    assert judge._IDLE == [] and fresh.proc.poll() is not None
    monkeypatch.setattr(judge, "WORKER_USES", 1)  # a worker that has served its notebooks is retired
    assert judge.judge_run(["q2.tie_output"], answers, {}, tiny=True)["q2.tie_output"][0] and judge._IDLE == []
    judge.close_workers()


def test_judging_from_several_threads_at_once_gives_each_its_own_verdicts() -> None:
    from concurrent.futures import ThreadPoolExecutor

    right, wrong = '{"answers": {"q2.tie_output": {"plain": 0.5}}}', '{"answers": {"q2.tie_output": {"plain": 0.7}}}'
    texts = [right, wrong] * 4
    with ThreadPoolExecutor(4) as pool:
        verdicts = list(pool.map(lambda text: judge.judge_run(["q2.tie_output"], text, {}, True)["q2.tie_output"][0], texts))
    assert verdicts == [True, False] * 4 and 1 <= len(judge._IDLE) <= 4
    judge.close_workers()


def test_the_pytest_launcher_skips_the_slow_iri_import_and_nbformat_still_validates(tmp_path: Path) -> None:
    import subprocess
    import sys

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1", id="a")])
    (tmp_path / "n.ipynb").write_text(nbformat.writes(nb), encoding="utf-8")
    probe = ("import sys\nsys.path.insert(0, %r)\nimport course_grader_pytest, nbformat\n"
             "nbformat.validate(nbformat.read(%r, 4))\n"
             "print([sys.modules.get(name) for name in course_grader_pytest.SKIPPED_IMPORTS])\n")
    grader = sandbox.build_environment(run.GRADER_MODULES)
    try:
        folder = str(grader.grader)
        done = subprocess.run([sys.executable, "-c", probe % (folder, str(tmp_path / "n.ipynb"))],
                              capture_output=True, text=True, timeout=120)
        assert done.stdout.strip() == "[None]", done.stderr  # marked missing, and the notebook still validates
        version = subprocess.run([sys.executable, "-m", "course_grader_pytest", "--version"], cwd=folder,
                                 capture_output=True, text=True, timeout=120)
        assert version.returncode == 0 and "pytest" in version.stdout + version.stderr
    finally:
        grader.close()


def run_with_the_launcher(probe: str) -> "subprocess.CompletedProcess[str]":
    """Run ``probe`` (with ``%r`` for the grader folder, where ``course_grader_pytest`` is) in a fresh interpreter."""
    import subprocess
    import sys

    grader = sandbox.build_environment(run.GRADER_MODULES)
    try:
        return subprocess.run([sys.executable, "-c", probe % str(grader.grader)], capture_output=True, text=True,
                              timeout=120)
    finally:
        grader.close()


def test_the_masked_import_is_still_an_optional_import_of_jsonschemas_format_checkers() -> None:
    """The pytest launcher marks ``rfc3987_syntax`` missing (``SKIPPED_IMPORTS``): a private detail of
    jsonschema's ``_format`` module, kept because it saves more than 5% of a class's grading time
    (docs/grading-sandbox.md). This fails loudly when jsonschema no longer imports a masked module, or
    imports it where an ImportError is not expected: measure again, then drop or adapt the mask."""
    import ast
    import importlib.util

    launcher = ast.parse(run.GRADER_MODULES["course_grader_pytest.py"].read_text(encoding="utf-8"))
    [masked] = [ast.literal_eval(node.value) for node in launcher.body if isinstance(node, ast.Assign)
                and [getattr(t, "id", "") for t in node.targets] == ["SKIPPED_IMPORTS"]]
    source = importlib.util.find_spec("jsonschema._format").origin
    tree = ast.parse(open(source, encoding="utf-8").read())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}

    def optional(node: ast.AST) -> bool:  # inside ``with suppress(ImportError)`` or ``try: ... except ImportError``
        while node in parents:
            node = parents[node]
            if isinstance(node, ast.With) and any("ImportError" in ast.dump(item.context_expr) for item in node.items):
                return True
            if isinstance(node, ast.Try) and any("ImportError" in ast.dump(h.type or ast.Name("BaseException"))
                                                 for h in node.handlers):
                return True
        return False

    for name in masked:
        imports = [n for n in ast.walk(tree) if (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == name)
                   or (isinstance(n, ast.Import) and any(a.name.split(".")[0] == name for a in n.names))]
        assert imports, f"jsonschema ({source}) no longer imports {name}: the launcher's mask of it is dead code"
        assert all(optional(n) for n in imports), f"jsonschema ({source}) imports {name} as a required import now"


# Long-lived containers, as an import makes them: under CPython's own thresholds their growth triggers full
# collections; the count of full (generation 2) collections comes from gc.callbacks.
FULL_COLLECTIONS_PROBE = (
    "import gc\nfull = []\ngc.callbacks.append(lambda phase, info: phase == 'stop' and info['generation'] == 2"
    " and full.append(1))\nkept = [[i] for i in range(600000)]\nprint(len(full))\n")


def test_the_course_kernel_launcher_makes_full_collections_rarer_and_keeps_the_younger_thresholds() -> None:
    import subprocess
    import sys

    probe = ("import sys, gc\nsys.path.insert(0, %r)\nbefore = gc.get_threshold()\nimport course_grader_kernel as k\n"
             "after = k.fewer_full_collections()\nassert k.fewer_full_collections() == after  # idempotent\n"
             "print(before, after)\n")
    done = run_with_the_launcher(probe)
    assert done.returncode == 0, done.stderr
    before, after = (tuple(int(x) for x in part.strip("()").split(",")) for part in done.stdout.strip().split(") ("))
    assert after[:2] == before[:2] and after[2] == max(before[2], 100), (before, after)

    default = subprocess.run([sys.executable, "-c", FULL_COLLECTIONS_PROBE], capture_output=True, text=True, timeout=120)
    tuned = run_with_the_launcher("import sys\nsys.path.insert(0, %r)\nimport course_grader_kernel as k\n"
                                  "k.fewer_full_collections()\n" + FULL_COLLECTIONS_PROBE.replace("%", "%%"))
    n_default, n_tuned = int(default.stdout), int(tuned.stdout)
    assert n_default >= 4 and n_tuned <= n_default // 4, (n_default, n_tuned)


def test_the_library_internals_the_course_kernel_launcher_relies_on_are_as_they_were() -> None:
    """Fewer full collections (``course_grader_kernel``) save more than 5% of a class's grading time
    (docs/grading-sandbox.md) through other libraries' internals: nbval builds its current-env kernel's
    command line with ``ipykernel.kernelspec.get_kernel_dict`` (which the pytest launcher replaces), that
    command line runs ``-m ipykernel_launcher`` (whose lines the course launcher repeats), and CPython's third
    threshold spaces full collections (the test below counts them). This fails loudly when one of them
    changes: measure again, then drop or adapt the launcher."""
    import gc
    import importlib.util
    import inspect

    import ipykernel.kernelspec
    import nbval.kernel

    assert "ipykernel.kernelspec.get_kernel_dict()" in inspect.getsource(nbval.kernel), "nbval builds its kernel otherwise"
    # the signatures of the ipykernel versions the project installs (6.29, its lowest, has no python_arguments)
    assert list(inspect.signature(ipykernel.kernelspec.get_kernel_dict).parameters) in (
        ["extra_arguments"], ["extra_arguments", "python_arguments"])
    argv = ipykernel.kernelspec.get_kernel_dict()["argv"]
    assert argv[1:3] == ["-m", "ipykernel_launcher"] and argv.count("ipykernel_launcher") == 1, argv
    launcher = open(importlib.util.find_spec("ipykernel_launcher").origin, encoding="utf-8").read()
    body = [line.strip() for line in launcher.split('if __name__ == "__main__":', 1)[1].splitlines()
            if line.strip() and not line.strip().startswith("#")]
    assert body[1:] == ["del sys.path[0]", "from ipykernel import kernelapp as app", "app.launch_new_instance()"], body
    assert body[0] in ('if sys.path[0] == "" or Path(sys.path[0]) == Path.cwd():',  # ipykernel 6.30 and later
                       'if sys.path[0] == "":'), body  # 6.29 (ci/constraints-lowest.txt)
    assert len(gc.get_threshold()) == 3


def test_the_pytest_launcher_starts_nbvals_kernel_with_the_course_launcher_and_it_runs_cells() -> None:
    probe = (
        "import os, sys\nfolder = %r\nsys.path.insert(0, folder)\nimport course_grader_pytest as launch\n"
        "import gc\nprint(gc.get_threshold()[2])\n"
        "assert not launch.start_kernels_with_the_course_launcher()  # a kernel could not import it\n"
        "os.environ['PYTHONPATH'] = folder  # as the grader's environment has it\n"
        "assert launch.start_kernels_with_the_course_launcher() and launch.start_kernels_with_the_course_launcher()\n"
        "import ipykernel.kernelspec\nprint(ipykernel.kernelspec.get_kernel_dict()['argv'])\n"
        "from nbval.kernel import RunningKernel, CURRENT_ENV_KERNEL_NAME\n"
        "k = RunningKernel(CURRENT_ENV_KERNEL_NAME)\n"
        "msg_id = k.execute_cell_input('import gc, sys; print(gc.get_threshold()[2], sys.modules[\"__main__\"].__name__, 6 * 7)')\n"
        "k.await_reply(msg_id, timeout=30)\ntexts = []\n"
        "while True:\n    msg = k.get_message('iopub', timeout=30)\n"
        "    if msg['parent_header'].get('msg_id') != msg_id:\n        continue\n"
        "    if msg['msg_type'] == 'stream':\n        texts.append(msg['content']['text'])\n"
        "    if msg['msg_type'] == 'status' and msg['content']['execution_state'] == 'idle':\n        break\n"
        "argv = open(f'/proc/{k.km.provisioner.process.pid}/cmdline').read().split(chr(0))\n"
        "k.stop()\nprint(''.join(texts).strip())\nprint(argv[1:3])\n")
    done = run_with_the_launcher(probe)
    assert done.returncode == 0, done.stderr
    pytest_full, spec_argv, kernel_says, kernel_argv = done.stdout.strip().splitlines()[-4:]
    assert pytest_full == "100"  # the pytest process itself
    assert "'-m', 'course_grader_kernel', '-f'" in spec_argv and "ipykernel_launcher" not in spec_argv, spec_argv
    assert kernel_says == "100 __main__ 42", kernel_says  # the kernel's thresholds; IPython's own __main__; the cell ran
    assert kernel_argv == "['-m', 'course_grader_kernel']", kernel_argv


def test_a_question_two_capture_imports_neither_torch_nor_the_lab(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (f"from course_staff.grading.in_kernel import harness\nH = harness.Harness({str(tmp_path)!r})\n"
              "H.capture('cell', {'q2.tie_output': lambda: 0.5})\nimport sys\n"
              "print(sorted(m for m in ('torch', 'transformers', 'course_utils.lab', 'course_utils.q1') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
    assert json.loads((tmp_path / "answers.json").read_text())["answers"]["q2.tie_output"]["plain"] == 0.5


@pytest.mark.skipif(sandbox.available() is not None, reason="needs bubblewrap: the read-only bind is the sandbox's")
def test_a_lab_kernel_reads_the_batchs_synthetic_reviews_and_cannot_change_them(tmp_path: Path) -> None:
    source = ("import os, pathlib\nroot = pathlib.Path(os.environ['COURSE_UTILS_CACHE'])\n"
              "assert [p.name.startswith('synthetic-v') for p in root.iterdir()] == [True]\n"
              "assert os.environ['OMP_NUM_THREADS'] == '1'\n"
              "try:\n    (root / 'mine').write_text('x')\nexcept OSError:\n    pass\n"
              "else:\n    raise SystemExit('the cache took a write')\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source, id="probe")])
    (tmp_path / "s.ipynb").write_text(nbformat.writes(nb), encoding="utf-8")
    environment = sandbox.build_environment(run.GRADER_MODULES)
    try:
        cache = environment.tiny_cache()
        assert environment.tiny_cache() == cache  # made once per batch
        env = run.grading_environment(tmp_path, True, (), environment, sandboxed=True, threads=1, lab_cache=cache)
        execution = run.execute(tmp_path / "s.ipynb", 60, env, None, environment, sandboxed=True)
        out = execution.output
        assert [c["kind"] for c in execution.cells] == ["ok"], out
        names = sorted(p.name for p in cache.iterdir())
        assert not (cache / "mine").exists() and len(names) == 1 and names[0].startswith("synthetic-v")
    finally:
        environment.close()


def test_run_slots_let_only_jobs_notebooks_run_at_once_and_the_wait_is_no_phase(tmp_path: Path, monkeypatch) -> None:
    import time
    from concurrent.futures import ThreadPoolExecutor

    from course_staff.grading import submission

    running, most = [0], [0]
    lock = threading.Lock()

    def fake_execute(notebook, *args, **kwargs):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1
        return run.Execution([], 0, False, "", 0.2)

    monkeypatch.setattr(run, "execute", fake_execute)
    settings = submission.Settings({}, scoring.Rubric({}), slots=submission.Slots(2))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1", id="a")])
    with ThreadPoolExecutor(max_workers=6) as pool:
        executions = list(pool.map(lambda i: submission._run_once(nb, tmp_path / str(i), settings), range(6)))
    assert most[0] == 2  # six threads, two slots: never more than two runs at once
    waits = sorted(e.waited for e in executions)
    assert waits[1] < 0.1 and waits[-1] >= 0.35  # two start at once; the last pair waits for two runs
    unlimited = submission.Settings({}, scoring.Rubric({}))  # no slots (one notebook, Gradescope): no wait
    assert submission._run_once(nb, tmp_path / "x", unlimited).waited < 0.05


FONT_PROBE = ("import logging, os\nmessages = []\nclass Keep(logging.Handler):\n"
              "    def emit(self, record):\n        messages.append(record.getMessage())\n"
              "logging.getLogger('matplotlib').addHandler(Keep())\nlogging.getLogger('matplotlib').setLevel(logging.INFO)\n"
              "import matplotlib.font_manager as fm\n"
              "assert fm.findfont('DejaVu Sans').endswith('.ttf')\n"
              "listed = sorted(os.listdir(os.environ['MPLCONFIGDIR']))\n"
              "if any('generated new fontManager' in m for m in messages):\n"
              "    raise SystemExit(f'matplotlib scanned the fonts again; MPLCONFIGDIR has {listed}')\n")


@pytest.mark.skipif(sandbox.available() is not None, reason="needs bubblewrap: the kernel sees the sandbox's fonts")
def test_every_sandboxed_kernel_loads_the_batchs_font_list_and_never_scans_the_fonts_again(tmp_path: Path,
                                                                                            monkeypatch) -> None:
    from course_staff.grading import submission

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(FONT_PROBE, id="fonts")])
    environment = sandbox.build_environment(run.GRADER_MODULES)
    seen = []
    original = run.execute

    def keep_output(notebook, *args, **kwargs):
        execution = original(notebook, *args, **kwargs)
        seen.append(execution.output)
        return execution

    try:
        cache = environment.font_cache()
        assert cache is not None and cache.name.startswith("fontlist-v") and environment.font_cache() == cache
        settings = submission.Settings({}, scoring.Rubric({}), timeout=60, environment=environment)
        monkeypatch.setattr(run, "execute", keep_output)
        execution = submission._run_once(nb, tmp_path / "scratch", settings)
        assert [c["kind"] for c in execution.cells] == ["ok"], seen
        assert execution.returncode == 0, seen
    finally:
        environment.close()


@pytest.mark.skipif(sandbox.available() is not None, reason="needs bubblewrap: the kernel sees the sandbox's fonts")
def test_the_font_probe_does_see_a_rescan_when_the_run_has_no_font_list(tmp_path: Path) -> None:
    """The probe above is not blind: a kernel with an empty MPLCONFIGDIR scans, and the probe says so."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(FONT_PROBE, id="fonts")])
    (tmp_path / "s.ipynb").write_text(nbformat.writes(nb), encoding="utf-8")
    environment = sandbox.build_environment(run.GRADER_MODULES)
    try:
        env = run.grading_environment(tmp_path, True, (), environment, sandboxed=True)
        execution = run.execute(tmp_path / "s.ipynb", 60, env, None, environment, sandboxed=True)
        assert [c["kind"] for c in execution.cells] == ["raised"]
        assert "scanned the fonts again" in execution.output
    finally:
        environment.close()


def test_the_pytest_launcher_ends_with_pytests_exit_status_and_its_whole_output(tmp_path: Path) -> None:
    import subprocess
    import sys

    grader = sandbox.build_environment(run.GRADER_MODULES)
    try:
        for source, status in (("print('all good')", 0), ("raise ValueError('student slip')", 1)):
            nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source, id="a")])
            (tmp_path / "n.ipynb").write_text(nbformat.writes(nb), encoding="utf-8")
            (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
            done = subprocess.run([sys.executable, "-m", "course_grader_pytest", "-p", "no:cacheprovider",
                                   "-p", "nbval.plugin", "--nbval-lax", "--nbval-current-env", "n.ipynb"],
                                  cwd=tmp_path, capture_output=True, text=True, timeout=120,
                                  env={**os.environ, "PYTHONPATH": str(grader.grader), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
            assert done.returncode == status, done.stdout + done.stderr
            summary = done.stdout.strip().splitlines()[-1]  # the last line pytest prints, flushed before the exit
            assert ("1 passed" if status == 0 else "1 failed") in summary, done.stdout
            assert (status == 1) == ("student slip" in done.stdout)
    finally:
        grader.close()
