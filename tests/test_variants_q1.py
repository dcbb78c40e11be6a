"""Q1's variants: every variant's public sizes, judged by the key's oracle and by formulas written here.

The answers of Q1's checks are formulas, so a classmate's right formula is right in every variant; what a
variant changes is the public cases (and the numbers of the parameter table and the receptive-field demo). So a
right answer "of another variant" is what such a classmate's self-check accepted as data: their outputs on their
public cases, replayed, or looked up by size. Those must be judged wrong here. Formulas below are worked out by
hand (not the key's): a k x k conv has c_in*c_out*k^2 weights and c_out biases; a PyTorch GRU layer has per gate
h x w and h x h matrices and two bias vectors of h; a stack of L stride-1 k x k convs sees L(k - 1) + 1 rows.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import math
import re
from pathlib import Path

import nbformat
import pytest

from course_staff import judging
from course_staff.keys import q1 as key
from course_utils import variants
from course_utils.checks import entry_of, load_registry, specs, verify
from course_utils.checks.blanks import require
from course_utils.q1 import cnn_vs_rnn as q1
from course_utils.q1 import convolution as conv_demo
from course_utils.q1 import variants as q1_variants

IDS = ("q1.conv_parameters", "q1.gru_parameters", "q1.stack_rows_seen")
CASES = {"q1.conv_parameters": "conv_cases", "q1.gru_parameters": "gru_cases", "q1.stack_rows_seen": "stack_cases"}
N = len(q1_variants.VARIANTS)
ALL = range(N)
MASTER = Path(__file__).resolve().parents[1] / "answers" / "01_cnn_vs_rnn.ipynb"


def conv_by_hand(c_in, c_out, k):
    return c_in * c_out * k * k + c_out


def gru_by_hand(width, hidden):
    per_gate = hidden * width + hidden * hidden + 2 * hidden
    return 3 * per_gate


def stack_by_hand(n_layers, k):
    rows = 1
    for _ in range(n_layers):
        rows += k - 1
    return rows


HAND = {"q1.conv_parameters": conv_by_hand, "q1.gru_parameters": gru_by_hand, "q1.stack_rows_seen": stack_by_hand}
#: One known slip per check, each with (part of) the hint the self-check names it by.
SLIPS = {
    "q1.conv_parameters": (lambda c_in, c_out, k: c_in * c_out * k * k, "also has a bias"),
    "q1.gru_parameters": (lambda w, h: 4 * (h * w + h * h + 2 * h), "an LSTM's count"),
    "q1.stack_rows_seen": (lambda n, k: n * (k - 1), "off by one"),
}


def outputs(question: str, variant: int) -> tuple[int, ...]:
    """The right outputs on ``variant``'s public cases, by the formulas above."""
    return tuple(HAND[question](*case) for case in q1_variants.VARIANTS[variant][CASES[question]])


def replay(answers) -> callable:
    """A "function" that returns ``answers`` one after another, whatever it is asked: a table of some
    variant's right outputs, copied from a classmate."""
    it = itertools.cycle(answers)
    return lambda *sizes: next(it)


def lookup(variant: int, question: str) -> callable:
    """A function that looks the sizes up in ``variant``'s public cases and their right outputs."""
    table = {tuple(case): HAND[question](*case) for case in q1_variants.VARIANTS[variant][CASES[question]]}
    return lambda *sizes: table[sizes]


def test_variant_0_is_the_handout_as_it_was():
    assert N == 8
    assert variants.number("q1") == 0 and variants.params("q1") == q1_variants.VARIANTS[0]
    assert specs()["q1.conv_parameters"].cases() == ((1, 4, 3), (3, 5, 5), (2, 7, 1), (6, 2, 3), (3000, 70000, 9))
    assert specs()["q1.gru_parameters"].cases() == ((16, 32), (5, 7), (64, 3), (90000, 400000))
    assert specs()["q1.stack_rows_seen"].cases() == ((1, 3), (2, 3), (4, 3), (2, 5), (3, 7), (40, 9))
    p = q1_variants.VARIANTS[0]
    assert (p["cnn_channels"], p["cnn_kernel"], p["gru_hidden"], p["table_widths"]) == ([4, 8], 3, 32, [16, 64, 256])
    assert (p["rf_kernel"], p["rf_heights"]) == (3, [8, 16, 40])


def test_the_variant_table_is_plain_json_ready_data():
    import json

    assert json.loads(json.dumps(q1_variants.VARIANTS)) == list(q1_variants.VARIANTS)
    assert all(set(p) == set(q1_variants.VARIANTS[0]) for p in q1_variants.VARIANTS)


@pytest.mark.parametrize("variant", ALL)
def test_every_variant_keeps_the_premise_and_its_cases_are_the_tables(variant):
    with variants.pinned("q1", variant) as p:
        assert key.premise() == (True, "")
        for question in IDS:
            assert specs()[question].cases() == tuple(tuple(case) for case in p[CASES[question]])


