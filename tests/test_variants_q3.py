"""Q3's variants: every issued variant keeps the premise, its key passes its own checks and fails everyone else's,
and the scaffold and the key work for its tokens.

Oracles independent of the key where possible: torch's scaled_dot_product_attention at scale 1.0 for the weights and
outputs, the score pattern counted from the recipes by hand (shared base vectors), the rate as the smallest number of
base vectors a token has that another lacks, and the norms as sqrt(number of base vectors) * beta.
"""

from __future__ import annotations

import itertools
import math

import pytest
import sympy as sp
import torch
import torch.nn.functional as F

from course_staff import keys
from course_staff.keys import q3 as q3_key
from course_utils import checks, variants
from course_utils.q3 import attention as att
from course_utils.q3 import checks as q3_checks
from course_utils.q3 import variants as q3_variants
from tests.check_tables import graded

N = variants.count("q3")
ALL = list(range(N))
BETA = sp.Symbol("beta", positive=True)
HASHED = ("q3.norms", "q3.weights", "q3.copies", "q3.error_order")


def sdpa_attend(X: torch.Tensor) -> torch.Tensor:
    """The course's attention written with torch's SDPA at scale 1 (no 1/sqrt(d))."""
    return F.scaled_dot_product_attention(X[None], X[None], X[None], scale=1.0)[0]


def sdpa_weights(X: torch.Tensor) -> torch.Tensor:
    eye = torch.eye(len(X), dtype=X.dtype)
    return F.scaled_dot_product_attention(X[None], X[None], eye[None], scale=1.0)[0]


def pattern_by_hand(recipes) -> list[list[int]]:
    """X X^T / beta^2 for orthogonal base vectors of norm beta: how many base vectors two tokens share."""
    return [[len(set(p) & set(q)) for q in recipes] for p in recipes]


def rate_by_hand(recipes) -> int:
    """The smallest number of base vectors a token has that another token lacks."""
    return min(len(set(p) - set(q)) for p, q in itertools.permutations(recipes, 2))


def canonical(question: str, value) -> tuple[str, ...]:
    return tuple(forms[0] for forms in checks.candidate_forms(checks.specs()[question], value))


@pytest.fixture(scope="module")
def key_answers() -> dict[int, dict]:
    """Every variant's key answers (tiny mode), computed in that variant."""
    found = {}
    for v in ALL:
        with variants.pinned("q3", v):
            found[v] = q3_key.answers(True)
    return found


@pytest.fixture(scope="module")
def oracle_outputs() -> dict[int, list]:
    """Every variant's reference outputs of q3.attention on its public cases."""
    judge = q3_key.JUDGES["q3.attention"]
    found = {}
    for v in ALL:
        with variants.pinned("q3", v):
            found[v] = [judge.oracle(case) for case in checks.specs()["q3.attention"].cases()]
    return found


# --- the table ------------------------------------------------------------------------------------------------

def test_the_table_is_the_generators_and_variant_0_is_todays_question():
    assert 8 <= N <= 16
    assert q3_variants.VARIANTS == q3_key.generate_variants()
    assert q3_variants.VARIANTS[0] == {"bases": 4, "dim": 6, "tokens": [["d", "b"], ["a"], ["c", "b"]],
                                       "norms_beta": 3.0, "weights_beta": 1.0, "sweep": [0.3, 6.5, 32],
                                       "query_swaps": [["c", "d"]]}
    assert att.token_names() == ("x1 = d + b", "x2 = a", "x3 = c + b") == att.TOKEN_NAMES
    assert (q3_checks.NORMS_BETA, q3_checks.WEIGHTS_BETA) == (3.0, 1.0)
    assert q3_key.SCORE_PATTERN == ((2, 0, 1), (0, 1, 0), (1, 0, 2))
    recipes = {tuple(map(tuple, v["tokens"])) for v in q3_variants.VARIANTS}
    assert len(recipes) == N  # no two variants share a recipe
    assert {len(v["tokens"]) for v in q3_variants.VARIANTS} == {3, 4}
    assert {v["bases"] for v in q3_variants.VARIANTS} == {4, 5, 6}


def test_the_generator_drops_the_candidates_that_break_the_premise():
    kept = {tuple(map("".join, v["tokens"])) for v in q3_variants.VARIANTS}
    for dropped in ("db a ca", "ac b dce", "ab cd ac bd", "abc ade b"):
        assert tuple(dropped.split()) not in kept
        assert any(recipe == dropped for _, recipe in q3_key.CANDIDATES)


