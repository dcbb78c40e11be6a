"""The answer-key pipeline: markers, handouts, determinism, --check, execution."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from course_utils.cli import main
from course_staff.authoring.keys import build, execute, make_handout
from course_staff.authoring.markers import MarkerError, strip_code
from course_staff import settings

ROOT = Path(__file__).resolve().parents[1]
COURSE = settings.load(ROOT / "course.toml")
new_code, new_md = nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell


def write_master(folder: Path, name: str, cells: list) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=cells)
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


PROBE_CELLS = [
    new_md("# Probe\nWhat is $6 \\times 7$?"),
    new_code("def answer(x):\n    # BEGIN SOLUTION\n    secret_block = x * 7\n    return secret_block\n    # END SOLUTION\n"),
    new_code("value = secret_line(6)  # SOLUTION\ntyped: int = secret_annotated()  # SOLUTION\n"
             "total += secret_aug  # SOLUTION\nsecret_call()  # SOLUTION\nprint(value)"),
    new_code("for i in range(3):\n    # BEGIN SOLUTION\n    secret_indented(i)\n    # END SOLUTION\n    pass"),
    new_md("The secret_markdown answer is 42.", metadata={"tags": ["solution", "keep-me"]}),
    new_md("Reference: secret_reference = 42.", metadata={"tags": ["key-only"]}),
]


def test_every_marker_form_hides_its_secret(tmp_path):
    write_master(tmp_path / "answers", "01_probe", PROBE_CELLS)
    result = build(tmp_path / "answers", tmp_path / "notebooks", run=False)
    assert not result.errors
    text = (tmp_path / "notebooks" / "01_probe.ipynb").read_text()
    assert "secret" not in text and "SOLUTION" not in text
    cells = nbformat.read(tmp_path / "notebooks" / "01_probe.ipynb", as_version=4).cells
    assert cells[3].source == "def answer(x):\n    ...\n"
    assert cells[4].source == "value = ...\ntyped: int = ...\ntotal += ...\n...\nprint(value)"
    assert cells[5].source == "for i in range(3):\n    ...\n    pass"
    assert cells[6].source == "**YOUR ANSWER HERE**" and cells[6].metadata.tags == ["keep-me"]
    assert len(cells) == 2 + len(PROBE_CELLS) - 1  # header + setup, and the key-only cell left out
    nbformat.validate(nbformat.read(tmp_path / "notebooks" / "01_probe.ipynb", as_version=4))


PROVENANCE = {"generated_from": "answers/04_lab.ipynb", "generated_by": "course-utils keys"}


def test_handout_starts_with_the_students_instructions_and_colab_setup_provenance_in_metadata():
    master = nbformat.v4.new_notebook(cells=[new_code("x = 1")], metadata={"course": {"needs_gpu": True}})
    handout = make_handout(master, "04_lab", COURSE)
    first, setup, *_ = handout.cells
    assert first.source.startswith("> Fill in every") and "answers/" not in first.source  # no staff text
    assert "Generated" not in first.source and "master" not in first.source
    assert 'if "google.colab" in sys.modules' in setup.source and "pip" in setup.source
    assert "report_environment(needs_gpu=True);" in setup.source  # printed once, not echoed as the cell's value
    assert handout.metadata["accelerator"] == "GPU"  # Colab opens it on a GPU runtime
    assert handout.metadata["course"] == {"handout": "04_lab", "needs_gpu": True, **PROVENANCE}


def test_the_setup_cell_prints_the_mode_line_once(tmp_path):
    handout = make_handout(nbformat.v4.new_notebook(cells=[new_code("x = 1")]), "02_q", COURSE)
    executed = execute(handout, tmp_path)
    setup = executed.cells[1]
    text = "".join(o.get("text", "") for o in setup.outputs if o.output_type == "stream")
    assert text.count("mode: ") == 1 and not [o for o in setup.outputs if o.output_type == "execute_result"]


def test_handout_of_a_cpu_master_asks_for_no_gpu():
    handout = make_handout(nbformat.v4.new_notebook(cells=[new_code("x = 1")]), "02_q", COURSE)
    assert "accelerator" not in handout.metadata
    assert handout.metadata["course"] == {"handout": "02_q", "generated_from": "answers/02_q.ipynb",
                                          "generated_by": "course-utils keys"}
    assert "report_environment(needs_gpu=False)" in handout.cells[1].source


def test_execute_merges_the_course_metadata(tmp_path):
    master = nbformat.v4.new_notebook(cells=[new_code("x = 1")], metadata={"course": {"needs_gpu": True, "mode": "full"}})
    executed = execute(master, tmp_path)
    assert executed.metadata["course"]["needs_gpu"] is True  # kept, not replaced
    assert executed.metadata["course"]["mode"] == "tiny" and len(executed.metadata["course"]["source_sha256"]) == 64


def test_non_ascii_assignment_target_keeps_its_name():
    assert strip_code("größe = 3 * 4  # SOLUTION") == "größe = ..."


@pytest.mark.parametrize(
    "source, message",
    [
        ("# BEGIN SOLUTION\nsecret = 1\n", "never closed"),
        ("secret = 1\n# END SOLUTION\n", "without a matching"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\nsecret = 1\n# END SOLUTION\n# END SOLUTION", "cannot nest"),
        ('s = """\n# BEGIN SOLUTION\n"""\nsecret = 1\n# END SOLUTION\n', "inside a string literal"),
        ('s = "x  # SOLUTION"\n', "inside a string literal"),
        ("# BEGIN SOLUTION NO PROMPT\nsecret = 1\n# END SOLUTION\n", "unsupported marker"),
        ("secret = (1 +  # SOLUTION\n  2)\n", "complete one-line statement"),
        ("# BEGIN SOLUTION\nx = 1  # SOLUTION\n# END SOLUTION\n", "inside a solution block"),
        ("x = 1  # BEGIN SOLUTION\nsecret = 2\n# END SOLUTION\n", "unsupported marker"),
    ],
)
def test_malformed_markers_are_errors(source, message):
    with pytest.raises(MarkerError, match=message):
        strip_code(source)


