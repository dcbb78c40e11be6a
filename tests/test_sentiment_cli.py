"""``course-utils lab`` and ``course-utils predict`` in-process, tiny mode, temporary folders."""

from __future__ import annotations

import contextlib
import io
import re

import pytest
import torch

from course_utils.cli import main
from course_utils.sentiment.infer import predict_sentiment
from course_utils.sentiment.lab import load_lab_model


@pytest.fixture(autouse=True)
def tiny(monkeypatch):
    monkeypatch.setenv("COURSE_TINY", "1")
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)  # the tiny lab runs on one thread


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory):
    """One tiny lab run shared by the tests below: (output text, run folder)."""
    folder = tmp_path_factory.mktemp("lab")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_TINY", "1")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["lab", "--epochs", "2", "--out", str(folder / "run"), "--cache-dir", str(folder / "cache"),
                         "--no-progress"])
    assert code == 0
    return out.getvalue(), folder / "run"


def test_lab_prints_mode_epochs_and_reaches_90_percent(lab_run):
    output, run = lab_run
    assert output.startswith("Mode: tiny")
    assert len(re.findall(r"^Epoch: 0[12] \| Time: .*Train Loss: .*Val\. Loss: ", output, re.M)) == 2
    match = re.search(r"^Test Loss: (\d+\.\d{3}) \| Test Acc: (\d+\.\d{2})%$", output, re.M)
    assert match and float(match.group(2)) >= 90.0
    assert (run / "best.pt").is_file() and (run / "resume.pt").is_file()


def test_predict_prints_one_probability_per_text_equal_to_the_model(lab_run, capsys):
    _, run = lab_run
    texts = ["the acting was really great .", "i did not find the story funny .", "Avengers was great!!"]
    assert main(["predict", "--checkpoint", str(run / "best.pt"), *texts]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t", 1)[1] for line in lines] == texts
    printed = [float(line.split("\t")[0]) for line in lines]
    model, tokenizer, config = load_lab_model(run / "best.pt")
    assert config.tiny_mode and config.hidden_dim == 64
    assert printed == pytest.approx(predict_sentiment(model, tokenizer, texts), abs=5e-5)
    assert printed[0] > 0.5 > printed[1]


def test_reloaded_checkpoint_predicts_like_the_trained_model(tmp_path, capsys):
    from course_utils.sentiment.config import LabConfig
    from course_utils.sentiment.lab import build_lab_model, prepare_data, start, train_lab

    config = LabConfig.tiny().replace(epochs=1, n_synthetic=100)
    start(config)
    data = prepare_data(config, cache_dir=tmp_path / "cache", progress=False)
    model = build_lab_model(config, data.tokenizer)
    train_lab(model, data, config, tmp_path / "run", progress=False)  # one epoch: best.pt is this model
    reloaded, tokenizer, _ = load_lab_model(tmp_path / "run" / "best.pt")
    texts = data.test.texts[:20]
    assert predict_sentiment(reloaded, tokenizer, texts) == predict_sentiment(model, data.tokenizer, texts)


def test_missing_or_corrupt_checkpoint_is_one_line_naming_the_file(tmp_path, capsys):
    missing = tmp_path / "nope.pt"
    assert main(["predict", "--checkpoint", str(missing), "good"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(missing) in err and "Traceback" not in err
    corrupt = tmp_path / "bad.pt"
    corrupt.write_bytes(b"not a checkpoint")
    assert main(["predict", "--checkpoint", str(corrupt), "good"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(corrupt) in err
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    assert main(["predict", "--checkpoint", str(foreign), "good"]) == 1
    assert str(foreign) in capsys.readouterr().err


def test_lab_with_a_malformed_data_dir_names_what_is_missing(tmp_path, capsys):
    (tmp_path / "aclImdb" / "train" / "neg").mkdir(parents=True)
    code = main(["lab", "--data-dir", str(tmp_path / "aclImdb"), "--out", str(tmp_path / "run"), "--no-progress"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"missing folder {tmp_path / 'aclImdb' / 'train' / 'pos'}" in err


def test_lab_rejects_bad_numbers(tmp_path, capsys):
    assert main(["lab", "--epochs", "0", "--out", str(tmp_path)]) == 2
    assert "--epochs must be at least 1" in capsys.readouterr().err


def test_lab_with_an_unknown_mode_says_how_to_set_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_TINY", "maybe")
    assert main(["lab", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "COURSE_TINY=1" in err


def test_full_mode_checkpoint_stores_the_head_and_rebuilds_bert(tmp_path, monkeypatch):
    """Full mode without a download: from_pretrained is replaced by the tiny (seeded) BERT and tokenizer."""
    from course_utils.sentiment import data, model, text
    from course_utils.sentiment.config import LabConfig
    from course_utils.sentiment.lab import build_lab_model, prepare_data, start, train_lab

    tiny_bert = classmethod(lambda cls, name: model.load_bert(True, seed=5))
    monkeypatch.setattr(model.BertModel, "from_pretrained", tiny_bert)
    monkeypatch.setattr(text.BertTokenizer, "from_pretrained", classmethod(lambda cls, name: text.load_tokenizer(True)))
    torch.set_num_threads(1)  # full mode keeps all threads; tiny models do not need them (restored by the fixture)
    config = LabConfig().replace(epochs=1, batch_size=16, hidden_dim=8)
    assert not config.tiny_mode
    start(config)
    root = data.synthetic_imdb(tmp_path / "cache", n_per_class=40, seed=0)
    prepared = prepare_data(config, data_dir=root, progress=False)
    trained = build_lab_model(config, prepared.tokenizer)
    train_lab(trained, prepared, config, tmp_path / "run", progress=False)
    saved = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    assert saved["meta"]["vocabulary"] is None
    assert not any(k.startswith("bert.") for k in saved["model_state"])  # BERT is not copied into the checkpoint
    reloaded, tokenizer, _ = load_lab_model(tmp_path / "run" / "best.pt")
    texts = prepared.test.texts[:10]
    assert predict_sentiment(reloaded, tokenizer, texts) == predict_sentiment(trained, prepared.tokenizer, texts)
