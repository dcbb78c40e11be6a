"""The student release: deterministic, installable, works without instructor code, and answers nothing.

The leak search builds the release and its wheel and looks for every registered answer in the
renderings a student would meet: digits with and without separators, rounded decimals, sympy's
text and LaTeX, and the statements in words and formulas written out below by hand.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import sympy as sp

from course_utils import checks
from course_utils.checks import _forms
from course_staff import settings
from course_staff.authoring.release import write_release
from course_staff.keys import solutions
from course_utils import variants

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = settings.load(ROOT / "course.toml").repository  # the release's own repository (course.toml)

#: Full-mode answers pinned in the registry (they need the real vocabulary and archive): the original lab's printed figures.
PINNED = {"lab.token_ids": [7592, 2088, 2129, 2024, 2017, 1029], "lab.split_sizes": [17500, 7500, 25000]}

#: Answers in words and formulas, as a key or a hint could state them (spaces are matched loosely).
STATEMENTS = {
    "q2 recurrence": ["x_t - h_{t-1}", "x_t - h_t-1", "x - h_prev", "x-h_prev", "1000 h_t", "1000*h_t", "1000 * h_t",
                      r"1000\cdot h_t", r"1000\, h_t", r"\sigma(1000 h", "sigmoid(1000 * h", "sigmoid(1000*h",
                      "sigmoid(1000 h"],
    "q2.final_hidden": ["x_2 + x_4 - x_1 - x_3", "x2 + x4 - x1 - x3", "x_2 - x_1 + x_4 - x_3", "x_{2} + x_{4}",
                        "-x_1 + x_2 - x_3 + x_4", "-x1 + x2 - x3 + x4", "(x_2 + x_4) - (x_1 + x_3)"],
    "q2.closed_form": ["x_{2k} - x_{2k-1}", "x[2*k] - x[2*k - 1]", "x[2 * k] - x[2 * k - 1]", "-x[2*k - 1] + x[2*k]",
                       "(-1)^{T-t}", "(-1)**(T - t)", "x_2k - x_2k-1"],
    "q2 rule": ["even-position sum", "sum of even-position", "even positions", "odd-position sum is larger",
                "exactly 0.5", "y_4 = 0.5", r"\approx 1 when", "~1 when"],
    "q3.norms": ["sqrt(2)*beta", r"\sqrt{2}\,\beta", r"\sqrt{2}\beta", r"\sqrt2", "√2", "sqrt(2) beta", "2*beta**2",
                 r"2\beta^2", "3*sqrt(2)"],
    "q3.copies": ["approximates its own", "its own input", r"y_i \approx x_i", "y_i ≈ x_i", "y_i = x_i", "copies itself",
                  r"y_1 \approx x_1", "y1 ≈ x1", "['x1', 'x2', 'x3']"],
    "q3.error_order": [r"e^{-\beta^2}", r"e^{-\beta^{2}}", "exp(-beta**2)", "exp(-beta^2)", "e^(-beta^2)", "e^(-β²)",
                       "exp(-β²)", "e^{-β^2}", r"\exp(-\beta^2)", "beta e^(", r"\beta e^{"],
}


def _number_forms(value: float, fine: bool = False) -> list[str]:
    """A number as a student would meet it: rounded decimals; integers from 1000 up with any separator.

    0, 0.5 and 1, integers under 1000 and round ones (1000, 4000) occur everywhere in code; their answers are
    searched in words, and a sequence that holds one as a whole (``renderings``). ``fine``: floats to 4 decimals or
    more only: with every variant's answers searched, their 2-decimal forms would cover most 2-decimal numbers.
    """
    if value in (0.0, 0.5, 1.0):
        return []
    if float(value).is_integer():
        n = int(value)
        if len(str(abs(n)).rstrip("0")) == 1:  # 1000, 4000: round numbers, as common in code as 0 and 1
            return []
        return [str(n), f"{n:,}", f"{n:_}", f"{n:,}".replace(",", " "), f"{n:,}".replace(",", r"{,}")] \
            if abs(n) >= 1000 else []
    return [f"{value:.{p}f}" for p in ((4, 6) if fine else (2, 3, 4, 6))]


def renderings(value: object, question: str | None = None, fine: bool = False) -> list[str]:
    """Every rendering of one registered answer: numbers, sequences of ids, sympy text and LaTeX, dicts.

    A function (``question`` names its check) is rendered by the numbers its check hashes.
    """
    if callable(value) and not isinstance(value, sp.Basic):
        forms = checks.candidate_forms(checks.specs()[question], value)  # a function, or a model (lab.model)
        numbers = [float(entry[0]) for entry in forms if re.fullmatch(r"-?\d+(\.\d+)?", entry[0])]
        return [f for number in numbers for f in _number_forms(number, fine)]
    if isinstance(value, sp.Basic):
        return [str(value), sp.sstr(value), sp.latex(value)]
    if isinstance(value, dict):
        return [str(value), str(value).replace("'", '"')]
    flat = [float(v) for v in _forms.flat(value)]
    forms = [f for v in flat for f in _number_forms(v, fine)]
    if len(flat) > 1 and all(v.is_integer() for v in flat) and max(map(abs, flat)) >= 100:
        ints = [str(int(v)) for v in flat]
        forms += [", ".join(ints), ",".join(ints)]
    return forms


def all_renderings() -> dict[str, list[str]]:
    """Check id (or statement name) -> the renderings to search for, over both modes and every variant of every
    question (``course_utils.variants``: each variant's answers are as secret as variant 0's)."""
    found: dict[str, set[str]] = {}
    for tiny in (True, False):
        for question, value in {**solutions(tiny), **({} if tiny else PINNED)}.items():
            found.setdefault(question, set()).update(renderings(value, question))
        for prefix in checks.parts():
            for number in range(1, variants.count(prefix)):
                with variants.pinned(prefix, number):
                    for question, value in solutions(tiny).items():
                        if question.startswith(prefix + "."):
                            found.setdefault(question, set()).update(renderings(value, question, fine=True))
    for name, texts in STATEMENTS.items():
        found.setdefault(name, set()).update(texts)
    return {q: sorted(texts) for q, texts in found.items() if texts}


def _pattern(text: str) -> re.Pattern:
    """``text`` with any run of spaces optional, not inside a longer number or word."""
    body = r"\s*".join(re.escape(part) for part in text.split())
    return re.compile(rf"(?<![\w.]){body}(?![\w])" if text[-1].isalnum() else rf"(?<![\w.]){body}")


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("release") / "student"
    write_release(target, ROOT / "answers", ROOT / "pyproject.toml")
    return target


@pytest.fixture(scope="module")
def wheel(release, tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("wheel-src") / "student"
    shutil.copytree(release, source)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    str(source), "-w", str(out)], check=True, capture_output=True, text=True)
    (path,) = out.glob("*.whl")
    return path


def test_the_release_holds_handouts_package_readme_and_no_instructor_code(release):
    files = sorted(p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file())
    assert {"README.md", "pyproject.toml", "course_utils/data/checks.json", "course_utils/checks/__init__.py"} <= set(files)
    assert [f for f in files if f.startswith("notebooks/")] == \
        [f"notebooks/{p.name}" for p in sorted((ROOT / "answers").glob("[0-9][0-9]_*.ipynb"))]
    assert not [f for f in files if f.startswith("course_staff")]
    assert not [f for f in files if f.startswith("answers") or "__pycache__" in f]
    readme = (release / "README.md").read_text()
    for name in ("01_cnn_vs_rnn", "02_rnn_recurrence", "03_self_attention", "04_bert_gru_sentiment"):
        assert f"colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/{name}.ipynb" in readme
    for handout in (release / "notebooks").glob("*.ipynb"):
        assert f"git+https://github.com/{REPOSITORY}'" in handout.read_text()  # the install line: the release


def test_the_same_masters_give_the_same_bytes(release, tmp_path):
    again = tmp_path / "again"
    write_release(again, ROOT / "answers", ROOT / "pyproject.toml")
    read = lambda d: {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}  # noqa: E731
    assert read(again) == read(release)
    (again / "course_utils" / "stale.py").write_text("old")
    write_release(again, ROOT / "answers", ROOT / "pyproject.toml")  # over an earlier release: extras removed
    assert read(again) == read(release)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit, match="neither empty nor an earlier release"):
        write_release(tmp_path / "other", ROOT / "answers", ROOT / "pyproject.toml")


def test_the_release_package_checks_but_cannot_answer(release):
    """Import the release itself (no editable install, no .pth files): checks work, key functions are absent."""
    script = """