@pytest.mark.parametrize("v", ALL)
def test_every_variant_keeps_the_premise_by_hand(v):
    """The premise in the key agrees with one counted from the recipe by hand."""
    with variants.pinned("q3", v) as P:
        assert q3_key.premise() == (True, "")
        keys.premises(only="q3")  # what the registry builder runs
        G = pattern_by_hand(P["tokens"])
        n = len(G)
        assert all(G[i][i] - G[i][j] >= 1 for i in range(n) for j in range(n) if i != j)
        assert q3_key.score_pattern().tolist() == G
        assert q3_key.SCORE_PATTERN == tuple(map(tuple, G))
        assert q3_key.error_rate() == rate_by_hand(P["tokens"]) >= 1
        assert q3_key.leading_term(BETA).has(sp.exp(-rate_by_hand(P["tokens"]) * BETA**2))


# --- broken variants: never issued ----------------------------------------------------------------------------

def _table_with(monkeypatch, extra: dict) -> int:
    monkeypatch.setattr(q3_variants, "VARIANTS", q3_variants.VARIANTS + (extra,))
    return len(q3_variants.VARIANTS) - 1


def test_a_third_token_c_plus_a_fails_the_premise_with_its_reason(monkeypatch):
    broken = dict(q3_variants.VARIANTS[0], tokens=[["d", "b"], ["a"], ["c", "a"]])
    number = _table_with(monkeypatch, broken)
    with variants.pinned("q3", number):
        ok, why = q3_key.premise()
        assert not ok
        assert "x2's score with itself (1 beta^2) does not exceed its score with x3 (1 beta^2)" in why
        assert "y2 copies no token" in why
        with pytest.raises(keys.PremiseBroken, match=f"q3 \\(variant {number}\\): the question's premise fails: x2's"):
            keys.premises(only="q3", variant=number)  # what the registry builder runs first in each variant


@pytest.mark.parametrize("change, reason", [
    (dict(tokens=[["a", "b"], ["c", "d"], ["a", "c"], ["b", "d"]], query_swaps=[["a", "b"], ["c", "d"]]),
     "linearly dependent"),
    (dict(bases=5, tokens=[["a", "c"], ["b"], ["d", "c", "e"]], query_swaps=[]), "query-map demo"),
    (dict(tokens=[["d", "b"], ["a"], ["c", "b"]], query_swaps=[["a", "b"]]), "query-map demo"),
    (dict(tokens=[["a", "b"], ["c", "d"]]), "2 tokens"),
    (dict(tokens=[["a", "b"], ["a", "b", "c"], ["d"]]), "x1's score with itself (2 beta^2) does not exceed"),
    (dict(tokens=[["d", "b"], ["a"], ["c", "c"]]), "distinct base vectors"),
    (dict(dim=3), "dim = 3"),
    (dict(norms_beta=0.0), "norms_beta"),
])
def test_hand_made_broken_variants_fail_with_a_clear_reason(monkeypatch, change, reason):
    number = _table_with(monkeypatch, dict(q3_variants.VARIANTS[0], **change))
    with variants.pinned("q3", number):
        ok, why = q3_key.premise()
    assert not ok and reason in why, why


def test_a_rate_q3_error_order_cannot_read_is_refused(monkeypatch):
    """r = 20: the error e^(-20 beta^2) at beta = 6 is below float64's range, so the rate cannot be read."""
    pattern = sp.Matrix(3, 3, lambda i, j: 20 if i == j else 0)
    assert q3_key.error_rate(pattern) == 20
    monkeypatch.setattr(q3_key, "score_pattern", lambda recipes=None: pattern)
    ok, why = q3_key.check_variant(dict(q3_variants.VARIANTS[0]),
                                   tokens=lambda beta: beta * math.sqrt(20) * torch.eye(3, 6, dtype=torch.float64))
    assert not ok and "cannot read its rate" in why, why


# --- every variant: the key's answers pass there and fail elsewhere -------------------------------------------

@pytest.mark.parametrize("v", ALL)
def test_the_keys_answers_pass_the_self_check_in_their_variant(v, key_answers):
    with variants.pinned("q3", v):
        for question, value in key_answers[v].items():
            assert checks.verify(question, value).ok, (v, question)


@pytest.mark.parametrize("v", ALL)
def test_another_variants_right_answer_is_wrong_here(v, key_answers):
    mine = {q: canonical(q, key_answers[v][q]) for q in HASHED}
    for question in HASHED:
        other = next((w for w in ALL[v + 1:] + ALL[:v]
                      if canonical(question, key_answers[w][question]) != mine[question]), None)
        if other is None:
            continue
        with variants.pinned("q3", v):
            result = checks.verify(question, key_answers[other][question])
        assert not result.ok and ": not yet." in result.message, (v, other, question, result.message)