def test_malformed_master_names_notebook_and_cell_and_writes_nothing(tmp_path, capsys):
    answers, notebooks = tmp_path / "answers", tmp_path / "notebooks"
    write_master(answers, "01_good", [new_code("x = 1  # SOLUTION")])
    bad = write_master(answers, "02_bad", [new_md("# Bad"), new_code("# BEGIN SOLUTION\nsecret = 1\n")])
    before = bad.read_bytes()
    code = main(["keys", "--no-registry", "--no-execute", "--answers", str(answers), "--notebooks", str(notebooks)])
    err = capsys.readouterr().err
    assert code == 1
    assert "answers/02_bad.ipynb, cell 2 (code)" in err and "never closed" in err
    assert (notebooks / "01_good.ipynb").exists()
    assert not (notebooks / "02_bad.ipynb").exists() and not (answers / "02_bad.md").exists()
    assert bad.read_bytes() == before


def test_markdown_with_code_marker_must_use_the_tag(tmp_path):
    write_master(tmp_path / "a", "01_x", [new_md("# BEGIN SOLUTION\nsecret\n# END SOLUTION")])
    result = build(tmp_path / "a", tmp_path / "n", run=False)
    assert result.errors and "tag the cell 'solution'" in result.errors[0]


def test_regenerating_twice_changes_no_byte(tmp_path):
    answers, notebooks = tmp_path / "answers", tmp_path / "notebooks"
    write_master(answers, "01_probe", PROBE_CELLS)
    first = build(answers, notebooks, run=False)
    snapshot = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    second = build(answers, notebooks, run=False)
    assert first.changed and not second.changed
    assert snapshot == {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}


def test_check_reports_stale_handouts_and_edited_masters(tmp_path, capsys):
    answers, notebooks = tmp_path / "answers", tmp_path / "notebooks"
    master = write_master(answers, "01_probe", PROBE_CELLS)
    args = ["keys", "--no-registry", "--answers", str(answers), "--notebooks", str(notebooks)]
    assert main([*args, "--no-execute"]) == 0
    handout = notebooks / "01_probe.ipynb"
    handout.write_text(handout.read_text().replace("Probe", "Edited by hand"))
    assert main([*args, "--check"]) == 1
    assert f"stale: {handout}" in capsys.readouterr().err
    assert main([*args, "--no-execute"]) == 0 and main([*args, "--check"]) == 1  # never executed
    assert "code changed since it was executed" in capsys.readouterr().err
    assert handout.read_text().count("Edited by hand") == 0 and master.exists()


