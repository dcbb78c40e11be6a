"""Q2's variants: every variant keeps the question's premise, its key passes its own self-checks, and a classmate's
right answer is wrong in it.

The oracles here are written by hand from the question (h_t = w_in x_t + w_rec h_{t-1} from h_0 = 0, y_t =
sigmoid(w_out h_t), no bias), not taken from the key: for an even length, h_2N = w_in (even-position sum -
odd-position sum), and y_2N is 1, 0 or exactly 0.5 by which sum is larger and by the sign of w_out.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from pathlib import Path

import pytest
import sympy as sp

from course_staff import judging, keys, registry
from course_staff.keys import q2 as q2_key
from course_utils import checks, variants
from course_utils.q2 import recurrence as rec
from course_utils.q2 import variants as q2_variants
from tests.check_tables import graded

ROOT = Path(__file__).resolve().parents[1]
N_VARIANTS = len(q2_variants.VARIANTS)
ALL = range(N_VARIANTS)
x = sp.IndexedBase("x")
k = sp.Symbol("k", integer=True)
N = sp.Symbol("N", integer=True, nonnegative=True)
X1, X2, X3, X4 = sp.symbols("x1:5")
SEQUENCE_A, SEQUENCE_B = (3, 1, 2, 4), (5, 2000, 1, 3)  # the handout's two sequences (the prompt states them)
HASHED = ("q2.final_hidden", "q2.output_a", "q2.output_b")
PROBES = ("q2.step", "q2.closed_form")


def _numbers(v: int) -> tuple[int, int, int]:
    entry = q2_variants.VARIANTS[v]
    return entry["w_in"], entry["w_rec"], entry["w_out"]


def _sigmoid(z: float) -> float:
    return 0.5 * (1 + math.tanh(z / 2))  # never overflows


def _hidden(xs, w_in, w_rec=-1):
    h = 0
    for x_t in xs:
        h = w_in * x_t + w_rec * h
    return h


def _right(v: int) -> dict:
    """Variant v's right answers, worked out here: h_4 = w_in (x2 + x4 - x1 - x3); A is a tie, so y = 0.5; B's
    even-position sum is larger, so y is 1 for a positive w_out and 0 for a negative one."""
    w_in, _, w_out = _numbers(v)
    return {"q2.final_hidden": w_in * (X2 + X4 - X1 - X3), "q2.output_a": 0.5,
            "q2.output_b": 1.0 if w_out > 0 else 0.0}


def _step_of(v: int):
    """A student's step for variant v, with its numbers typed in."""
    w_in, w_rec, w_out = _numbers(v)

    def step(h_prev, x_t):
        h = w_in * x_t + w_rec * h_prev
        return h, _sigmoid(w_out * h)

    return step


def _claim_of(v: int):
    """A student's closed form for variant v: w_in times the sum over the pairs."""
    return _numbers(v)[0] * sp.Sum(x[2 * k] - x[2 * k - 1], (k, 1, N))


def _probe_outputs(v: int, question: str) -> tuple:
    """What the right answer of variant v gives on the public cases (the same cases in every variant)."""
    spec = checks.specs()[question]
    answer = _step_of(v) if question == "q2.step" else _claim_of(v)
    return tuple(checks.probe_text(spec.probe(answer, case), spec.precision) for case in spec.cases())


def _fingerprint(v: int, question: str) -> str:
    spec = checks.specs()[question]
    return checks.mistake_text([forms[0] for forms in checks.candidate_forms(spec, _right(v)[question])])


# --- the table -----------------------------------------------------------------------------------------------

def test_the_table_variant_0_is_todays_numbers_and_every_variant_keeps_the_lesson():
    assert q2_variants.VARIANTS[0] == {"w_in": 1, "w_rec": -1, "w_out": 1000}
    assert variants.count("q2") == N_VARIANTS == 12
    assert json.loads(json.dumps(q2_variants.VARIANTS)) == list(q2_variants.VARIANTS)  # JSON-ready
    for v in ALL:
        w_in, w_rec, w_out = _numbers(v)
        assert type(w_in) is int and w_in > 0 and w_rec == -1 and abs(w_in * w_out) >= 37
    # one variant per (w_in, sign of w_out): no two share every answer
    assert len({(w_in, w_out > 0) for w_in, _, w_out in map(_numbers, ALL)}) == N_VARIANTS


