"""``course-utils lab`` and ``course-utils predict`` in-process, tiny mode, temporary folders."""

from __future__ import annotations

import contextlib
import io
import re

import pytest
import torch

from course_staff.keys.lab import evaluate, train_epoch
from course_utils.cli import main
from course_utils.lab.config import LabConfig
from course_utils.lab.infer import predict_sentiment
from course_utils.lab.workflow import load_lab_model


@pytest.fixture(autouse=True)
def tiny(monkeypatch):
    monkeypatch.setenv("COURSE_TINY", "1")
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)  # the tiny lab runs on one thread


@pytest.fixture(scope="module")
def lab_runs(tmp_path_factory):
    """Two tiny lab runs shared by the tests below, one per --features: {features: (output text, run folder)}."""
    folder = tmp_path_factory.mktemp("lab")
    runs = {}
    for features in ("cache", "on-the-fly"):
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("COURSE_TINY", "1")
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = main(["lab", "--epochs", "2", "--out", str(folder / features), "--cache-dir",
                             str(folder / "cache"), "--no-progress", "--features", features])
        assert code == 0
        runs[features] = out.getvalue(), folder / features
    return runs


@pytest.fixture(scope="module")
def lab_run(lab_runs):
    """The cached run: (output text, run folder)."""
    return lab_runs["cache"]


@pytest.mark.parametrize("features", ["cache", "on-the-fly"])
def test_lab_prints_mode_epochs_and_reaches_90_percent(lab_runs, features):
    output, run = lab_runs[features]
    assert output.startswith("Mode: tiny")
    assert len(re.findall(r"^Epoch: 0[12] \| Time: .*Train Loss: .*Val\. Loss: ", output, re.M)) == 2
    match = re.search(r"^Test Loss: (\d+\.\d{3}) \| Test Acc: (\d+\.\d{2})%$", output, re.M)
    assert match and float(match.group(2)) >= 90.0
    assert (run / "best.pt").is_file() and (run / "resume.pt").is_file()
    storage = re.findall(r"^(train|valid|test) features: storage=ram \(.* fits in 50% of .* x float16\)$",
                         output, re.M)
    assert storage == (["train", "valid", "test"] if features == "cache" else [])


def test_after_the_first_epoch_training_numbers_look_worse_than_validation_ones(lab_run):
    """The key's Q3d claim in tiny mode: the epoch's training accuracy (a running mean while learning, dropout
    on) lies below the validation accuracy measured at its end, and its training loss above the validation loss."""
    line = re.search(r"^Epoch: 01 .*Train Loss: (\S+) Acc: (\S+)% \| Val\. Loss: (\S+) Acc: (\S+)%$", lab_run[0], re.M)
    train_loss, train_acc, valid_loss, valid_acc = map(float, line.groups())
    assert train_acc < valid_acc and train_loss > valid_loss


@pytest.mark.usefixtures("one_thread")
def test_cached_test_predictions_equal_on_the_fly_ones(lab_run, tmp_path):
    """Same trained weights, the test set both ways: P(positive) equal with float32 features; within 5e-3
    with the default float16 features (rounding of ~5e-4 relative; measured 2.0e-3 after tiny training)."""
    from course_utils.lab.infer import predict_batches
    from course_utils.lab.workflow import lab_batches, prepare_data

    _, run = lab_run
    model, _, config = load_lab_model(run / "best.pt")
    data = prepare_data(config, cache_dir=run.parent / "cache", progress=False)
    lines = []
    cached = predict_batches(model, lab_batches(model, data.test_batches, "cache", "test", False, lines.append))
    on_the_fly = predict_batches(model, lab_batches(model, data.test_batches, "on-the-fly", "test", False))
    assert len(lines) == 1 and lines[0].startswith("test features: storage=ram")
    assert torch.equal(cached[1], on_the_fly[1]) and len(cached[0]) == len(data.test) == 1200
    assert (cached[0] - on_the_fly[0]).abs().max().item() < 5e-3
    assert ((cached[0] > 0.5) == (on_the_fly[0] > 0.5)).float().mean().item() >= 0.998  # at most 2 of 1,200 flip
    exact = lab_batches(model, data.test_batches, "cache", "test", False, lines.append, dtype=torch.float32)
    assert torch.allclose(predict_batches(model, exact)[0], on_the_fly[0], rtol=0, atol=1e-6)