def test_every_pair_of_variants_differs_in_a_hash_checked_answer(key_answers):
    answers = {v: tuple(canonical(q, key_answers[v][q]) for q in HASHED) for v in ALL}
    for v, w in itertools.combinations(ALL, 2):
        assert answers[v] != answers[w], (v, w)


def test_how_many_distinct_answers_each_check_has(key_answers):
    distinct = {q: len({canonical(q, key_answers[v][q]) for v in ALL}) for q in HASHED}
    assert distinct == {"q3.norms": N, "q3.weights": N, "q3.copies": 2, "q3.error_order": 2}, distinct


def test_the_answers_equal_the_independent_oracles(key_answers):
    for v in ALL:
        with variants.pinned("q3", v) as P:
            recipes = P["tokens"]
            norms = [math.sqrt(len(r)) * P["norms_beta"] for r in recipes]
            torch.testing.assert_close(torch.as_tensor(key_answers[v]["q3.norms"]),
                                       torch.tensor(norms, dtype=torch.float64), rtol=1e-12, atol=0)
            _, X = att.orthogonal_tokens(P["weights_beta"], dim=P["dim"], seed=0)
            torch.testing.assert_close(key_answers[v]["q3.weights"], sdpa_weights(X), rtol=1e-9, atol=1e-12)
            assert key_answers[v]["q3.copies"] == list(range(1, len(recipes) + 1))
            assert round(checks._forms.decay_rate(key_answers[v]["q3.error_order"]), 1) == rate_by_hand(recipes)


# --- the probe: the key's oracle passes in its variant, another variant's fails ----------------------------------

def _replay(outputs: list):
    """An 'attend' that returns stored outputs for the public cases (by input), and its input elsewhere."""
    with_inputs = []
    for case, Y in zip(checks.specs()["q3.attention"].cases(), outputs):
        with_inputs.append((q3_checks.tokens_of(case), torch.tensor(Y, dtype=torch.float64)))
    inputs = list(with_inputs)

    def attend(X):
        return next((Y for X_seen, Y in inputs if X_seen.shape == X.shape and torch.equal(X_seen, X)), X)

    return attend


@pytest.mark.parametrize("v", ALL)
def test_the_probe_takes_its_variants_oracle_and_refuses_anothers(v, oracle_outputs):
    other = (v + 1) % N
    with variants.pinned("q3", v):
        assert checks.verify("q3.attention", _replay(oracle_outputs[v])).ok
        result = checks.verify("q3.attention", _replay(oracle_outputs[other]))
        assert not result.ok and ": not yet." in result.message
        assert checks.verify("q3.attention", sdpa_attend).ok  # a right attend is right in every variant
    with variants.pinned("q3", other):
        # the question's tokens (the last public case) differ from variant to variant
        assert oracle_outputs[v][-1] != oracle_outputs[other][-1]


@pytest.mark.parametrize("v", [0, 3, 4, 13])
def test_the_grader_judges_a_right_attend_right_and_a_scaled_one_wrong(v):
    with variants.pinned("q3", v):
        assert graded("q3.attention", sdpa_attend) == (True, "")
        scaled = graded("q3.attention", lambda X: torch.softmax(X @ X.T / math.sqrt(X.shape[1]), dim=1) @ X)
        assert not scaled[0]


# --- the key's closed forms and the scaffold, per variant --------------------------------------------------------

@pytest.mark.parametrize("v", ALL)
def test_the_keys_attention_is_sdpa_at_scale_one_and_its_closed_forms_hold(v):
    with variants.pinned("q3", v) as P:
        n = len(P["tokens"])
        for beta in (0.3, 1.0, 2.5, 6.0, 40.0):
            _, X = att.orthogonal_tokens(beta, dim=P["dim"], seed=3)
            Y, weights = q3_key.self_attention(X)
            torch.testing.assert_close(Y, sdpa_attend(X), rtol=1e-9, atol=1e-9)
            torch.testing.assert_close(weights, sdpa_weights(X), rtol=1e-9, atol=1e-12)
            torch.testing.assert_close(q3_key.closed_form_weights(beta), sdpa_weights(X), rtol=1e-9, atol=1e-14)
        exact = q3_key.symbolic_attention()
        assert exact.scores == exact.beta**2 * sp.Matrix(pattern_by_hand(P["tokens"]))
        assert exact.norms == [sp.sqrt(len(r)) * exact.beta for r in P["tokens"]]
        at = exact.weights.subs(exact.beta, sp.Rational(7, 10)).evalf(30)
        torch.testing.assert_close(torch.tensor(at.tolist(), dtype=torch.float64), q3_key.closed_form_weights(0.7),
                                   rtol=1e-13, atol=0)
        betas = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
        sweep = q3_key.copy_error_sweep(betas, dim=P["dim"], seed=2)
        assert sweep.error.shape == (len(betas), n)
        torch.testing.assert_close(sweep.error, sweep.exact, rtol=1e-6, atol=1e-13)
        late = q3_key.predicted_copy_error([4.0, 5.0, 6.0])
        ratio = late[0].amax(dim=1) / late[1].amax(dim=1)
        assert (ratio - 1).abs()[-1] < 1e-6 and ((ratio[1:] - 1).abs() <= (ratio[:-1] - 1).abs()).all()