@pytest.mark.parametrize("v", ALL)
def test_every_variant_keeps_the_premise_and_its_key_is_right(v):
    with variants.pinned("q2", v):
        assert q2_key.premise() == (True, "")
        assert q2_key.weights() == _numbers(v)
        answers = q2_key.answers(True)
        assert answers == q2_key.answers(False)
        want = _right(v)
        assert sp.expand(answers["q2.final_hidden"] - want["q2.final_hidden"].subs(
            dict(zip((X1, X2, X3, X4), q2_key.input_symbols(4))))) == 0
        assert answers["q2.output_a"] == want["q2.output_a"] and answers["q2.output_b"] == want["q2.output_b"]
        for question, value in answers.items():
            assert checks.verify(question, value).ok, (v, question)
        for question in HASHED:  # the hand-written answer in a student's form
            assert checks.verify(question, want[question]).message == f"{question}: correct.", (v, question)


@pytest.mark.parametrize("v", ALL)
def test_the_keys_oracles_and_a_students_functions_pass_in_their_own_variant(v):
    w_in, w_rec, w_out = _numbers(v)
    with variants.pinned("q2", v):
        judges = judging.judges()
        for case in checks.specs()["q2.step"].cases():
            rows = judges["q2.step"].oracle(case)
            assert [h for h, _ in rows] == [float(_hidden(case[:t], w_in)) for t in range(1, len(case) + 1)]
            assert [y for _, y in rows] == pytest.approx([_sigmoid(w_out * h) for h, _ in rows], abs=1e-12)
        for case in checks.specs()["q2.closed_form"].cases():
            assert judges["q2.closed_form"].oracle(case) == w_in * (sum(case[1::2]) - sum(case[0::2]))
        assert checks.verify("q2.step", _step_of(v)).message == "q2.step: correct."
        assert checks.verify("q2.closed_form", _claim_of(v)).message == "q2.closed_form: correct."
        assert graded("q2.step", _step_of(v)) == (True, "")
        assert graded("q2.closed_form", _claim_of(v)) == (True, "")
        assert graded("q2.closed_form", sp.Sum(w_in * (x[2 * k] - x[2 * k - 1]), (k, 1, N))) == (True, "")
        assert q2_key.compare_claim(_claim_of(v), None, {"symbolic": True}) == (True, "")


# --- a classmate's right answer is wrong here ----------------------------------------------------------------

@pytest.mark.parametrize("v", ALL)
def test_another_variants_right_answers_are_not_yet_here(v):
    with variants.pinned("q2", v):
        for u in ALL:
            if u == v:
                continue
            differs = False
            for question in HASHED:
                if _fingerprint(u, question) != _fingerprint(v, question):
                    differs = True
                    result = checks.verify(question, _right(u)[question])
                    assert not result.ok and ": not yet. Hint: " in result.message, (v, u, question)
            for question, answer in (("q2.step", _step_of(u)), ("q2.closed_form", _claim_of(u))):
                if _probe_outputs(u, question) != _probe_outputs(v, question):
                    differs = True
                    assert not checks.verify(question, answer).ok, (v, u, question)
                    assert not graded(question, answer)[0], (v, u, question)
            assert differs, (v, u)


@pytest.mark.parametrize("v", ALL)
def test_another_variants_oracle_fails_this_variants_probes(v):
    """The key's oracle of variant u, run as a student's function, is right in u and wrong in every other v."""
    spec = checks.specs()["q2.step"]
    for u in ALL:
        with variants.pinned("q2", u):
            rows = [q2_key._step_rows(case) for case in spec.cases()]
            claims = [q2_key._claim_value(case) for case in checks.specs()["q2.closed_form"].cases()]
        table = {tuple(case): r for case, r in zip(spec.cases(), rows)}

        def replay(h_prev, x_t, table=table):  # u's oracle, stepped through the public cases
            for case, r in table.items():
                h = 0
                for t, x_t2 in enumerate(case):
                    if (h, x_t2) == (h_prev, x_t):
                        return r[t][0], r[t][1]
                    h = r[t][0]
            raise KeyError((h_prev, x_t))

        with variants.pinned("q2", v):
            assert checks.verify("q2.step", replay).ok == (u == v), (v, u)
            own = [q2_key._claim_value(case) for case in checks.specs()["q2.closed_form"].cases()]
            assert (own == claims) == (_numbers(u)[0] == _numbers(v)[0]), (v, u)