@pytest.mark.parametrize("variant", ALL)
def test_the_key_oracle_and_hand_formulas_pass_and_a_slip_fails_in_every_variant(variant):
    registry = load_registry()
    with variants.pinned("q1", variant):
        for question in IDS:
            judge = judging.judges()[question]
            entry = entry_of(registry, question)
            assert len(entry["any"]) == len(specs()[question].cases())  # this variant's hashes are registered
            # the oracle builds layers (on the meta device), which the probe refuses: its outputs, looked up
            said = {tuple(case): judge.oracle(list(case)) for case in specs()[question].cases()}
            assert verify(question, lambda *sizes, said=said: said[sizes]).ok, (variant, question)
            assert tuple(said.values()) == outputs(question, variant)  # the key agrees with the hand formulas
            assert verify(question, HAND[question]).ok, (variant, question)
            slip, hint = SLIPS[question]
            result = verify(question, slip)
            assert not result.ok and "not yet" in result.message and hint in result.message, (variant, result.message)


@pytest.mark.parametrize("variant", ALL)
def test_the_committed_registry_holds_each_variants_hashes(variant):
    registry = load_registry()
    with variants.pinned("q1", variant):
        for question in IDS:
            built = judging.probe_entry(question, specs()[question], judging.judges()[question])
            stored = {name: value for name, value in entry_of(registry, question).items() if name != "variants"}
            assert stored == built, (variant, question)


@pytest.mark.parametrize(("mine", "theirs"), [(a, b) for a in ALL for b in ALL if a != b])
def test_another_variants_right_outputs_are_wrong_here(mine, theirs):
    with variants.pinned("q1", mine):
        for question in IDS:
            assert outputs(question, mine) != outputs(question, theirs)
            assert verify(question, replay(outputs(question, mine))).ok  # the own table passes (the self-check only)
            copied = verify(question, replay(outputs(question, theirs)))
            assert not copied.ok and "not yet" in copied.message, (mine, theirs, question)
            looked_up = verify(question, lookup(theirs, question))
            assert not looked_up.ok and "not yet" in looked_up.message


def test_how_many_distinct_answers_each_check_has():
    for question in IDS:
        assert len({outputs(question, v) for v in ALL}) == N
        assert len({tuple(map(tuple, q1_variants.VARIANTS[v][CASES[question]])) for v in ALL}) == N
        # no public case of one variant is shared by all the others: the sets differ pairwise
        for a, b in itertools.combinations(ALL, 2):
            assert set(map(tuple, q1_variants.VARIANTS[a][CASES[question]])) != \
                set(map(tuple, q1_variants.VARIANTS[b][CASES[question]]))
    assert len({table_rows(v) for v in ALL}) == N
    assert len({rf_layers(v) for v in ALL}) == N


# Right and wrong answers of two variants, written out: A's right outputs are wrong for B and the other way round.
TABLE = {
    0: {"q1.conv_parameters": (40, 380, 21, 110, 17010070000),
        "q1.gru_parameters": (4800, 294, 621, 588002400000),
        "q1.stack_rows_seen": (3, 5, 9, 9, 19, 321)},
    5: {"q1.conv_parameters": (1005, 1092, 12, 2064, 12133406284),
        "q1.gru_parameters": (2976, 2793, 5694, 789603064398),
        "q1.stack_rows_seen": (3, 9, 25, 13, 41, 289)},
}


@pytest.mark.parametrize("question", IDS)
def test_the_table_of_two_variants(question):
    for variant, other in ((0, 5), (5, 0)):
        assert outputs(question, variant) == TABLE[variant][question]
        with variants.pinned("q1", variant):
            assert verify(question, replay(TABLE[variant][question])).ok
            assert not verify(question, replay(TABLE[other][question])).ok
            wrong = [n + 1 for n in TABLE[variant][question]]  # one too many everywhere
            assert not verify(question, replay(wrong)).ok


def table_rows(variant: int) -> tuple:
    """The parameter table's totals in ``variant``, by hand: (width, CNN total, GRU total) per width."""
    p = q1_variants.VARIANTS[variant]
    (c1, c2), k, h = p["cnn_channels"], p["cnn_kernel"], p["gru_hidden"]
    cnn = conv_by_hand(1, c1, k) + conv_by_hand(c1, c2, k) + 4 * (c2 + 1)
    return tuple((w, cnn, gru_by_hand(w, h) + 4 * (h + 1)) for w in p["table_widths"])


def rf_layers(variant: int) -> tuple:
    """The receptive-field demo's fewest layers per height in ``variant``, by hand."""
    p = q1_variants.VARIANTS[variant]
    return tuple((height, math.ceil((height - 1) / (p["rf_kernel"] - 1))) for height in p["rf_heights"])


def _cell(cell_id: str) -> str:
    return next(c.source for c in nbformat.read(MASTER, as_version=4).cells if c.id == cell_id)


def _run_cell(cell_id: str, namespace: dict) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_cell(cell_id), cell_id, "exec"), namespace)  # noqa: S102 - the master's own cell
    return out.getvalue()