@pytest.mark.parametrize("v", ALL)
def test_the_scaffold_works_for_every_variants_tokens(v):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with variants.pinned("q3", v) as P:
        basis, X = att.orthogonal_tokens(2.0, dim=P["dim"], seed=0)
        n = len(P["tokens"])
        assert basis.shape == (P["bases"], P["dim"]) and X.shape == (n, P["dim"])
        torch.testing.assert_close(basis @ basis.T, 4.0 * torch.eye(P["bases"], dtype=torch.float64),
                                   rtol=0, atol=1e-12)
        for row, recipe in zip(X, P["tokens"]):
            torch.testing.assert_close(row, sum(basis[att.LETTERS.index(p)] for p in recipe), rtol=0, atol=0)
        assert att.token_names() == tuple(f"x{i} = {' + '.join(r)}" for i, r in enumerate(P["tokens"], 1))
        shown = att.shown_numbers()
        assert shown["tokens"] == ", ".join(att.token_names()) and str(P["dim"]) in shown["base vectors"]
        assert att.sweep_betas()[0] == P["sweep"][0] and len(att.sweep_betas()) == P["sweep"][2]
        torch.testing.assert_close(att.weights_of(sdpa_attend, X), q3_key.closed_form_weights(2.0),
                                   rtol=0, atol=1e-10)
        # the demo's query map sends tokens to tokens, and each y_i then copies the token its query became
        W_q = att.swap_query_map(basis)
        torch.testing.assert_close(W_q @ W_q.T, torch.eye(P["dim"], dtype=torch.float64), rtol=0, atol=1e-12)
        Xd, Yd, _ = q3_key.swapped_query_demo(6.0, P["dim"], 0)
        swap = {p: q for pair in P["query_swaps"] for p, q in (pair, pair[::-1])}
        moved = [sorted(swap.get(p, p) for p in recipe) for recipe in P["tokens"]]
        target = [[sorted(r) for r in P["tokens"]].index(m) for m in moved]
        assert target != list(range(n))
        assert q3_key.nearest_tokens(Yd, Xd) == target
        assert q3_key.nearest_tokens(q3_key.self_attention(Xd)[0], Xd) == list(range(n))
        fig = att.plot_weight_heatmaps(sdpa_attend, (0.5, 3.0), dim=P["dim"])
        assert len([ax for ax in fig.axes if ax.images][0].texts) == n * n
        fig = att.plot_measured_copy_error([0.5, 1.0, 2.0], sdpa_attend)
        assert len(fig.axes[0].get_lines()) == n + 1
        fig = q3_key.plot_copy_error(q3_key.copy_error_sweep([0.5, 1.0, 2.0]))
        assert len(fig.axes[1].get_lines()) == 2 * n + 2
        plt.close("all")


# --- a table of right and wrong answers for two variants, worked out by hand ---------------------------------

def _softmax_rows(pattern, beta):
    return [[math.exp(beta**2 * s - beta**2 * max(row)) / sum(math.exp(beta**2 * t - beta**2 * max(row)) for t in row)
             for s in row] for row in pattern]


