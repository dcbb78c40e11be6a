"""The students' runtime: every handout on Colab's Python 3.13 stack, then graded as Colab saves it.

Run by ``make test-colab`` (skipped elsewhere): ``ci/colab_env.py`` has built ``COLAB_VENV`` (Colab's
packages at Colab's versions, from ``../shared/colab/pip-freeze.gpu.txt``) and installed the student release
``COLAB_RELEASE`` into it as a handout's first cell does. Here, with that venv as the notebooks' kernel:

- every handout filled with the walkthrough's right answers: every check says "correct.", and nothing
  warns about progress bars (``IProgress not found``) or fails to import;
- the wrong and the blank walkthroughs print, check by check, the very lines they print in the staff
  environment (Python 3.11, ``tests/test_walkthrough.py``);
- the right walkthroughs, saved as Colab saves them (``tests/colab_format.py``: a 4.5 handout saved, a saved
  copy, cells pasted into a new notebook), graded by ``course-utils grade`` in the staff environment in tiny
  mode: full marks, and the pasted one's row says in one line what happened and what to resubmit.

The executed notebooks, the report and the lines go to ``COLAB_OUT`` (default test-artifacts/colab/).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_staff.formats.handouts import CHECK_LINE
from tests import colab_format, walkthrough
from tests.test_walkthrough import CASES

pytestmark = [pytest.mark.colab, pytest.mark.skipif(not os.environ.get("COLAB_VENV"),
                                                    reason="the Colab runtime: make test-colab")]
ROOT = walkthrough.ROOT
KERNEL = "colab-py313"
_WHERE = ("import sys, platform, course_utils, importlib.metadata as m\n"
          "print('RUNTIME=' + repr((platform.python_version(), sys.prefix, course_utils.__file__, "
          "m.version('torch'), m.version('transformers'))))")


def _venv() -> Path:
    return Path(os.environ["COLAB_VENV"]).resolve()


def _out() -> Path:
    out = Path(os.environ.get("COLAB_OUT", ROOT / "test-artifacts" / "colab")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="module")
def colab_kernel(tmp_path_factory):
    """A kernelspec running the Colab venv's ipykernel, found through JUPYTER_PATH."""
    spec = tmp_path_factory.mktemp("jupyter") / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [str(_venv() / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Colab (Python 3.13)", "language": "python"}))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(spec.parent.parent), old]))
    yield KERNEL
    if old is None:
        os.environ.pop("JUPYTER_PATH")
    else:
        os.environ["JUPYTER_PATH"] = old


def _handout(name: str) -> nbformat.NotebookNode:
    return nbformat.read(Path(os.environ["COLAB_RELEASE"]) / "notebooks" / f"{name}.ipynb", as_version=4)


def walk(nb: nbformat.NotebookNode, cwd: Path, kernel: str, timeout: int = 900, may_stop: bool = False):
    """``walkthrough.walk`` on ``kernel``: the executed notebook, each check's line, the verdicts, the kernel's
    Python and packages, and every stderr text. With ``may_stop``, a cell that raises stops the run there,
    as Run all does (the last two cells, the walkthrough's own, still run)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.cells.append(nbformat.v4.new_code_cell(walkthrough._VERDICTS_CELL, id="walkthrough-verdicts"))
    nb.cells.append(nbformat.v4.new_code_cell(_WHERE, id="walkthrough-runtime"))
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, resources={"metadata": {"path": str(cwd)}})
    client.reset_execution_trackers()
    with client.setup_kernel(env={**env, "COURSE_TINY": "1", "MPLBACKEND": "Agg"}):
        for index, cell in enumerate(nb.cells[:-2]):
            try:
                client.execute_cell(cell, index)
            except CellExecutionError:
                if not may_stop:
                    raise
                break
        for index in (len(nb.cells) - 2, len(nb.cells) - 1):
            client.execute_cell(nb.cells[index], index)
    messages = {}
    for cell in nb.cells:
        if walkthrough.CHECK_TAG in cell.metadata.get("tags", []):
            for line in walkthrough._stdout(cell).splitlines():
                messages[line.split(":", 1)[0]] = line
    tail = {line.split("=", 1)[0]: line.split("=", 1)[1]
            for cell in nb.cells[-2:] for line in walkthrough._stdout(cell).splitlines() if "=" in line}
    stderr = [o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stderr"]
    executed = nbformat.from_dict(json.loads(json.dumps(nb)))
    executed.cells = executed.cells[:-2]
    return executed, messages, json.loads(tail["VERDICTS"]), eval(tail["RUNTIME"]), stderr


def as_a_student_fills(handout: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """``walkthrough.fill``, keeping each answer cell's ``# NBVAL_CHECK_OUTPUT`` line: a student replaces the
    ``...``, not the line above it (the tables give the answer alone)."""
    sources = {cell.id: cell.source for cell in handout.cells}
    kept = {cell_id: (f"# NBVAL_CHECK_OUTPUT\n{source}" if CHECK_LINE.search(sources[cell_id]) and not CHECK_LINE.search(source)
                      else source) for cell_id, source in answers.items()}
    return walkthrough.fill(handout, kept)


@pytest.fixture(scope="module")
def right(colab_kernel, tmp_path_factory):
    """Every handout walked with its right answers on the Colab kernel: name -> walk()."""
    results = {}
    for name in sorted(CASES):
        nb = as_a_student_fills(_handout(name), CASES[name][0])
        results[name] = walk(nb, tmp_path_factory.mktemp(name), colab_kernel)
    return results


@pytest.mark.parametrize("name", sorted(CASES))
def test_right_answers_pass_every_check_on_colab(right, name):
    executed, messages, verdicts, runtime, stderr = right[name]
    ids = walkthrough.check_ids(_handout(name))
    version, prefix, package, torch, transformers = runtime
    assert Path(prefix).resolve() == _venv() and Path(package).is_relative_to(_venv()), runtime  # the release, not the repo
    assert version.startswith("3.13.")
    assert messages == {q: f"{q}: correct." for q in ids}
    assert verdicts == {q: True for q in ids}
    assert not [t for t in stderr if "IProgress" in t or "TqdmExperimentalWarning" in t], stderr
    lines = [f"python {version} (Colab: 3.13.15), torch {torch}, transformers {transformers}: "
             f"{len(ids)} checks, {sum(verdicts.values())} correct.", *messages.values()]
    (_out() / f"{name}.checks.txt").write_text("\n".join(lines) + "\n")
    nbformat.write(executed, _out() / f"{name}.executed.ipynb")


@pytest.mark.parametrize("table", ["wrong", "blank"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_wrong_and_blank_answers_say_what_they_say_on_python_311(colab_kernel, name, table, tmp_path):
    handout = _handout(name)
    nb = walkthrough.fill(handout, CASES[name][1]) if table == "wrong" else handout
    (tmp_path / "colab").mkdir()
    (tmp_path / "staff").mkdir()
    stops = table == "blank"  # an empty blank stops the handout at the first cell that needs it (Run all)
    _, on_colab, colab_verdicts, _, _ = walk(nb, tmp_path / "colab", colab_kernel, may_stop=stops)
    staff = walkthrough.walk(nb, tmp_path / "staff", may_stop=stops)  # this environment's own kernel: Python 3.11
    assert on_colab == staff.messages
    assert colab_verdicts == staff.verdicts and not any(staff.verdicts.values())
    if not stops:
        assert staff.verdicts == {q: False for q in walkthrough.check_ids(handout)}


def test_graded_as_colab_saves_them_full_marks(right, tmp_path):
    """The right walkthroughs as Colab saves them, graded in this environment: every check's points."""
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    for name, (executed, *_rest) in right.items():
        data = json.loads(nbformat.writes(executed))
        (submissions / f"{name}.ipynb").write_text(colab_format.dumps(colab_format.saved(data)))
    copied, pasted = "02_rnn_recurrence", "03_self_attention"
    data = json.loads(nbformat.writes(right[copied][0]))
    (submissions / f"Copy of {copied}.ipynb").write_text(colab_format.dumps(
        colab_format.saved_copy(data, "course-dl/dl-assignment3-student", f"notebooks/{copied}.ipynb")))
    data = json.loads(nbformat.writes(right[pasted][0]))
    (submissions / "Untitled0.ipynb").write_text(colab_format.dumps(colab_format.pasted(data)))
    report = _out() / "report.csv"
    cli = Path(sys.executable).with_name("course-utils")
    done = subprocess.run([str(cli), "grade", str(submissions), "--handouts", str(Path(os.environ["COLAB_RELEASE"]) / "notebooks"),
                           "--report", str(report), "--timeout", "900", "--jobs", "2"],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, "COURSE_TINY": "1"})
    rows = {row["file"]: row for row in csv.DictReader(report.open())}
    summary = [f"{f}: {r['status']} {r['score']}/{r['max_score']} ({r['handout']}, mode {r['mode']}, "
               f"{r['seconds']} s) {r['detail']}" for f, r in sorted(rows.items())]
    (_out() / "grading.txt").write_text("\n".join(summary) + "\n")
    assert len(rows) == len(CASES) + 2, done.stdout + done.stderr
    for file, row in rows.items():
        assert row["status"] == "pass" and float(row["score"]) == float(row["max_score"]) > 0, summary
        assert "suspicious" not in row["detail"] and "NBVAL" not in row["detail"], row["detail"]
    assert rows[f"Copy of {copied}.ipynb"]["handout"] == copied
    line = rows["Untitled0.ipynb"]["detail"]
    assert rows["Untitled0.ipynb"]["handout"] == pasted and "cell ids gone" in line and "resubmit" in line, line
    assert "\n" not in line
    for file in rows:
        if file != "Untitled0.ipynb":
            assert "cell ids gone" not in rows[file]["detail"], rows[file]


def test_the_labs_progress_bars_are_colab_widgets(colab_kernel, tmp_path):
    """The lab's bars (``with_progress``, as ``train_epoch`` draws them in full mode) in Colab's kernel:
    ipywidgets' progress widget, and nothing on stderr (no "IProgress not found")."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from course_utils.lab.train import with_progress\nfor _ in with_progress(range(3), 'train', True):\n    pass")])
    NotebookClient(nb, timeout=300, kernel_name=colab_kernel, resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs), outputs
    assert not [o for o in outputs if o.get("name") == "stderr"], outputs


VARIANT_TERM = "fall-2027"


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_student_of_another_variant_passes_every_check_on_colab(colab_kernel, name, tmp_path, monkeypatch):
    """Variants on, on Colab's stack: a student whose id gives them another variant than 0 of the handout's
    question types it in the first cell, fills the blanks with code that reads the printed numbers (the master's
    solutions), and every check says "correct." for their own variant."""
    from course_staff.formats.handouts import filled_from_master, load_handouts
    from course_utils import checks, variants

    handout = load_handouts(Path(os.environ["COLAB_RELEASE"]) / "notebooks")[name]
    prefixes = {checks.canonical_id(q).split(".", 1)[0] for q in handout.check_ids}
    student = next(str(n) for n in range(300000, 400000)
                   if all(variants.number_for(p, str(n), VARIANT_TERM) not in (0, None) for p in prefixes))
    nb = filled_from_master(handout, nbformat.read(ROOT / "answers" / f"{name}.ipynb", as_version=4))
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        cell.outputs = []  # run afresh, as the student runs it
        if 'STUDENT_ID = ""' in cell.source:
            cell.source = cell.source.replace('STUDENT_ID = ""', f'STUDENT_ID = "{student}"')
    monkeypatch.setenv(variants.TERM_ENV, VARIANT_TERM)
    executed, messages, verdicts, runtime, _ = walk(nb, tmp_path, colab_kernel)
    assert runtime[0].startswith("3.13.")
    assert messages == {q: f"{q}: correct." for q in handout.check_ids}, messages
    shown = "".join(walkthrough._stdout(c) for c in executed.cells)
    for prefix in prefixes:
        number = variants.number_for(prefix, student, VARIANT_TERM)
        assert f"{prefix}: variant {number} of {variants.count(prefix)}, for STUDENT_ID '{student}'" in shown