@pytest.mark.parametrize("variant", ALL)
def test_the_masters_variant_cells_work_and_print_this_variants_numbers(variant, one_thread):
    with variants.pinned("q1", variant) as p:
        namespace = {"variants": variants, "q1": q1, "conv_demo": conv_demo, "require": require,
                     "conv_parameters": conv_by_hand, "gru_parameters": gru_by_hand, "stack_rows_seen": stack_by_hand}
        shown = _run_cell("q1-variant", namespace)
        assert f"variant {variant} of {N}" in shown
        assert f"1 -> {p['cnn_channels'][0]} -> {p['cnn_channels'][1]} channels" in shown
        assert f"image heights H = {', '.join(map(str, p['rf_heights']))}" in shown
        table = _run_cell("2015a390", namespace)
        rf = _run_cell("2627f15a", namespace)
    rows = re.findall(r"W = +(\d+): PyTorch counts: CNN ([\d,]+), row GRU ([\d,]+) \| your formulas \+ the heads: "
                      r"CNN ([\d,]+), row GRU ([\d,]+)", table)
    numbers = [tuple(int(x.replace(",", "")) for x in row) for row in rows]
    assert [(w, c, g) for w, c, g, *_ in numbers] == list(table_rows(variant))  # PyTorch agrees with the hand count
    assert all(row[1:3] == row[3:5] for row in numbers)  # and with the formulas
    k = p["rf_kernel"]
    lines = re.findall(rf"H = +(\d+): rows behind one output of one layer: {k}x{k} conv (\d+), GRU (\d+); by your "
                       rf"formula the fewest stacked {k}x{k} convs that see all \d+ rows: (\d+) \(they see (\d+)\)", rf)
    assert [(int(h), int(n)) for h, _, _, n, _ in lines] == list(rf_layers(variant))
    assert all(int(conv) == k and int(gru) == int(h) and int(seen) >= int(h) for h, conv, gru, _, seen in lines)
    assert rf_layers(variant)[-1][1] >= key.DEEP_STACK


def test_variant_0s_cells_print_what_the_key_stored():
    stored = {c.id: "".join(o.get("text", "") for o in c.outputs)
              for c in nbformat.read(MASTER, as_version=4).cells if c.cell_type == "code"}
    namespace = {"variants": variants, "q1": q1, "conv_demo": conv_demo, "require": require,
                 "conv_parameters": conv_by_hand, "gru_parameters": gru_by_hand, "stack_rows_seen": stack_by_hand}
    with variants.pinned("q1", 0):
        _run_cell("q1-variant", namespace)
        assert _run_cell("2015a390", namespace) == stored["2015a390"]
        assert _run_cell("2627f15a", namespace) == stored["2627f15a"]


def test_parameter_counts_follow_the_sizes_it_is_given():
    assert q1.parameter_counts(16) == (372, 4932)  # the trained models, as before
    for variant in ALL:
        p = q1_variants.VARIANTS[variant]
        for width, cnn, gru in table_rows(variant):
            assert q1.parameter_counts(width, channels=tuple(p["cnn_channels"]), kernel_size=p["cnn_kernel"],
                                       hidden=p["gru_hidden"]) == (cnn, gru)


def _broken(monkeypatch, **change):
    monkeypatch.setattr(q1_variants, "VARIANTS", (q1_variants.VARIANTS[0], {**q1_variants.VARIANTS[0], **change}))


@pytest.mark.parametrize(("change", "why"), [
    ({"stack_cases": [[1, 3], [2, 4], [40, 9]]}, "odd and at least 3"),
    ({"stack_cases": [[1, 3], [0, 3], [40, 9]]}, "positive whole sizes"),
    ({"conv_cases": [[1, 4, 3], [3, -5, 5], [3000, 70000, 9]]}, "positive whole sizes"),
    ({"conv_cases": [[1, 4, 3], [3, 5, 5], [6, 2, 3]]}, "too large to build"),
    ({"conv_cases": [[1, 4, 1], [3, 5, 1], [3000, 70000, 1]]}, "no public case tells the mistake"),
    ({"gru_cases": [[16, 32], [5, 7]]}, "too large to build"),
    ({"rf_kernel": 4}, "must be odd"),
    ({"rf_kernel": 9}, "the whole 8-row image"),
    ({"rf_heights": [8, 16, 18]}, "already see all 18 rows"),
    ({"rf_kernel": 7, "rf_heights": [8, 16, 50]}, "9 stacked 7x7 convolutions already see all 50 rows"),
    ({"cnn_channels": [64, 128]}, "is not smaller than the row GRU"),
    ({"table_widths": [64, 16, 256]}, "widths increasing"),
])
def test_sizes_that_break_the_lesson_break_the_premise(monkeypatch, change, why):
    _broken(monkeypatch, **change)
    with variants.pinned("q1", 1):
        ok, detail = key.premise()
    assert not ok and why in detail, detail
    with variants.pinned("q1", 0):
        assert key.premise() == (True, "")