import torch
import course_utils, course_utils.checks as c
from course_utils.q2 import recurrence
from course_utils.q3 import attention
from course_utils import cli
assert course_utils.__file__.startswith(RELEASE), course_utils.__file__
for module, name in ((recurrence, "final_hidden"), (recurrence, "describe_final_output"), (attention, "symbolic_attention"),
                     (recurrence, "simulate"), (recurrence, "hidden_step"), (recurrence, "sigmoid"),
                     (attention, "self_attention"), (attention, "attention")):
    try:
        getattr(module, name)
        raise SystemExit(f"{name} is reachable")
    except AttributeError:
        pass
try:
    import course_staff
    raise SystemExit("course_staff is importable")
except ImportError:
    pass
c.check("q3.attention", lambda X: torch.softmax(X @ X.T, dim=1) @ X)
c.check("q2.tie_output", 0.5)
c.check("q3.norms", ...)
print(sorted(cli.available()), c.verdicts())
"""
    env = {"PYTHONPATH": f"{release}:{sysconfig.get_paths()['purelib']}", "COURSE_TINY": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-S", "-c", f"RELEASE = {str(release)!r}\n{script}"], env=env,
                          capture_output=True, text=True, cwd=release)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "q3.attention: correct.", "q2.tie_output: correct.",
        "q3.norms: no answer yet: replace the ... above with your answer, then run this cell again.",
        "['predict'] {'q3.attention': True, 'q2.tie_output': True, 'q3.norms': False}"]  # lab: staff install


def test_no_registered_answer_in_the_release_or_the_wheel(release, wheel):
    texts = {p.relative_to(release).as_posix(): p.read_text(encoding="utf-8", errors="replace")
             for p in release.rglob("*") if p.is_file()}
    with zipfile.ZipFile(wheel) as archive:
        texts.update({f"wheel:{n}": archive.read(n).decode("utf-8", errors="replace") for n in archive.namelist()})
    assert "wheel:course_utils/data/checks.json" in texts and any(n.startswith("notebooks/") for n in texts)
    assert not [n for n in texts if n.startswith("wheel:course_staff")]
    searched = all_renderings()
    assert {"q2.final_hidden", "q3.norms", "q3.weights", "q3.error_order", "lab.n_params", "lab.token_ids"} <= set(searched)
    with variants.pinned("q3", 1):  # another variant's answers are searched too
        other = set(renderings(solutions(True)["q3.norms"], "q3.norms", fine=True))
    assert other and other <= set(searched["q3.norms"]) and other - set(renderings(solutions(True)["q3.norms"]))
    hits = [(question, text, name) for question, forms in searched.items() for text in forms
            for name, content in texts.items() if _pattern(text).search(content)]
    assert hits == [], "\n".join(map(str, hits))


def test_the_search_finds_answers_where_they_are():
    """The search is not blind: it finds each kind of rendering in text that states it."""
    found = lambda text, content: bool(_pattern(text).search(content))  # noqa: E731
    assert found("112,241,409", "total: 112,241,409 parameters") and found("30522", "vocab 30522.")
    assert found(r"e^{-\beta^2}", r"error $\approx e^{-\beta^2}$") and found("x_2 + x_4 - x_1 - x_3", "h = x_2 + x_4 -x_1 - x_3")
    assert not found("2759169", "27591690")
    forms = renderings(112241409) + renderings([0.6652, 0.2447]) + renderings(sp.sqrt(2) * sp.Symbol("beta"))
    forms += renderings(lambda beta: 2.0 ** (-beta**2), "q3.error_order")  # a function: the number its check hashes
    assert {"112,241,409", "112 241 409", "0.67", "0.245", "sqrt(2)*beta", r"\sqrt{2} \beta", "0.700"} <= set(forms)


#: Shapes that do a blank's work (issue 38), searched in every released Python file and in every code cell of
#: the handouts: a complete training step (the lab's train_epoch), a parameter count of a whole model (the
#: lab's Q2b/Q2c) and attention weights computed outright (Q3's weights blank and most of attend).
BLANKS_WORK = {
    "a training step (zero_grad, backward, step)": [r"\.zero_grad\(", r"\.backward\(", r"\.step\("],
    "a parameter count of a whole model": [r"numel\(\)\s+for\s+\w+\s+in\s+\w+\.parameters\(\)"],
    "a counting helper": [r"def\s+\w*count_param"],
    "attention weights by softmax": [r"softmax\("],
}


def _released_code(release: Path) -> dict[str, str]:
    """Released Python files (whole) and handouts (their code cells only: the statements may name softmax)."""
    import json

    texts = {p.relative_to(release).as_posix(): p.read_text() for p in release.rglob("*.py")}
    for handout in sorted((release / "notebooks").glob("*.ipynb")):
        cells = json.loads(handout.read_text())["cells"]
        for cell in cells:
            if cell["cell_type"] == "code":
                texts[f"notebooks/{handout.name}#{cell.get('id')}"] = "".join(cell["source"])
    return texts


def blanks_work_in(texts: dict[str, str]) -> list[tuple[str, str]]:
    """(shape, where) for each text holding every pattern of a shape."""
    return [(shape, name) for shape, patterns in BLANKS_WORK.items() for name, text in texts.items()
            if all(re.search(p, text) for p in patterns)]


def test_nothing_released_does_a_blanks_work(release):
    """No released function trains a model for the student, counts a model's parameters, or ships a cell that
    computes attention weights; the release cannot count the lab's parameters by any name it exports."""
    texts = _released_code(release)
    assert any(n.startswith("notebooks/03_self_attention.ipynb#") for n in texts)
    assert blanks_work_in(texts) == []
    script = """
import importlib, pkgutil, course_utils
found = []
for info in pkgutil.walk_packages(course_utils.__path__, "course_utils."):
    if info.name.endswith("__main__"):
        continue
    module = importlib.import_module(info.name)
    found += [f"{info.name}.{name}" for name in vars(module) if "count_param" in name or name == "AdamSteps"]
print(found)
"""
    env = {"PYTHONPATH": f"{release}:{sysconfig.get_paths()['purelib']}", "COURSE_TINY": "1", "PATH": "/usr/bin:/bin",
           "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-S", "-c", script], env=env, capture_output=True, text=True, cwd=release)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_blanks_work_search_finds_the_old_shapes():
    """The search is not blind: the code issue 38 found (a training loop, count_parameters, Q3's demo) is caught."""
    old = {
        "course_utils/q1/cnn_vs_rnn.py": "loss = F.cross_entropy(model(x), y)\noptimizer.zero_grad()\nloss.backward()\n"
                                         "optimizer.step()\n",
        "course_utils/q1/parameters.py": "def count_parameters(model, trainable_only=False):\n    return sum(p.numel() "
                                         "for p in model.parameters() if p.requires_grad or not trainable_only)\n",
        "notebooks/03_self_attention.ipynb#5f6d79cf": "weights_demo = torch.softmax(Q @ X.T, dim=1)\n",
    }
    assert {where for _, where in blanks_work_in(old)} == set(old)
    assert blanks_work_in({"a.py": "conv(x).sum().backward()\n", "b.py": "sum(p.numel() for p in head)"}) == []
