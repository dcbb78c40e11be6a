"""Student self-checks: the engine, the lab checks, the registry; right answers pass, wrong ones get their hint.

The oracles are the published figures (the original lab's printed outputs, bert-base-uncased's vocabulary) and
closed forms worked out by hand here, independent of the package code that built the registry.
"""

from __future__ import annotations

import math

import pytest
import sympy as sp

from course_utils import checks
from course_utils.checks import _forms
from course_staff import registry

X1, X2, X3, X4 = sp.symbols("x1:5")
BETA = sp.Symbol("beta", positive=True)


def _softmax(row: list[float]) -> list[float]:
    exps = [math.exp(v) for v in row]
    return [e / sum(exps) for e in exps]


def _accuracy(logits, labels) -> float:
    return ((logits > 0).float() == labels).float().mean().item()


def _count_correct(logits, labels) -> float:  # the classic slip: a count, not a fraction
    return ((logits > 0).float() == labels).float().sum().item()


# (question, right answer, wrong answer); both modes
COMMON = [
    ("q2.final_hidden", X2 + X4 - X1 - X3, X1 - X2 + X3 - X4),
    ("q2.final_hidden", sp.Symbol("x_2") + sp.Symbol("x_4") - sp.Symbol("x_1") - sp.Symbol("x_3"), X4 - X3),
    ("q2.output_a", 0.5, 1.0),  # sigmoid(1000 - h): the seed's bias of 1000
    ("q2.output_b", 1 / (1 + math.exp(-1000)), 0.5),
    ("q3.norms", [3 * math.sqrt(2), 3.0, 3 * math.sqrt(2)], [6.0, 3.0, 6.0]),
    ("q3.norms", [3 * sp.sqrt(2), 3, 3 * sp.sqrt(2)], [18, 9, 18]),  # squared norms
    ("q3.weights", [_softmax([2, 0, 1]), _softmax([0, 1, 0]), _softmax([1, 0, 2])],
     [_softmax([v / 2 for v in r]) for r in ([2, 0, 1], [0, 1, 0], [1, 0, 2])]),  # 1/sqrt(d) scaling
    ("q3.error_order", sp.exp(-BETA**2), sp.exp(-BETA)),
    ("q3.error_order", sp.sqrt(2) * BETA * sp.exp(-BETA**2), sp.exp(-2 * BETA**2)),
    ("lab.special_ids", [101, 102, 0, 100], [100, 101, 102, 0]),
    ("lab.label_vocab", {"neg": 0, "pos": 1}, {"pos": 0, "neg": 1}),
    ("lab.binary_accuracy", _accuracy, _count_correct),
]
FULL = [
    ("lab.vocab_size", 30522, 30000),
    ("lab.token_ids", [7592, 2088, 2129, 2024, 2017, 1029], [101, 7592, 2088, 2129, 2024, 2017, 1029, 102]),
    ("lab.split_sizes", (17500, 7500, 25000), (7500, 17500, 25000)),
    ("lab.n_params", 112241409, 109482240),
    ("lab.n_trainable", 2759169, 2759168),
]


def _tiny_answers() -> list[tuple]:
    """Tiny-mode right answers, worked out here from the tiny preset's sizes (closed-form counts)."""
    from course_utils.lab import config, model, text

    vocab = text.load_tokenizer(tiny=True).get_vocab()
    ids = [vocab[w] for w in ("hello", "world", "how", "are", "you", "?")]
    b = model.TINY_BERT
    h, i, n_pos = b["hidden_size"], b["intermediate_size"], b["max_position_embeddings"]
    layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h  # attention, norms, feed-forward
    bert = h * (len(vocab) + n_pos + b["type_vocab_size"]) + 2 * h + b["num_hidden_layers"] * layer + h * h + h
    cfg = config.LabConfig.tiny()
    g = cfg.hidden_dim  # 2 layers, 2 directions, 3 gates of (input + hidden weights + 2 biases)
    gru = 2 * 3 * g * (h + g + 2) + 2 * 3 * g * (2 * g + g + 2)
    head = 2 * g + 1
    n_train = 2 * cfg.n_synthetic  # n_synthetic training reviews per class
    n_test = 2 * (cfg.n_synthetic_test or cfg.n_synthetic)
    split = [round(cfg.train_fraction * n_train), n_train - round(cfg.train_fraction * n_train), n_test]
    return [
        ("lab.vocab_size", len(vocab), len(vocab) - 1),
        ("lab.token_ids", ids, ids[::-1]),
        ("lab.split_sizes", split, split[::-1]),
        ("lab.n_params", bert + gru + head, gru + head),
        ("lab.n_trainable", gru + head, bert + gru + head),
    ]


def _assert_right_and_wrong(question, right, wrong) -> None:
    ok = checks.verify(question, right)
    assert ok.ok and ok.message == f"{question}: correct.", ok.message
    bad = checks.verify(question, wrong)
    assert not bad.ok
    assert bad.message.startswith(f"{question}: ") and bad.message.endswith(checks.specs()[question].hint)
    assert ": not yet. Hint: " in bad.message


@pytest.mark.parametrize("question,right,wrong", COMMON + FULL, ids=lambda v: v if isinstance(v, str) else "")
def test_full_mode(monkeypatch: pytest.MonkeyPatch, question, right, wrong) -> None:
    monkeypatch.setenv("COURSE_TINY", "0")
    _assert_right_and_wrong(question, right, wrong)