def test_execution_stores_outputs_and_mode(tmp_path, monkeypatch, capfd):
    monkeypatch.delenv("COURSE_TINY", raising=False)  # the main job defaults to tiny mode
    answers = tmp_path / "answers"
    write_master(answers, "01_run", [
        new_code("from course_utils import mode\nTINY = mode.is_tiny()", metadata={"tags": ["parameters"]}),
        new_code("print('tiny' if TINY else 'full', 6 * 7)  # SOLUTION"),
        new_code("import time\nprint('before')\ntime.sleep(0.5)\nprint('after')"),
    ])
    assert main(["keys", "--no-registry", "--answers", str(answers), "--notebooks", str(tmp_path / "nb")]) == 0
    assert "without encryption" not in capfd.readouterr().err  # the kernel talks over IPC, not TCP
    nb = nbformat.read(answers / "01_run.ipynb", as_version=4)
    assert nb.cells[1].outputs[0].text == "tiny 42\n"
    assert [c.execution_count for c in nb.cells] == [1, 2, 3]
    # output that arrives in several messages is stored as one stream, so keys are reproducible
    assert [o.text for o in nb.cells[2].outputs] == ["before\nafter\n"]
    assert nb.metadata.course.mode == "tiny"
    assert main(["keys", "--no-registry", "--check", "--answers", str(answers), "--notebooks", str(tmp_path / "nb")]) == 0
    key = (answers / "01_run.md").read_text()
    assert "tiny 42" in key and "mode: tiny" in key
    handout = json.loads((tmp_path / "nb" / "01_run.ipynb").read_text())
    assert all(not c.get("outputs") for c in handout["cells"])


def test_committed_keys_and_handouts_are_up_to_date():
    result = build(ROOT / "answers", ROOT / "notebooks", check=True)
    assert not result.errors, result.errors
    assert not result.changed, f"stale (run `course-utils keys`): {result.changed}"


def test_a_failing_master_is_reported_with_its_traceback_and_the_others_still_run(tmp_path, capsys):
    answers = tmp_path / "answers"
    write_master(answers, "01_fails", [new_code("def inner():\n    raise KeyError('deep')\ninner()")])
    write_master(answers, "02_runs", [new_code("print(6 * 7)")])
    assert main(["keys", "--no-registry", "--answers", str(answers), "--notebooks", str(tmp_path / "nb")]) == 1
    err = capsys.readouterr().err
    assert "01_fails.ipynb: CellExecutionError" in err and "inner()" in err and "KeyError: 'deep'" in err
    assert nbformat.read(answers / "02_runs.ipynb", as_version=4).cells[0].outputs[0].text == "42\n"


def test_an_unexpected_error_is_not_swallowed(tmp_path, monkeypatch):
    from course_staff.authoring import keys

    write_master(tmp_path / "answers", "01_x", [new_code("x = 1")])
    monkeypatch.setattr(keys.render, "markdown", lambda *a: 1 / 0)  # a bug in the pipeline itself
    with pytest.raises(ZeroDivisionError):
        build(tmp_path / "answers", tmp_path / "nb", run=False)


def test_machine_dependent_cells_keep_their_outputs_until_the_code_changes(tmp_path):
    answers = tmp_path / "answers"
    timing = new_code("import time\nprint(time.perf_counter_ns())", metadata={"tags": ["machine-dependent"]})
    write_master(answers, "01_t", [timing, new_code("import time\nprint('also', time.perf_counter_ns() > 0)")])
    build(answers, tmp_path / "nb")
    first = (answers / "01_t.ipynb").read_bytes()
    assert not build(answers, tmp_path / "nb").changed and (answers / "01_t.ipynb").read_bytes() == first
    measured = nbformat.read(answers / "01_t.ipynb", as_version=4).cells[0].outputs[0].text
    assert build(answers, tmp_path / "nb", remeasure=True).changed  # a new measurement on request
    assert nbformat.read(answers / "01_t.ipynb", as_version=4).cells[0].outputs[0].text != measured
    nb = nbformat.read(answers / "01_t.ipynb", as_version=4)
    nb.cells[1].source += "\nprint('edited')"
    nbformat.write(nb, answers / "01_t.ipynb")
    remeasured = nbformat.read(answers / "01_t.ipynb", as_version=4).cells[0].outputs[0].text
    build(answers, tmp_path / "nb")  # the code changed: every output is new
    nb = nbformat.read(answers / "01_t.ipynb", as_version=4)
    assert nb.cells[0].outputs[0].text != remeasured and nb.cells[1].outputs[0].text == "also True\nedited\n"


@pytest.mark.parametrize("extra, message", [
    (["--only", "99_nothing"], "no master named '99_nothing'"),
    (["--answers", "no-such-folder"], "no no-such-folder/ here"),
])
def test_keys_usage_errors_exit_2_with_one_line(tmp_path, capsys, extra, message):
    write_master(tmp_path / "answers", "01_x", [new_code("x = 1")])
    args = ["keys", "--no-registry", "--no-execute", "--answers", str(tmp_path / "answers"), "--notebooks", str(tmp_path / "nb")]
    assert main(args + extra) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("course-utils keys: ") and message in err


