"""The lab's per-student variants (``course_utils.lab.variants``): the seed, the validation fraction, the GRU's size.

Every variant is visited with ``variants.pinned``. The oracles are worked out here, not taken from the key:
the split is ``round(fraction * n)`` of the archive's 25,000 training reviews (12,500 per class, the IMDB
README; variant 0's is checked against the pinned hash, which was made from the real archive) or of the
tiny set's 2 x 2,500; the counts are bert-base-uncased's published 109,482,240 parameters (with its pooler)
plus a GRU of ``3 (h (in + h) + 2h)`` per direction and layer and a linear layer of ``2h + 1``.
"""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path

import nbformat
import pytest
import torch

from course_staff.keys import lab as key
from course_utils import checks, mode, variants
from course_utils.lab import model as lab_model
from course_utils.lab import text, variants as lab_variants
from course_utils.lab.config import LabConfig

ROOT = Path(__file__).resolve().parents[1]
N = variants.count("lab")
BERT_BASE = 109_482_240  # bert-base-uncased, BertModel with its pooler (the model card's 110M)
E_FULL = 768
HASHED = ("lab.vocab_size", "lab.token_ids", "lab.special_ids", "lab.split_sizes", "lab.label_vocab", "lab.model",
          "lab.n_params", "lab.n_trainable")
VARYING = ("lab.split_sizes", "lab.model", "lab.n_params", "lab.n_trainable")


def gru_params(e: int, h: int) -> int:
    """2 layers x 2 directions of a GRU: 3 gates of (input weights + recurrent weights + 2 biases)."""
    per_direction = lambda width: 3 * (h * (width + h) + 2 * h)  # noqa: E731
    return 2 * per_direction(e) + 2 * per_direction(2 * h)


def tiny_bert_params() -> int:
    """The tiny BERT's parameters, from its sizes (``model.TINY_BERT``) and the tiny vocabulary."""
    b = lab_model.TINY_BERT
    h, i = b["hidden_size"], b["intermediate_size"]
    vocab = len(text.load_tokenizer(tiny=True))
    layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h  # attention, its norm, feed-forward, norm
    embeddings = h * (vocab + b["max_position_embeddings"] + b["type_vocab_size"]) + 2 * h
    return embeddings + b["num_hidden_layers"] * layer + h * h + h  # + the pooler


def oracle(numbers: dict, tiny: bool) -> dict:
    """The answers that vary, from a variant's numbers alone."""
    h = numbers["tiny_hidden_dim" if tiny else "hidden_dim"]
    n_train, n_test = (5000, 1200) if tiny else (25_000, 25_000)
    kept = round(numbers["train_fraction"] * n_train)
    head = gru_params(32 if tiny else E_FULL, h) + 2 * h + 1
    bert = tiny_bert_params() if tiny else BERT_BASE
    return {"lab.split_sizes": [kept, n_train - kept, n_test], "lab.n_params": bert + head, "lab.n_trainable": head,
            "hidden": h}


def right_answers(tiny: bool) -> dict:
    """Every hash-checked answer of the current variant: the key's, and in full mode the pinned ones."""
    found = key.answers(tiny)
    if not tiny:
        found.update({q: key.pinned_full(q, "full") for q in ("lab.split_sizes", "lab.token_ids")})
    return found


@pytest.fixture
def in_mode(monkeypatch):
    def use(tiny: bool) -> None:
        monkeypatch.setenv("COURSE_TINY", "1" if tiny else "0")
    return use


@pytest.fixture(scope="module")
def every_answer():
    """{(variant, tiny): {check id: right answer}} for every variant and mode."""
    found = {}
    for v in range(N):
        with variants.pinned("lab", v):
            for tiny in (True, False):
                found[v, tiny] = right_answers(tiny)
    return found


# ---- the table ------------------------------------------------------------------------------------------

