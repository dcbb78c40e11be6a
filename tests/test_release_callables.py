"""The release checks, never solves: no public callable of the student release answers a function check.

Issue 16, item 6. The release is built (and its wheel, whose package must be the same files), then
imported on its own (``PYTHONPATH`` = the release and site-packages, no editable install, as
tests/test_release.py does). For every probe check, every public callable found in every module of
the release is offered as the student's function: the number of arguments adapted to what it takes,
a returned tuple read as its first element. None may pass the self-check (``verify``, the public
cases) nor the grader's judge (``course_staff.judging.judge_outputs`` on freshly drawn hidden cases,
here, in the staff install, with the outputs the release computed).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from course_utils import checks
from course_staff.authoring.release import write_release
from course_staff.judging import judge_outputs
from course_staff.grading import judge

ROOT = Path(__file__).resolve().parents[1]

OFFER = r'''
import contextlib, importlib, inspect, io, json, os, pkgutil, resource, signal, sys
# A callable handed sizes too large to build fails with MemoryError here instead of meeting the OOM killer.
resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
import course_utils
from course_utils import checks
from course_utils.checks.plain import to_plain

assert course_utils.__file__.startswith(RELEASE), course_utils.__file__
try:
    import course_staff  # noqa: F401
    raise SystemExit("course_staff is importable from the release")
except ImportError:
    pass

found, seen = [], set()
for info in pkgutil.walk_packages(course_utils.__path__, "course_utils."):
    if info.name.endswith("__main__"):
        continue  # running it is the command line, not an import
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            module = importlib.import_module(info.name)
    except BaseException:
        continue
    for name, value in sorted(vars(module).items()):
        if name.startswith("_") or not callable(value) or id(value) in seen:
            continue
        seen.add(id(value))
        found.append((f"{info.name}.{name}", value))


class Late(BaseException):
    pass


def late(signum, frame):
    raise Late()


signal.signal(signal.SIGALRM, late)


def adapted(function):
    """function as an answer: called with as many of the probe's arguments as it takes; a tuple's first item."""
    try:
        params = list(inspect.signature(function).parameters.values())
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        required = sum(p.default is p.empty for p in positional)
        spread = any(p.kind is p.VAR_POSITIONAL for p in params)
    except (TypeError, ValueError):
        required, positional, spread = None, [], True

    def answer(*args):
        if required is None or spread:
            used = args
        elif len(args) > len(positional):
            used = args[:len(positional)]
        elif len(args) < required:
            used = args + (args[-1:] or (1,)) * (required - len(args))
        else:
            used = args
        result = function(*used)
        return result[0] if isinstance(result, tuple) and result else result

    return answer


def quiet(call):
    signal.setitimer(signal.ITIMER_REAL, 2.0)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return call()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


report = {}
for question, hidden in CASES.items():
    spec = checks.specs()[question]
    entries = []
    for name, function in found:
        answer = adapted(function)
        try:
            self_check = bool(quiet(lambda: checks.verify(question, answer)).ok)
        except BaseException as exc:
            self_check = False
        outputs = []
        for case in hidden:
            try:
                outputs.append({"output": to_plain(quiet(lambda: spec.probe(answer, case)))})
            except checks.NoAnswer:
                outputs.append({"no_answer": True})
            except Late:
                outputs.append({"timeout": True})
            except BaseException as exc:
                outputs.append({"error": type(exc).__name__})
        entries.append({"name": name, "self_check": self_check, "outputs": outputs})
    report[question] = entries
with open(OUT, 'w') as handle:  # not stdout: a callable may close it
    json.dump(report, handle)
os._exit(0)  # a callable may have closed stdout: no flush at exit to fail
'''


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("release") / "student"
    write_release(target, ROOT / "answers", ROOT / "pyproject.toml")
    return target


def _wheel_matches_release(release: Path, tmp: Path) -> None:
    source = tmp / "wheel-src"
    shutil.copytree(release, source)
    out = tmp / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    str(source), "-w", str(out)], check=True, capture_output=True, text=True)
    (path,) = out.glob("*.whl")
    with zipfile.ZipFile(path) as archive:
        packaged = {n for n in archive.namelist() if n.startswith("course_utils/") and n.endswith(".py")}
    shipped = {p.relative_to(release).as_posix() for p in (release / "course_utils").rglob("*.py")}
    assert packaged == shipped  # the callables offered below are the wheel's


def test_no_release_callable_passes_a_function_check(release: Path, tmp_path: Path, capsys) -> None:
    _wheel_matches_release(release, tmp_path)
    probes = [q for q, spec in sorted(checks.specs().items()) if spec.kind == "probe"]
    assert probes, "no probe check registered"
    cases = judge.draw_cases(probes, seed=20261129)
    assert sorted(cases) == probes
    env = {"PYTHONPATH": f"{release}:{sysconfig.get_paths()['purelib']}", "COURSE_TINY": "1", "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path), "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = tmp_path / "offered.json"
    script = f"import json\nRELEASE = {str(release)!r}\nOUT = {str(out)!r}\nCASES = json.loads({json.dumps(json.dumps(cases))})\n{OFFER}"
    done = subprocess.run([sys.executable, "-S", "-c", script], env=env, capture_output=True, text=True,
                          cwd=tmp_path, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    passed, counts = [], {}
    for question, entries in report.items():
        counts[question] = len(entries)
        for entry in entries:
            ok, _ = judge_outputs(question, cases[question], entry["outputs"])
            if entry["self_check"] or ok:
                passed.append((question, entry["name"], "self-check" if entry["self_check"] else "judge"))
    with capsys.disabled():
        print("\nrelease callables offered per function check: "
              + ", ".join(f"{q} {n}" for q, n in sorted(counts.items())))
    assert all(n >= 50 for n in counts.values()), counts
    assert passed == []


# ---- value blanks: a release callable handed what the handout gives a blank must not compute its answer ----

OFFER_VALUES = r'''
import sympy as sp
import torch
from course_utils.q3 import attention as att
from course_utils.lab import config as lab_config, model as lab_model, text as lab_text
from course_utils.lab import checks as lab_checks

x1, x2, x3, x4 = sp.symbols("x_1:5", integer=True)
beta = sp.Symbol("beta", positive=True)
X3 = att.orthogonal_tokens(3.0, dim=6, seed=0)[1]
X1 = att.orthogonal_tokens(1.0, dim=6, seed=0)[1]
X_large = att.orthogonal_tokens(30.0, dim=6, seed=0)[1]
config = lab_config.LabConfig.for_mode(True)
tokenizer = lab_text.load_tokenizer(tiny=True)
bert = lab_model.load_bert(True, vocab_size=len(tokenizer), seed=0)
built = lab_model.BERTGRUSentiment(bert, config.hidden_dim, config.output_dim, config.n_layers, config.bidirectional,
                                   config.dropout)
INPUTS = {  # what the handout gives each value blank to work from
    "q2.final_hidden": [((x1, x2, x3, x4),), (x1, x2, x3, x4), (4,)],
    "q2.output_a": [((3, 1, 2, 4),), (3, 1, 2, 4)],
    "q2.output_b": [((5, 2000, 1, 3),), (5, 2000, 1, 3)],
    "q3.norms": [(X3,), (3.0,)],
    "q3.weights": [(X1,), (1.0,)],
    "q3.copies": [(X_large,), (30.0,)],
    "q3.error_order": [(beta,)],
    "lab.vocab_size": [(tokenizer,)],
    "lab.token_ids": [(tokenizer, lab_checks.SAMPLE_SENTENCE), (lab_checks.SAMPLE_SENTENCE,)],
    "lab.special_ids": [(tokenizer,), (tokenizer, list(lab_checks.SPECIAL_TOKENS))],
    "lab.split_sizes": [(config,)],
    "lab.model": [(bert, config), (config,), (bert,)],  # the sizes themselves in order are the answer
    "lab.n_params": [(built,)],
    "lab.n_trainable": [(built,)],
}
assert sorted(INPUTS) == sorted(q for q, s in checks.specs().items() if s.kind != "probe" and q != "lab.label_vocab")
INPUTS["lab.label_vocab"] = [(config,), (tokenizer,)]

report = {}
for question, offers in INPUTS.items():
    passed, tried = [], 0
    for name, function in found:
        for args in offers:
            tried += 1
            try:
                value = quiet(lambda: function(*args))
                value = value[0] if isinstance(value, tuple) and value and question != "q2.final_hidden" else value
                ok = bool(quiet(lambda: checks.verify(question, value)).ok)
            except BaseException:
                ok = False
            if ok:
                passed.append(name)
    report[question] = {"tried": tried, "passed": passed}
with open(OUT, 'w') as handle:
    json.dump(report, handle)
os._exit(0)
'''


def test_no_release_callable_computes_a_value_blank_from_the_handouts_inputs(release: Path, tmp_path: Path,
                                                                              capsys) -> None:
    env = {"PYTHONPATH": f"{release}:{sysconfig.get_paths()['purelib']}", "COURSE_TINY": "1", "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path), "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = tmp_path / "values.json"
    head = OFFER.split("report = {}")[0]  # the release's callables, found as for the function checks
    script = f"import json\nRELEASE = {str(release)!r}\nOUT = {str(out)!r}\n{head}\n{OFFER_VALUES}"
    done = subprocess.run([sys.executable, "-S", "-c", script], env=env, capture_output=True, text=True,
                          cwd=tmp_path, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    with capsys.disabled():
        print("\nrelease callables offered per value blank: "
              + ", ".join(f"{q} {r['tried']}" for q, r in sorted(report.items())))
    assert all(r["tried"] >= 50 for r in report.values()), report
    assert {q: r["passed"] for q, r in report.items() if r["passed"]} == {}


def test_the_release_builds_no_model_without_being_told_every_size():
    """Defaults of the lab's sizes would be the full-mode answer of the model blank (``build_model(bert)``)."""
    import inspect

    from course_utils.lab.model import build_model

    parameters = inspect.signature(build_model).parameters
    sizes = ("hidden_dim", "output_dim", "n_layers", "bidirectional", "dropout")
    assert all(parameters[name].default is inspect.Parameter.empty for name in sizes)
    assert all(parameters[name].kind is inspect.Parameter.KEYWORD_ONLY for name in sizes)