def test_how_many_distinct_answers_each_check_has_across_variants():
    distinct = {question: len({_fingerprint(v, question) for v in ALL}) for question in HASHED}
    distinct.update({question: len({_probe_outputs(v, question) for v in ALL}) for question in PROBES})
    assert distinct == {"q2.final_hidden": 6, "q2.output_a": 1, "q2.output_b": 2, "q2.step": 12,
                        "q2.closed_form": 6}
    # every pair of variants differs in at least one hash-checked answer or probe output
    signature = {v: tuple(_fingerprint(v, q) for q in HASHED) + tuple(_probe_outputs(v, q) for q in PROBES)
                 for v in ALL}
    assert len(set(signature.values())) == N_VARIANTS
    # the hash-checked answers alone already tell every pair apart (one variant per (w_in, sign of w_out)), and
    # the key's answers are the ones worked out here
    hashed = {v: signature[v][:len(HASHED)] for v in ALL}
    assert len(set(hashed.values())) == N_VARIANTS
    for v in ALL:
        with variants.pinned("q2", v):
            answers = q2_key.answers(True)
        assert tuple(_fingerprint_of(q, answers[q]) for q in HASHED) == hashed[v], v


def _fingerprint_of(question, value):
    spec = checks.specs()[question]
    return checks.mistake_text([forms[0] for forms in checks.candidate_forms(spec, value)])


# right and wrong tables for two variants: variant 1 (w_in = 2, w_out = -500) and variant 7 (w_in = 2, w_out = 1000)
TABLES = {
    1: {"right": {"q2.final_hidden": [2 * (X2 + X4 - X1 - X3), "2*x_2 + 2*x_4 - 2*x_1 - 2*x_3",
                                      "2*(x[2] + x[4] - x[1] - x[3])"],
                  "q2.output_a": [0.5, "0.50", [0.5]],
                  "q2.output_b": [0.0, 0, "0.00", 1e-300, [0.0]]},
        "wrong": {"q2.final_hidden": [(X2 + X4 - X1 - X3, "input edge"), (-2 * (X2 + X4 - X1 - X3), "opposite sign"),
                                      (-1000 * (X2 + X4 - X1 - X3), "output unit's input")],
                  "q2.output_a": [(50, "percentage"), (0.0, "")],
                  "q2.output_b": [(1.0, "sign of the weight on the output edge"), (0.5, "h_4 = 0")]}},
    7: {"right": {"q2.final_hidden": [2 * (X2 + X4 - X1 - X3), "2*x2 + 2*x4 - 2*x1 - 2*x3"],
                  "q2.output_a": [0.5],
                  "q2.output_b": [1.0, "1.00", 0.999]},
        "wrong": {"q2.final_hidden": [(X2 + X4 - X1 - X3, "input edge"), (2000 * (X2 + X4 - X1 - X3),
                                                                          "output unit's input")],
                  "q2.output_a": [(1.0, "bias"), (0.0, "hard threshold")],
                  "q2.output_b": [(0.0, ""), (0.5, "h_4 = 0"), (100, "percentage")]}},
}