def test_the_table_has_six_to_twelve_variants_of_json_numbers_and_variant_0_is_todays_lab():
    table = lab_variants.VARIANTS
    assert 6 <= N == len(table) <= 12
    assert all(set(v) == {"seed", "train_fraction", "hidden_dim", "tiny_hidden_dim"} for v in table)
    assert table[0] == {"seed": 1234, "train_fraction": 0.7, "hidden_dim": 256, "tiny_hidden_dim": 48}
    with variants.pinned("lab", 0):
        assert LabConfig.for_mode(True) == LabConfig.tiny() and LabConfig.for_mode(False) == LabConfig()
    assert variants.number("lab") == 0 and LabConfig.for_mode(False) == LabConfig()  # no id: variant 0
    assert {v["train_fraction"] for v in table} == {0.7, 0.75, 0.8}
    assert {v["hidden_dim"] for v in table} == {192, 256, 320}
    for v in table:  # tiny mode's size is full mode's scaled as 48 is to 256
        assert v["tiny_hidden_dim"] * 256 == v["hidden_dim"] * 48
    assert len({(v["train_fraction"], v["hidden_dim"]) for v in table}) == N  # no two alike
    assert len({v["seed"] for v in table}) == N


def test_for_mode_reads_the_variant_when_called(monkeypatch):
    monkeypatch.setenv(variants.TERM_ENV, "test-term")
    ids = {}
    for number in range(300):
        student = f"s{number}"
        ids.setdefault(variants.number_for("lab", student), student)
        if len(ids) == N:
            break
    assert len(ids) == N
    for v, student in sorted(ids.items()):
        monkeypatch.setenv(variants.ID_ENV, student)  # the same process: only the id changed
        numbers = lab_variants.VARIANTS[v]
        tiny, full = LabConfig.for_mode(True), LabConfig.for_mode(False)
        assert (full.seed, full.train_fraction, full.hidden_dim) == (numbers["seed"], numbers["train_fraction"],
                                                                    numbers["hidden_dim"])
        assert (tiny.seed, tiny.train_fraction, tiny.hidden_dim) == (numbers["seed"], numbers["train_fraction"],
                                                                    numbers["tiny_hidden_dim"])
        # only these three numbers vary; tiny mode's review set is everyone's
        assert tiny.replace(seed=1234, train_fraction=0.7, hidden_dim=48) == LabConfig.tiny()
        assert full.replace(seed=1234, train_fraction=0.7, hidden_dim=256) == LabConfig()
        assert tiny.synthetic_seed == LabConfig.tiny().seed == 1234


# ---- every variant: premise, answers, self-checks ---------------------------------------------------------

@pytest.mark.parametrize("v", range(N))
def test_every_variant_keeps_the_premise_and_its_answers_match_the_oracle(v, every_answer):
    with variants.pinned("lab", v) as numbers:
        assert key.premise() == (True, ""), key.premise()
        for tiny in (True, False):
            want, got = oracle(numbers, tiny), every_answer[v, tiny]
            for question in ("lab.split_sizes", "lab.n_params", "lab.n_trainable"):
                assert (list(got[question]) if isinstance(got[question], list) else got[question]) == want[question]
            net = got["lab.model"]
            assert (net.rnn.hidden_size, net.rnn.num_layers, net.rnn.bidirectional) == (want["hidden"], 2, True)
            assert net.out.in_features == 2 * want["hidden"]


def test_a_broken_variant_fails_the_premise(monkeypatch):
    broken = ({"seed": 1, "train_fraction": 0.4, "hidden_dim": 256, "tiny_hidden_dim": 48},
              {"seed": 1, "train_fraction": 1.0, "hidden_dim": 256, "tiny_hidden_dim": 48},
              {"seed": 1, "train_fraction": 0.7, "hidden_dim": 256, "tiny_hidden_dim": 320},
              {"seed": 1, "train_fraction": 0.7, "hidden_dim": 4, "tiny_hidden_dim": 2})
    for numbers in broken:
        monkeypatch.setattr(lab_variants, "VARIANTS", (lab_variants.VARIANTS[0], numbers))
        with variants.pinned("lab", 1):
            ok, why = key.premise()
        assert not ok and why, numbers


