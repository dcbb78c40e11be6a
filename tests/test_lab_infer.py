"""predict_sentiment on single texts, lists, long texts, bad input and any Unicode; the plots."""

from __future__ import annotations

import pytest
import torch

from course_utils.lab import text
from course_utils.lab.infer import (RecordingLoss, padding_effect, predict_batches, predict_sentiment,
                                          shared_predictions)
from course_utils.lab.model import build_model, load_bert
from course_utils.lab.plots import confusion_matrix, plot_confusion, plot_history

SIZES = dict(output_dim=1, n_layers=2, bidirectional=True, dropout=0.25)  # the lab's head but for its width


@pytest.fixture(scope="module")
def model_and_tokenizer():
    tok = text.load_tokenizer(tiny=True)
    return build_model(load_bert(tiny=True, vocab_size=len(tok), seed=0), hidden_dim=10, **SIZES, seed=0), tok


def _oracle(model, tok, sentence: str) -> float:
    """P(positive) computed without the package's model code: BERT, then torch's own nn.GRU over the one
    (unpadded) review, its last layer's two final states into the linear layer (eval mode: no dropout)."""
    ids = torch.tensor([text.encode(tok, [sentence])[0]])
    with torch.no_grad():
        states = model.bert(input_ids=ids).last_hidden_state  # (1, T, E)
        _, hidden = model.rnn(states)  # (n_layers * 2, 1, H)
        return torch.sigmoid(model.out(torch.cat([hidden[-2], hidden[-1]], dim=1))).item()


def test_single_and_batched_predictions_agree(model_and_tokenizer):
    model, tok = model_and_tokenizer
    model.train()  # predict_sentiment must switch dropout off itself
    reviews = ["the acting was great .", "i did not find the plot funny , but the music was good .", "bad"]
    single = [predict_sentiment(model, tok, r) for r in reviews]
    assert all(isinstance(p, float) and 0.0 < p < 1.0 for p in single)
    assert not model.training
    assert single == pytest.approx([_oracle(model, tok, r) for r in reviews], abs=1e-6)
    batched = predict_sentiment(model, tok, reviews)
    assert isinstance(batched, list) and batched == pytest.approx(single, abs=1e-5)
    assert predict_sentiment(model, tok, []) == []


def test_long_reviews_are_truncated_to_the_first_510_pieces(model_and_tokenizer):
    model, tok = model_and_tokenizer
    head = "the plot was good . " * 102  # 510 word pieces
    p = predict_sentiment(model, tok, head + "terrible " * 5000)
    assert p == pytest.approx(_oracle(model, tok, head), abs=1e-6)


@pytest.mark.parametrize("bad, error, message", [
    ("", ValueError, "empty or only whitespace"),
    ("  \n\t ", ValueError, "empty or only whitespace"),
    (None, TypeError, "not NoneType"),
    (42, TypeError, "not int"),
    (["fine", 3.5], TypeError, "review 1 is a float"),
    (["fine", " "], ValueError, "review 1 is empty"),
])
def test_bad_input_gets_a_clear_error(model_and_tokenizer, bad, error, message):
    model, tok = model_and_tokenizer
    with pytest.raises(error, match=message):
        predict_sentiment(model, tok, bad)


def test_any_unicode_works(model_and_tokenizer):
    model, tok = model_and_tokenizer
    for review in ["🍿🎬 great 😀", "日本の映画", "Ελληνικά", "a\u0301 mixed ✓ review"]:
        assert 0.0 < predict_sentiment(model, tok, review) < 1.0
    # The uncased tokenizer strips accents, so accented and plain spellings agree exactly.
    assert predict_sentiment(model, tok, "Thé plöt wás GOOD") == predict_sentiment(model, tok, "the plot was good")


def test_predict_batches_returns_probabilities_and_labels(model_and_tokenizer):
    from course_utils.lab.batching import collate

    model, tok = model_and_tokenizer
    ids = text.encode(tok, ["good", "not good at all", "bad"])
    probs, labels = predict_batches(model, [collate([(ids[0], 1), (ids[1], 0)]), collate([(ids[2], 0)])])
    assert labels.tolist() == [1.0, 0.0, 0.0]
    assert probs.tolist() == pytest.approx(predict_sentiment(model, tok, ["good", "not good at all", "bad"]), abs=1e-5)


def _batches(tok):
    from course_utils.lab.batching import collate

    ids = text.encode(tok, ["good", "not good at all", "bad", "the plot was clever ."])
    return [collate([(ids[0], 1), (ids[1], 0)]), collate([(ids[2], 0), (ids[3], 1)])]


def test_the_confusion_matrix_reuses_the_logits_an_evaluation_loop_gave_its_loss(model_and_tokenizer, monkeypatch):
    from course_staff.keys import lab as lab_key
    from course_utils.lab import infer

    model, tok = model_and_tokenizer
    batches = _batches(tok)
    want = predict_batches(model, batches)
    criterion = RecordingLoss(torch.nn.BCEWithLogitsLoss())
    loss, _ = lab_key.evaluate(model, batches, criterion)
    assert loss == pytest.approx(lab_key.evaluate(model, batches, torch.nn.BCEWithLogitsLoss())[0])  # the same loss
    monkeypatch.setattr(infer, "predict_batches", lambda *a: pytest.fail("ran the model again"))
    probs, labels = shared_predictions(criterion, model, batches, 4)
    assert labels.tolist() == want[1].tolist() and probs.tolist() == pytest.approx(want[0].tolist(), abs=1e-6)


@pytest.mark.parametrize("calls", [0, 1, 3])  # a loop that computed its loss another way, stopped early, or twice
def test_predictions_are_computed_again_when_the_loop_did_not_give_each_review_once(model_and_tokenizer, calls):
    model, tok = model_and_tokenizer
    batches = _batches(tok)
    criterion = RecordingLoss(torch.nn.BCEWithLogitsLoss())
    for batch in (batches * 2)[:calls]:
        criterion(torch.zeros(len(batch.labels)), batch.labels.float())
    probs, labels = shared_predictions(criterion, model, batches, 4)
    want = predict_batches(model, batches)
    assert labels.tolist() == want[1].tolist() and probs.tolist() == pytest.approx(want[0].tolist(), abs=1e-6)


def test_confusion_matrix_counts_and_plots():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    probs = torch.tensor([0.9, 0.2, 0.7, 0.4, 0.6, 0.1])
    labels = torch.tensor([1.0, 1.0, 0.0, 0.0, 1.0, 0.0])
    assert confusion_matrix(probs, labels).tolist() == [[2, 1], [1, 2]]
    fig = plot_confusion(probs, labels)
    assert "66.67%" in fig.axes[0].get_title()
    history = {"epoch": [1, 2], "train_loss": [0.6, 0.3], "valid_loss": [0.5, 0.4],
               "train_acc": [0.7, 0.9], "valid_acc": [0.75, 0.8], "epoch_time": [1.0, 1.0]}
    fig = plot_history(history)
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    assert list(fig.axes[0].lines[1].get_ydata()) == [0.5, 0.4]
    plt.close("all")


def test_padding_effect_is_nil_with_mask_and_packing_and_large_without(model_and_tokenizer):
    model, tok = model_and_tokenizer
    effect = padding_effect(model, tok, ["good", "the plot was not good . i found the music quite dull .", "bad ."])
    assert effect["masked"] < 1e-5
    assert effect["unmasked"] > 1e-3