@pytest.mark.parametrize("v", sorted(TABLES))
def test_right_and_wrong_tables_of_two_variants(v):
    with variants.pinned("q2", v):
        for question, values in TABLES[v]["right"].items():
            for value in values:
                assert checks.verify(question, value).message == f"{question}: correct.", (v, question, value)
        for question, rows in TABLES[v]["wrong"].items():
            for value, hint in rows:
                message = checks.verify(question, value).message
                assert message.startswith(f"{question}: not yet. Hint: ") and hint in message, (v, value, message)
    # variant 1's right output_b is wrong in variant 7, and the other way round; both are right in variant 0 or not
    with variants.pinned("q2", 7):
        assert not checks.verify("q2.output_b", 0.0).ok
    with variants.pinned("q2", 0):
        assert not checks.verify("q2.final_hidden", 2 * (X2 + X4 - X1 - X3)).ok
        assert checks.verify("q2.output_b", 1.0).ok and not checks.verify("q2.output_b", 0.0).ok


def test_the_variants_slips_are_named_by_the_step_and_closed_form_checks():
    def forgot_input_weight(h_prev, x_t):  # variant 1 (w_in = 2, w_out = -500) without w_in
        h = x_t - h_prev
        return h, _sigmoid(-500 * h)

    def dropped_output_sign(h_prev, x_t):
        h = 2 * x_t - h_prev
        return h, _sigmoid(500 * h)

    def weight_on_both(h_prev, x_t):  # h = w_in (x - h)
        h = 2 * (x_t - h_prev)
        return h, _sigmoid(-500 * h)

    with variants.pinned("q2", 1):
        assert "weight on the input edge" in checks.verify("q2.step", forgot_input_weight).message
        assert "sign of the weight on the output edge" in checks.verify("q2.step", dropped_output_sign).message
        assert "multiplies the input only" in checks.verify("q2.step", weight_on_both).message
        for step, hint in ((forgot_input_weight, "input edge"), (dropped_output_sign, "sign of the weight")):
            ok, detail = graded("q2.step", step)
            assert not ok and hint in detail, detail
        unscaled = sp.Sum(x[2 * k] - x[2 * k - 1], (k, 1, N))
        assert "input edge" in checks.verify("q2.closed_form", unscaled).message
        assert not graded("q2.closed_form", unscaled)[0]
        assert "sign of every input" in checks.verify("q2.closed_form", -_claim_of(1)).message
        seed = 2 * (-1) ** N * (sp.Sum(x[2 * k - 1] - x[2 * k], (k, 1, N)) + x[1])
        assert "h_0 = 0" in checks.verify("q2.closed_form", seed).message


# --- a broken variant is never issued ---------------------------------------------------------------------------

@pytest.mark.parametrize("numbers,why", [
    ({"w_in": 1, "w_rec": 2, "w_out": 1000}, "no longer compares the two sums"),
    ({"w_in": 1, "w_rec": 1, "w_out": 1000}, "no longer compares the two sums"),
    ({"w_in": 3, "w_rec": 0, "w_out": 1000}, "no longer compares the two sums"),
    ({"w_in": 1, "w_rec": -1, "w_out": 20}, "is below 37"),
    ({"w_in": 0, "w_rec": -1, "w_out": 1000}, "not a positive integer"),
])
def test_a_variant_made_by_hand_that_breaks_the_premise_is_refused(monkeypatch, numbers, why):
    monkeypatch.setattr(q2_variants, "VARIANTS", (*q2_variants.VARIANTS, numbers))
    broken = N_VARIANTS
    with variants.pinned("q2", broken):
        ok, detail = q2_key.premise()
        assert not ok and why in detail, detail
    # the registry builder checks the premise of each variant before hashing anything of it
    with pytest.raises(keys.PremiseBroken, match=f"q2 \\(variant {broken}\\): the question's premise fails"):
        with variants.pinned("q2", broken):
            registry._build_variant({}, "q2", broken)


def test_the_recurrent_weight_stays_minus_one_because_other_values_weigh_inputs_by_powers():
    for w_rec in (-2, 2, 1, 0):
        h4 = q2_key.final_hidden(4, 1, w_rec)
        symbols = q2_key.input_symbols(4)
        coefficients = [h4.coeff(s) for s in symbols]
        assert coefficients == [w_rec ** 3, w_rec ** 2, w_rec, 1]
        assert sorted(set(coefficients)) != [-1, 1]  # not a difference of two sums


# --- the registry and the public functions in every variant -----------------------------------------------------