def _without_pixels(path: Path) -> dict:
    """A notebook's JSON with every PNG's bytes left out (they follow matplotlib's release, not the CPU)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop("image/png", None)
    return nb


@pytest.mark.slow
def test_keys_made_on_another_cpu_path_are_the_same(tmp_path):
    """`make keys` on another machine changes nothing: the masters are executed twice, each on a copy, once
    as `make keys` runs here and once with torch's kernels held to AVX2 and one thread (on an x86 machine
    an arithmetic that rounds differently: the lab's validation accuracy after epoch 2 moves by several
    points). Every output that differs must be in a cell tagged machine-dependent, whose stored output
    is kept. Compared: the keys' text and outputs, the rendered Markdown and handouts byte for byte, and
    the set of figures (PNG bytes follow the matplotlib release, not the CPU). Both runs use this
    environment, so the test holds with any toolchain in the declared ranges."""
    import os
    import shutil
    import subprocess
    import sys

    env = {name: value for name, value in os.environ.items() if name != "MPLBACKEND"}  # as `make keys` runs:
    env["COURSE_TINY"] = "1"  # inline figures, tiny mode
    other_cpu = dict(env, ATEN_CPU_CAPABILITY="avx2", MKL_CBWR="AVX2", ONEDNN_MAX_CPU_ISA="AVX2",
                     OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    runs = {"here": (tmp_path / "here", env), "other": (tmp_path / "other", other_cpu)}
    procs = {}
    for name, (root, run_env) in runs.items():
        for folder in ("answers", "notebooks"):
            shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copyfile(ROOT / "course.toml", root / "course.toml")
        procs[name] = subprocess.run([sys.executable, "-m", "course_utils", "keys", "--no-registry"], cwd=root, env=run_env,
                                     capture_output=True, text=True, timeout=900)
        assert procs[name].returncode == 0, procs[name].stderr[-3000:]

    def files(base: Path) -> list[Path]:
        return sorted(p.relative_to(base) for folder in ("answers", "notebooks") for p in (base / folder).rglob("*")
                      if p.is_file())

    here, other = tmp_path / "here", tmp_path / "other"
    assert files(here) == files(other), set(files(here)) ^ set(files(other))
    changed = [str(rel) for rel in files(here) if rel.suffix != ".png" and (
        _without_pixels(here / rel) != _without_pixels(other / rel) if rel.suffix == ".ipynb"
        else (here / rel).read_bytes() != (other / rel).read_bytes())]
    assert changed == [], (changed, procs["other"].stdout[-2000:])


@pytest.mark.slow
def test_keys_builds_the_registry_first_and_ends_with_a_summary(tmp_path, capsys):
    """The check registry is built by keys itself (as ``python -m course_staff.registry --write`` would write it),
    and the last lines say what was written or left: keys, handouts, figures, registry."""
    import shutil

    from course_staff import registry
    from course_utils import checks

    answers, notebooks, target = tmp_path / "answers", tmp_path / "nb", tmp_path / "checks.json"
    write_master(answers, "01_probe", PROBE_CELLS)
    shutil.copyfile(checks.REGISTRY, target)  # the pinned entries come from the file there
    target.write_text(target.read_text() + "\n")  # stale
    args = ["keys", "--no-execute", "--answers", str(answers), "--notebooks", str(notebooks), "--registry", str(target)]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "building the check registry ..."
    assert target.read_text() == registry.dump_registry(registry.build_registry(checks.load_registry(target)))
    assert out[-4:] == [f"keys:     1 written, 1 unchanged ({answers})", f"handouts: 1 written ({notebooks})",
                        f"figures:  none ({answers / 'figures'})", f"registry: written ({target})"]
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[-4:] == [
        f"keys:     2 unchanged ({answers})", f"handouts: 1 unchanged ({notebooks})",
        f"figures:  none ({answers / 'figures'})", f"registry: unchanged ({target})"]
    main([*args[:1], "--check", *args[2:]])  # 1: the probe master was never executed (not the registry's doing)
    assert f"registry: up to date ({target})" in capsys.readouterr().out.splitlines()
    emptied = json.dumps({"iterations": checks.ITERATIONS, "checks": {}})
    target.write_text(emptied)
    assert main([*args[:1], "--check", *args[2:]]) == 1
    captured = capsys.readouterr()
    assert f"registry: stale ({target})" in captured.out and f"stale: {target}" in captured.err
    assert target.read_text() == emptied  # --check writes nothing
    target.write_text("{}")
    assert main(args) == 1
    captured = capsys.readouterr()
    assert f"error: {target}: not a check registry (KeyError: 'checks'): restore the committed one" in captured.err
    assert captured.out.splitlines()[-2:] == [f"registry: not built (error above) ({target})", "errors:   1 (above)"]