def test_tiny_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_TINY", "1")
    for question, right, wrong in COMMON + _tiny_answers():
        _assert_right_and_wrong(question, right, wrong)
    # a full-mode answer is wrong in tiny mode
    assert not checks.verify("lab.vocab_size", 30522).ok


def test_floats_pass_within_one_unit_of_the_stated_last_decimal_only() -> None:
    norm = 3 * math.sqrt(2)  # 4.2426...: the prompt asks for 2 decimals, 4.24
    assert checks.verify("q3.norms", [4.24, 3.0, 4.24]).ok and checks.verify("q3.norms", [norm + 0.009, 3.009, norm]).ok
    assert not checks.verify("q3.norms", [norm + 0.025, 3.0, norm]).ok
    assert checks.verify("q2.output_a", 0.49).ok and not checks.verify("q2.output_a", 0.48).ok


def test_shape_and_type_mistakes_are_explained(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "_VERDICTS", {})
    assert "expected 3 value(s), got 2" in checks.verify("q3.norms", [1.0, 2.0]).message
    assert "cannot use this answer" in checks.verify("lab.vocab_size", "many").message
    assert "cannot use this answer" in checks.verify("lab.vocab_size", 3.5).message
    assert checks.verify("q3.norms", ...).message == ("q3.norms: no answer yet: replace the ... above with your "
                                                      "answer, then run this cell again.")
    checks.check("q2.output_a", 0.5)
    checks.check("q3.norms", ...)
    checks.check("q2.output_b", 0.5)
    assert capsys.readouterr().out.splitlines() == [
        "q2.output_a: correct.", checks.verify("q3.norms", ...).message, checks.verify("q2.output_b", 0.5).message]
    assert checks.verdicts() == {
        "q2.output_a": True, "q3.norms": False, "q2.output_b": False}
    with pytest.raises(KeyError, match="unknown check 'q9'"):
        checks.verify("q9", 1)


def _answer_texts(value) -> list[str]:
    """Ways an answer could be spelled in a message: each number and its rounded forms."""
    if callable(value) or isinstance(value, (sp.Basic, dict)):
        return [str(value)]
    flat = _forms.flat(value) if isinstance(value, (list, tuple)) else [value]
    texts = []
    for v in flat:
        v = float(v)
        texts += [f"{v:.3f}", f"{v:.2f}"] if not v.is_integer() else [str(int(v))]
    return [t for t in texts if len(t) > 1]  # single digits occur in "entries 0, 2 of 0..2"


@pytest.mark.parametrize("mode_value", ["0", "1"])
def test_messages_never_contain_the_answer(monkeypatch: pytest.MonkeyPatch, mode_value: str) -> None:
    monkeypatch.setenv("COURSE_TINY", mode_value)
    cases = COMMON + (FULL if mode_value == "0" else _tiny_answers())
    for question, right, wrong in cases:
        for value in (right, wrong):
            message = checks.verify(question, value).message
            leaked = [t for t in _answer_texts(right) if t in message]
            assert not leaked, (question, message, leaked)


def test_committed_registry_is_what_the_package_computes() -> None:
    assert registry.build_registry() == checks.load_registry(), "stale: python -m course_staff.registry --write"
    assert checks.REGISTRY.read_text(encoding="utf-8") == registry.dump_registry(checks.load_registry())


def test_pinned_entries_can_only_be_set_for_pinned_questions() -> None:
    committed = checks.load_registry()
    assert registry.pin(committed, "lab.token_ids", "full", [7592, 2088, 2129, 2024, 2017, 1029]) == committed
    with pytest.raises(ValueError, match="computed, not pinned"):
        registry.pin(committed, "lab.n_params", "full", 1)


def test_register_validates_specs_and_judges_are_guarded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "_SPECS", dict(checks.specs()))
    with pytest.raises(ValueError, match="needs judge="):
        checks.register("t.bad", checks.Spec("judge", "hint"))
    with pytest.raises(ValueError, match="registered twice"):
        checks.register("q2.output_a", checks.Spec("float", "another hint", precision=2))
    checks.register("q2.output_a", checks.specs()["q2.output_a"])  # a reloaded module: same spec, fine
    with pytest.raises(ValueError, match="old name of q2.output_a"):
        checks.register("q2.tie_output", checks.specs()["q2.output_a"])  # a renamed id stays an alias

    def judge(value):
        if value is None:
            raise checks.NoAnswer("write the function first.")
        if value == "boom":
            raise RuntimeError("the student's code failed")
        return value == 42, "think again. "

    checks.register("t.judge", checks.Spec("judge", "The hint.", judge=judge))
    assert checks.verify("t.judge", 42).message == "t.judge: correct."
    assert checks.verify("t.judge", 41).message == "t.judge: not yet. Hint: think again. The hint."
    assert checks.verify("t.judge", None).message == "t.judge: no answer yet: write the function first."
    assert checks.verify("t.judge", "boom").message == ("t.judge: not yet. Hint: cannot use this answer "
                                                        "(RuntimeError: the student's code failed). The hint.")


def test_an_old_id_is_checked_as_its_new_one_and_recorded_as_called(monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(checks, "_VERDICTS", {})
    for old, new in checks.ALIASES.items():
        assert checks.canonical_id(old) == new and new in checks.specs() and old not in checks.specs()
    checks.check("q2.tie_output", 0.5)  # an older handout's check cell
    checks.check("q2.even_larger_output", 0.5)
    assert capsys.readouterr().out.splitlines()[0] == "q2.tie_output: correct."
    assert checks.verdicts() == {"q2.tie_output": True, "q2.even_larger_output": False}
    assert checks.canonical_id("q3.norms") == "q3.norms"