def test_predict_prints_one_probability_per_text_equal_to_the_model(lab_run, capsys):
    _, run = lab_run
    texts = ["the acting was really great .", "i did not find the story funny .", "Avengers was great!!"]
    assert main(["predict", "--checkpoint", str(run / "best.pt"), *texts]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t", 1)[1] for line in lines] == texts
    printed = [float(line.split("\t")[0]) for line in lines]
    model, tokenizer, config = load_lab_model(run / "best.pt")
    assert config.tiny_mode and config.hidden_dim == LabConfig.tiny().hidden_dim
    assert printed == pytest.approx(predict_sentiment(model, tokenizer, texts), abs=5e-5)
    assert printed[0] > 0.5 > printed[1]


def test_reloaded_checkpoint_predicts_like_the_trained_model(tmp_path, capsys):
    from course_utils.lab.config import LabConfig
    from course_utils.lab.workflow import build_lab_model, prepare_data, start, train_lab

    config = LabConfig.tiny().replace(epochs=1, n_synthetic=100)
    start(config)
    data = prepare_data(config, cache_dir=tmp_path / "cache", progress=False)
    model = build_lab_model(config, data.tokenizer)
    train_lab(model, data, config, tmp_path / "run", train_epoch, evaluate, progress=False)  # one epoch: best.pt
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
    assert main(["lab", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "COURSE_TINY=1" in err


def test_lab_with_a_bert_folder_records_it_and_predict_rebuilds_it(tmp_path, monkeypatch, capsys, saved_tiny_bert):
    """Full mode with --bert FOLDER (a saved tiny BERT: the pre-trained path, offline): the checkpoint stores the
    head and the folder's absolute path, not BERT; predict loads BERT from the folder again; a moved folder is
    one line."""
    import shutil

    from course_utils.lab import data

    monkeypatch.setenv("COURSE_TINY", "0")
    torch.set_num_threads(1)  # full mode keeps all threads; tiny models do not need them (restored by the fixture)
    root = data.synthetic_imdb(tmp_path / "cache", n_per_class=40, seed=0)
    encoder_dir = shutil.copytree(saved_tiny_bert, tmp_path / "encoder")
    monkeypatch.chdir(tmp_path)
    assert main(["lab", "--bert", "encoder", "--data-dir", str(root), "--epochs", "1", "--batch-size", "16",
                 "--out", "run", "--no-progress"]) == 0
    assert capsys.readouterr().out.startswith(f"Mode: full (COURSE_TINY=1: the offline tiny lab; unset or 0: the full "
                                              f"lab) | BERT: {encoder_dir}\n")
    saved = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    assert saved["meta"]["vocabulary"] is None and saved["meta"]["config"]["bert_name"] == str(encoder_dir)
    assert not any(k.startswith("bert.") for k in saved["model_state"])  # BERT is not copied into the checkpoint
    reloaded, tokenizer, config = load_lab_model(tmp_path / "run" / "best.pt")
    assert not config.tiny_mode and config.hidden_dim == 256
    texts = data.load_split(root, "test").texts[:10]
    monkeypatch.chdir(tmp_path.parent)  # predict from elsewhere: the recorded path is absolute
    assert main(["predict", "--checkpoint", str(tmp_path / "run" / "best.pt"), *texts]) == 0
    printed = [float(line.split("\t")[0]) for line in capsys.readouterr().out.splitlines()]
    assert printed == pytest.approx(predict_sentiment(reloaded, tokenizer, texts), abs=5e-5)
    shutil.rmtree(encoder_dir)
    assert main(["predict", "--checkpoint", str(tmp_path / "run" / "best.pt"), "good"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"no folder {encoder_dir}" in err


def test_predict_with_an_empty_text_is_a_usage_error(lab_run, capsys):
    _, run = lab_run
    assert main(["predict", "--checkpoint", str(run / "best.pt"), "good", "  "]) == 2
    assert capsys.readouterr().err == "course-utils predict: review 1 is empty or only whitespace: pass some text to classify\n"


def test_an_unexpected_error_keeps_its_traceback(tmp_path, monkeypatch):
    """Only expected errors become one line: a bug (here a ValueError from deep inside) propagates."""
    from course_staff import lab_run

    def broken(*args, **kwargs):
        raise ValueError("a bug, not a user error")

    monkeypatch.setattr(lab_run, "prepare_data", broken)
    with pytest.raises(ValueError, match="a bug, not a user error"):
        main(["lab", "--out", str(tmp_path / "run"), "--no-progress"])


def _counting_bert(model) -> list[int]:
    """Reviews that go through ``model.bert`` from now on, as a one-element list updated in place."""
    seen = [0]
    model.bert.register_forward_pre_hook(lambda m, args, kwargs: seen.__setitem__(0, seen[0] + len(kwargs["input_ids"])),
                                         with_kwargs=True)
    return seen


@pytest.mark.parametrize("features, passes", [("cache", 1), ("on-the-fly", 2)])
def test_bert_passes_per_review_and_resume(tmp_path, features, passes):
    """2 epochs: one BERT pass per review with the cache, one per epoch on the fly; extending the run to
    3 epochs resumes from resume.pt, and the cache is extracted again (one more pass)."""
    from course_utils.lab.config import LabConfig
    from course_utils.lab.workflow import build_lab_model, prepare_data, start, train_lab

    config = LabConfig.tiny().replace(epochs=2, n_synthetic=100)
    start(config)
    data = prepare_data(config, cache_dir=tmp_path / "cache", progress=False)
    model = build_lab_model(config, data.tokenizer)
    seen = _counting_bert(model)
    lines = []
    train_lab(model, data, config, tmp_path / "run", train_epoch, evaluate, progress=False, log=lines.append,
              features=features)
    n = len(data.train) + len(data.valid)
    assert (len(data.train), len(data.valid)) == (140, 60) and seen[0] == passes * n
    assert sum(line.startswith(("train features: storage=", "valid features: storage=")) for line in lines) == (
        2 if features == "cache" else 0)
    lines.clear()
    history = train_lab(model, data, config.replace(epochs=3), tmp_path / "run", train_epoch, evaluate,
                        progress=False, log=lines.append, features=features)
    assert history["epoch"] == [1, 2, 3] and any(line.startswith("Resuming from ") for line in lines)
    assert seen[0] == passes * n + n  # cache: extracted again; on the fly: one more epoch


def test_auto_runs_bert_on_the_fly_when_nothing_fits_and_cache_refuses(tmp_path):
    from course_utils.lab.config import LabConfig
    from course_utils.lab.workflow import build_lab_model, lab_batches, prepare_data, start

    config = LabConfig.tiny().replace(n_synthetic=20)
    start(config)
    data = prepare_data(config, cache_dir=tmp_path / "cache", progress=False)
    model = build_lab_model(config, data.tokenizer)
    lines = []
    cached = lab_batches(model, data.valid_batches, "auto", "valid", False, lines.append)
    assert cached is not data.valid_batches and cached.source.storage == "ram"
    no_room = lab_batches(model, data.valid_batches, "auto", "valid", False, lines.append, headroom=0.0)
    assert no_room is data.valid_batches
    assert lines[-1].startswith("valid features: storage=none (") and "BERT runs every epoch" in lines[-1]
    with pytest.raises(ValueError, match="no room to cache the features.*'on-the-fly'"):
        lab_batches(model, data.valid_batches, "cache", "valid", False, lines.append, headroom=0.0)
    with pytest.raises(ValueError, match="choose one of auto, cache, on-the-fly"):
        lab_batches(model, data.valid_batches, "gpu")


def test_lab_rejects_an_unknown_features_choice(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["lab", "--features", "sometimes", "--out", str(tmp_path)])
    assert "invalid choice: 'sometimes'" in capsys.readouterr().err