def test_the_committed_registry_holds_every_variant():
    committed = checks.load_registry()
    for question in (*HASHED, *PROBES):
        assert sorted(committed[question]["variants"], key=int) == [str(v) for v in range(1, N_VARIANTS)]
        # variant 0 is the entry itself, hashed with the salt of the handout without variants
        assert all(key in ("any", "mistakes", "unordered", "varies", "variants") for key in committed[question])


@pytest.mark.parametrize("v", ALL)
def test_the_public_functions_follow_the_variant(v):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w_in, w_rec, w_out = _numbers(v)
    with variants.pinned("q2", v):
        fig = rec.draw_network()
        texts = {t.get_text() for t in fig.axes[0].texts}
        plt.close(fig)
        assert {f"{w_in:g}", f"{w_rec:g}", f"{w_out:g}"} <= texts
        lines = rec.unrolled_table([3, 5, -2, 4], _step_of(v)).splitlines()
        assert [int(line.split()[2]) for line in lines[1:]] == [_hidden([3, 5, -2, 4][:t], w_in) for t in range(1, 5)]
        assert q2_key.simulate([1, 1])[0] == [w_in, 0]
        y = q2_key.simulate([0, 1])[1][-1]  # the even-position sum is larger by 1
        assert y == 1.0 if w_out > 0 else 0.0 <= y < 2.0**-53
        report = q2_key.brute_force_check(n_sequences=100, max_pairs=4, seed=v)
        assert report.n_hidden_match == report.n_output_match == 100
        assert q2_key.rule_output([0, 1]) == (1.0 if w_out > 0 else 0.0) and q2_key.rule_output([2, 2]) == 0.5
        text = q2_key.describe_final_output(4)
        assert ("is larger, ~0" in text) == (w_out > 0) and ("is smaller, ~0" in text) == (w_out < 0)
        assert q2_key.prove_even_length_rule().holds


def test_the_drawing_and_the_key_read_the_variant_at_call_time_not_at_import():
    with variants.pinned("q2", 3):
        assert q2_key.weights() == (4, -1, -1000)
        assert q2_key.final_hidden(2) == sp.expand(4 * (q2_key.input_symbols(2)[1] - q2_key.input_symbols(2)[0]))
    assert q2_key.weights() == (1, -1, 1000)
    assert q2_key.final_hidden(2) == q2_key.input_symbols(2)[1] - q2_key.input_symbols(2)[0]


# --- the master's solutions are right in other variants -------------------------------------------------------

def _id_for(target: int, term: str) -> str:
    return next(f"s{i}" for i in itertools.count() if variants.number_for("q2", f"s{i}", term) == target)


@pytest.mark.parametrize("target", [1, 7])
def test_the_masters_solutions_pass_every_self_check_in_another_variant(target, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    term = "test-term"
    student = _id_for(target, term)
    nb = nbformat.read(ROOT / "answers" / "02_rnn_recurrence.ipynb", 4)
    parameters = next(cell for cell in nb.cells if "parameters" in cell.metadata.get("tags", []))
    assert 'STUDENT_ID = ""' in parameters.source
    parameters.source = parameters.source.replace('STUDENT_ID = ""', f'STUDENT_ID = "{student}"')
    monkeypatch.setenv(variants.TERM_ENV, term)
    monkeypatch.setenv("COURSE_TINY", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv(variants.ID_ENV, raising=False)
    monkeypatch.delenv(variants.GRADER_ENV, raising=False)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                      for out in cell.get("outputs", []) if out.get("output_type") == "stream")
    w_in, w_rec, w_out = _numbers(target)
    assert f"q2: variant {target} of {N_VARIANTS}, for STUDENT_ID '{student}'." in printed
    assert f"W_OUT  {w_out}" in printed
    verdicts = [line for line in printed.splitlines() if line.startswith("q2.") and ": " in line]
    assert sorted(line.split(":")[0] for line in verdicts) == sorted(["q2.step", "q2.final_hidden", "q2.closed_form",
                                                                      "q2.output_a", "q2.output_b"])
    assert all(line.endswith(": correct.") for line in verdicts), verdicts