@pytest.mark.parametrize("v", range(N))
def test_every_variant_passes_its_own_self_checks_in_both_modes(v, every_answer, in_mode):
    with variants.pinned("lab", v):
        for tiny in (True, False):
            in_mode(tiny)
            for question in HASHED:
                result = checks.verify(question, every_answer[v, tiny][question])
                assert result.ok, (v, tiny, result.message)
        in_mode(True)
        for question, function in (("lab.binary_accuracy", key.binary_accuracy), ("lab.train_epoch", key.train_epoch),
                                   ("lab.evaluate", key.evaluate)):
            assert checks.verify(question, function).ok, (v, question)


def test_the_pinned_full_mode_facts_are_the_archives_and_the_vocabularys(in_mode):
    """Variant 0's full-mode split and ids were pinned from the real archive and vocabulary: the values the
    other variants are derived from (registry.PINNED_VARIANTS) hash to them."""
    in_mode(False)
    with variants.pinned("lab", 0):
        assert key.pinned_full("lab.split_sizes", "full") == [17_500, 7_500, 25_000]
        assert checks.verify("lab.split_sizes", key.pinned_full("lab.split_sizes", "full")).ok
        assert checks.verify("lab.token_ids", key.pinned_full("lab.token_ids", "full")).ok
        assert key.pinned_full("lab.split_sizes", "tiny") is None and key.pinned_full("lab.token_ids", "tiny") is None
    registry = checks.load_registry()
    for question in ("lab.split_sizes", "lab.token_ids"):
        for v in range(1, N):
            assert set(registry[question]["variants"][str(v)]) >= {"tiny", "full"}, (question, v)


# ---- the variants differ ------------------------------------------------------------------------------

def _value(question: str, answer):
    """A comparable form of an answer (a model by what its check hashes)."""
    if question == "lab.model":
        return tuple(map(tuple, checks.candidate_forms(checks.specs()[question], answer)))
    if isinstance(answer, dict):
        return tuple(sorted(answer.items()))
    return tuple(answer) if isinstance(answer, list) else answer


def test_how_many_distinct_answers_each_check_has(every_answer):
    distinct = {(q, tiny): len({_value(q, every_answer[v, tiny][q]) for v in range(N)})
                for q in HASHED for tiny in (True, False)}
    for tiny in (True, False):
        for q in VARYING:
            assert distinct[q, tiny] == 3, (q, tiny)  # 3 fractions, 3 hidden sizes
        for q in set(HASHED) - set(VARYING):
            assert distinct[q, tiny] == 1, (q, tiny)  # tokens and labels: everyone's


def test_every_two_variants_differ_in_an_answer_in_each_mode(every_answer):
    for tiny in (True, False):
        for a, b in itertools.combinations(range(N), 2):
            differ = [q for q in VARYING
                      if _value(q, every_answer[a, tiny][q]) != _value(q, every_answer[b, tiny][q])]
            assert differ, (a, b, tiny)


@pytest.mark.slow
def test_another_variants_right_answer_is_wrong_here(every_answer, in_mode):
    """Each variant's answers that differ, checked in every other variant: "not yet", and where the registry
    names the slip (every count, the model, the tiny split), as another variant's numbers."""
    hidden_hint, split_hint = "another hidden size", "another validation fraction"
    for tiny in (True, False):
        in_mode(tiny)
        for here, there in itertools.permutations(range(N), 2):
            with variants.pinned("lab", here):
                for q in VARYING:
                    mine, theirs = every_answer[here, tiny][q], every_answer[there, tiny][q]
                    if _value(q, mine) == _value(q, theirs):
                        continue
                    result = checks.verify(q, theirs)
                    assert not result.ok and "not yet" in result.message, (here, there, q, tiny)
                    if q in ("lab.n_params", "lab.n_trainable"):
                        assert hidden_hint in result.message, result.message
                    elif q == "lab.model":
                        assert "another variant's" in result.message, result.message
                    elif tiny:
                        assert split_hint in result.message, result.message


# A table written out by hand for three variants: the numbers of the oracle above, as a student would give them.
TABLE = {  # variant -> (full split, full n_params, full n_trainable)
    0: ((17_500, 7_500, 25_000), 112_241_409, 2_759_169),
    1: ((18_750, 6_250, 25_000), 111_256_705, 1_774_465),
    2: ((20_000, 5_000, 25_000), 113_422_721, 3_940_481),
}