# variant 1: x1 = a + b, x2 = c, x3 = d; norms at beta 2, weights at beta 0.8; variant 4: a + b, c + d, e + f (r = 2)
TABLE = {
    0: {"q3.norms": [3 * math.sqrt(2), 3.0, 3 * math.sqrt(2)],
        "q3.weights": _softmax_rows([[2, 0, 1], [0, 1, 0], [1, 0, 2]], 1.0),
        "q3.copies": ["x1", "x2", "x3"], "q3.error_order": "exp(-beta**2)"},
    1: {"q3.norms": [2 * math.sqrt(2), 2.0, 2.0],
        "q3.weights": _softmax_rows([[2, 0, 0], [0, 1, 0], [0, 0, 1]], 0.8),
        "q3.copies": [1, 2, 3], "q3.error_order": sp.sqrt(2) * BETA * sp.exp(-BETA**2)},
    4: {"q3.norms": [3.5 * math.sqrt(2)] * 3,
        "q3.weights": _softmax_rows([[2, 0, 0], [0, 2, 0], [0, 0, 2]], 0.9),
        "q3.copies": (1, 2, 3), "q3.error_order": sp.exp(-2 * BETA**2)},
    3: {"q3.norms": [2.5 * math.sqrt(2), 2.5, 2.5 * math.sqrt(2), 2.5],
        "q3.weights": _softmax_rows(pattern_by_hand(["ab", "c", "bd", "e"]), 0.7),
        "q3.copies": [1, 2, 3, 4], "q3.error_order": "e^(-beta^2)"},
}


@pytest.mark.parametrize("mine", sorted(TABLE))
@pytest.mark.parametrize("theirs", sorted(TABLE))
def test_right_and_wrong_answers_between_variants(mine, theirs):
    with variants.pinned("q3", mine):
        for question in HASHED:
            value = TABLE[theirs][question]
            result = checks.verify(question, value)
            same = canonical(question, value) == canonical(question, TABLE[mine][question])
            if mine == theirs or same:
                assert result.ok, (mine, theirs, question, result.message)
            else:
                assert not result.ok and ": not yet." in result.message, (mine, theirs, question)


def test_the_rate_mistakes_follow_the_variant():
    with variants.pinned("q3", 4):  # r = 2: e^(-beta^2) is a named mistake there, right in variant 0
        message = checks.verify("q3.error_order", "exp(-beta**2)").message
        assert "not yet. Hint: the exponent's factor differs" in message
        assert checks.verify("q3.error_order", sp.exp(-2 * BETA**2)).ok
    with variants.pinned("q3", 0):
        assert "the exponent's factor differs" in checks.verify("q3.error_order", sp.exp(-2 * BETA**2)).message


# --- the master itself, run as two students whose variants differ from today's -------------------------------

@pytest.mark.parametrize("v", [3, 4])  # four tokens in five base vectors; three tokens with rate 2 in six
def test_the_master_runs_right_for_a_student_of_another_variant(v, tmp_path, monkeypatch):
    """Executed with a STUDENT_ID that the hash sends to variant v: it shows that variant's numbers, every
    solution passes its self-check there, and no cell fails (the key-only cells included)."""
    import re
    from pathlib import Path

    import nbformat
    from nbclient import NotebookClient

    root = Path(__file__).resolve().parents[1]
    term = "variants-q3-test"
    student = next(f"s{k}" for k in range(10_000) if variants.number_for("q3", f"s{k}", term) == v)
    monkeypatch.setenv(variants.TERM_ENV, term)
    monkeypatch.setenv("COURSE_TINY", "1")
    monkeypatch.setenv("PYTHONPATH", str(root))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(root / "answers" / "03_self_attention.ipynb", 4)
    (setup,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    setup.source = setup.source.replace('STUDENT_ID = ""', f'STUDENT_ID = "{student}"')
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    lines = [line for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "stream"
             for line in o["text"].splitlines()]
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    with variants.pinned("q3", v) as P:
        assert f"q3: variant {v} of {N}, for STUDENT_ID '{student}'." in lines
        assert any(line.strip().startswith("tokens") and line.strip().endswith(", ".join(att.token_names()))
                   for line in lines)
    verdicts = [line for line in lines if re.match(r"q3\.\w+: ", line)]
    assert verdicts == [f"{q}: correct." for q in ("q3.norms", "q3.attention", "q3.weights", "q3.copies",
                                                   "q3.error_order")], verdicts
    assert len(P["tokens"]) == (4 if v == 3 else 3)


def test_the_markers_table_names_every_variants_facts():
    table = q3_key.variant_table()
    blocks = table.split("\nvariant ")
    assert len(blocks) == N and table.startswith("variant 0: x1 = d + b, x2 = a, x3 = c + b  (dim 6)")
    for v, block in enumerate(blocks):
        with variants.pinned("q3", v) as P:
            assert ", ".join(att.token_names()) in block
            assert str(pattern_by_hand(P["tokens"])) in block
            assert f"rate e^(-{rate_by_hand(P['tokens'])} beta^2)" in block