def test_a_table_of_right_and_wrong_answers_for_three_variants(in_mode):
    in_mode(False)
    for v, (split, n_params, n_trainable) in TABLE.items():
        with variants.pinned("lab", v) as numbers:
            want = oracle(numbers, tiny=False)
            assert (tuple(want["lab.split_sizes"]), want["lab.n_params"], want["lab.n_trainable"]) == TABLE[v]
            assert checks.verify("lab.split_sizes", list(split)).ok
            assert checks.verify("lab.split_sizes", torch.tensor(split)).ok
            assert checks.verify("lab.n_params", n_params).ok and checks.verify("lab.n_trainable", n_trainable).ok
            for other, (o_split, o_params, o_trainable) in TABLE.items():
                if other == v:
                    continue
                assert not checks.verify("lab.split_sizes", o_split).ok
                assert not checks.verify("lab.n_params", o_params).ok
                assert not checks.verify("lab.n_trainable", o_trainable).ok
            # the classic slips still fail in every variant
            assert not checks.verify("lab.n_params", n_trainable).ok
            assert not checks.verify("lab.n_trainable", n_params).ok
            assert not checks.verify("lab.split_sizes", (split[1], split[0], split[2])).ok


# ---- the public code works in every variant -----------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_the_tiny_lab_learns_in_every_variant(tmp_path, in_mode):
    """The tiny lab with the key's loops, as the notebook runs it, in every variant: the split and the model are
    the variant's and 2 epochs pass 90% test accuracy. The training time is printed (``-s``) for the record."""
    from course_utils.lab.workflow import build_lab_model, evaluate_best, prepare_data, start, train_lab

    in_mode(True)
    cache, times, accuracy = tmp_path / "cache", {}, {}
    for v in range(N):
        with variants.pinned("lab", v) as numbers:
            config = LabConfig.for_mode()
            want = oracle(numbers, tiny=True)
            start(config)
            data = prepare_data(config, cache_dir=cache, progress=False)
            assert [len(data.train), len(data.valid), len(data.test)] == want["lab.split_sizes"]
            model = key.freeze_bert(build_lab_model(config, data.tokenizer))
            assert key.count_parameters(model, trainable_only=True) == want["lab.n_trainable"]
            began = time.perf_counter()
            train_lab(model, data, config, tmp_path / str(v), key.train_epoch, key.evaluate, progress=False,
                      log=lambda _: None, features="cache")
            times[v] = time.perf_counter() - began
            accuracy[v] = evaluate_best(tmp_path / str(v), data, key.evaluate, False, "cache", lambda _: None)[2]
    print({v: f"{accuracy[v]:.3f} in {times[v]:.1f} s" for v in range(N)})
    assert all(a >= 0.90 for a in accuracy.values()), accuracy
    assert len(list(cache.iterdir())) == 1  # one synthetic review set for every variant


# ---- the handout ------------------------------------------------------------------------------------------

def _cells(path: Path) -> list:
    return nbformat.read(path, as_version=4).cells


@pytest.mark.parametrize("folder", ["answers", "notebooks"])
def test_the_lab_notebook_takes_the_students_id_and_shows_their_numbers(folder):
    cells = _cells(ROOT / folder / "04_bert_gru_sentiment.ipynb")
    code = [c for c in cells if c.cell_type == "code"]
    code = code[[i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", [])][0]:]  # the handout's
    # setup cell (Colab's install line) comes first
    assert code[0].source == ('from course_utils import mode, variants\n'
                              'TINY = mode.is_tiny()  # COURSE_TINY=1: offline tiny mode; unset: full mode\n'
                              'STUDENT_ID = ""  # your course id in quotes (your Canvas user id): your own numbers '
                              'follow from it')
    lines = code[1].source.splitlines()
    assert lines[lines.index(next(l for l in lines if l.startswith("mode.use(TINY)"))) + 1] == (
        'variants.use(STUDENT_ID)  # the same id always gives the same numbers; "" gives everyone\'s variant 0')
    ids = [c.id for c in cells]
    show = ids.index("lab-variant")
    assert 'variants.show("lab"' in cells[show].source and show < ids.index("3ddc35ee")  # before Q1b's prompt
    prompts = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    assert "your hidden size (printed at the top" in prompts and "your seed and your\nvalidation fraction" in prompts


def test_the_show_cell_prints_the_variants_numbers(capsys):
    source = next(c.source for c in _cells(ROOT / "answers" / "04_bert_gru_sentiment.ipynb") if c.id == "lab-variant")
    for v in (0, 4):
        with variants.pinned("lab", v) as numbers:
            config = LabConfig.for_mode(False)
            exec(source, {"variants": variants, "config": config, "mode": mode})
            out = capsys.readouterr().out
            assert f"lab: variant {v} of {N} (pinned)." in out
            assert str(numbers["seed"]) in out and f"{numbers['hidden_dim']} in" in out
            train = round(100 * numbers["train_fraction"])
            assert f"{train}% / {100 - train}%" in out


def test_no_variants_answer_is_in_the_student_package_or_the_handout(every_answer):
    """Like tests/test_release.py's search, for every variant's answers (not only variant 0's)."""
    from tests.test_release import _pattern, renderings

    texts = {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8", errors="replace")
             for p in [*(ROOT / "course_utils").rglob("*.py"), ROOT / "notebooks" / "04_bert_gru_sentiment.ipynb"]}
    hits = []
    for (v, tiny), found in every_answer.items():
        for q in VARYING:
            # whole thousands (the tiny 80/20 split's 4,000 and 1,000) occur in any code: searched as the split
            forms = [f for f in renderings(found[q], q) if not re.fullmatch(r"\d+000|\d{1,3}([ ,_]|\{,\})000", f)]
            for form in forms:
                hits += [(v, tiny, q, form, name) for name, content in texts.items() if _pattern(form).search(content)]
    assert not hits, hits[:10]
    # the variants' numbers themselves are public
    assert re.search(r"\b0\.75\b", (ROOT / "course_utils" / "lab" / "variants.py").read_text())


@pytest.mark.slow
def test_a_students_handout_runs_in_their_variant_and_a_classmates_numbers_fail(tmp_path, monkeypatch):
    """The handout as a student runs it with variants on and their id typed in: the walkthrough's right answers
    (written for any variant) pass every check in that variant, and variant 0's numbers typed in do not."""
    from tests import walkthrough
    from tests.walkthrough_q1_lab import LAB_RIGHT

    monkeypatch.setenv(variants.TERM_ENV, "test-term")
    monkeypatch.delenv(variants.ID_ENV, raising=False)
    student = next(f"s{n}" for n in range(1000) if variants.number_for("lab", f"s{n}", "test-term") == 4)
    handout = walkthrough.handout("04_bert_gru_sentiment")
    parameters = next(c for c in handout.cells if "parameters" in c.metadata.get("tags", []))
    answers = {**LAB_RIGHT, parameters.id: parameters.source.replace('STUDENT_ID = ""', f'STUDENT_ID = "{student}"')}
    right = walkthrough.walk(walkthrough.fill(handout, answers), tmp_path)
    assert right.messages and all(line.endswith(": correct.") for line in right.messages.values()), right.messages
    with variants.pinned("lab", 0):  # variant 0's tiny numbers, as a classmate without an id would print them
        zero = oracle(lab_variants.VARIANTS[0], tiny=True)
    copied = {**answers, "b783c51c": f"split_sizes = {tuple(zero['lab.split_sizes'])}",
              "30165215": f"n_params = {zero['lab.n_params']}"}
    wrong = walkthrough.walk(walkthrough.fill(handout, copied), tmp_path)
    split, count = wrong.messages["lab.split_sizes"], wrong.messages["lab.n_params"]
    assert "not yet" in split and "another validation fraction" in split, split
    assert "not yet" in count and "another hidden size" in count, count
    assert wrong.messages["lab.n_trainable"].endswith(": correct.")
