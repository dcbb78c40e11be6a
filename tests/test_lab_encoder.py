"""Any BERT-family encoder: the built-in tiny one, a checkpoint folder, a hub name; what a bad folder says."""

from __future__ import annotations

import json

import pytest
import torch

from course_utils.cli import main
from course_utils.lab import encoder, model, text
from course_utils.lab.config import LabConfig


def test_tiny_tokenizer_is_fast_and_keeps_bert_base_special_ids():
    tok = text.load_tokenizer(tiny=True)
    assert tok.is_fast and len(tok) == len(text.tiny_vocabulary())
    assert [tok.cls_token_id, tok.sep_token_id, tok.pad_token_id, tok.unk_token_id] == [101, 102, 0, 100]
    words = text.tiny_vocabulary()
    assert tok("the acting was great")["input_ids"] == [101] + [words.index(w) for w in "the acting was great".split()] + [102]


def test_a_repeated_word_in_a_vocabulary_is_refused():
    with pytest.raises(ValueError, match="kept 105 of 106 words"):
        text.tokenizer_from_vocabulary(text.tiny_vocabulary()[:105] + ["[PAD]"])


def test_builtin_is_chosen_by_name_and_by_mode_when_no_name():
    assert encoder.is_builtin(True, None) and not encoder.is_builtin(False, None)
    assert encoder.is_builtin(False, "tiny-bert") and not encoder.is_builtin(True, "bert-base-uncased")
    assert LabConfig.tiny().builtin_bert and not LabConfig().builtin_bert


def test_folder_is_loaded_like_the_model_it_was_saved_from(saved_tiny_bert):
    tok, bert = text.load_tokenizer(False, str(saved_tiny_bert)), model.load_bert(False, name=str(saved_tiny_bert))
    reference = model.load_bert(True, seed=5)
    assert tok.is_fast and tok.get_vocab() == text.load_tokenizer(True).get_vocab()
    assert not bert.training
    ids = torch.tensor([tok("the plot was not good")["input_ids"]])
    with torch.no_grad():
        assert torch.equal(bert(input_ids=ids).last_hidden_state, reference(input_ids=ids).last_hidden_state)


def test_resolve_keeps_names_and_makes_folders_absolute(saved_tiny_bert, monkeypatch):
    assert encoder.resolve("bert-base-uncased") == "bert-base-uncased"
    assert encoder.resolve("sentence-transformers/all-MiniLM-L6-v2") == "sentence-transformers/all-MiniLM-L6-v2"
    assert encoder.resolve("tiny-bert") == "tiny-bert"
    monkeypatch.chdir(saved_tiny_bert.parent)
    assert encoder.resolve(saved_tiny_bert.name) == str(saved_tiny_bert)
    assert encoder.resolve(f"./{saved_tiny_bert.name}/") == str(saved_tiny_bert)


@pytest.mark.parametrize("files, missing", [
    ({}, "no config.json, no model.safetensors or pytorch_model.bin, no tokenizer.json or vocab.txt"),
    ({"config.json": "{}", "model.safetensors": "", "vocab.txt": ""}, "has no model_type"),
    ({"config.json": "[1]", "pytorch_model.bin": "", "tokenizer.json": ""}, "is not a JSON object"),
    ({"config.json": '{"model_type": "bert"}', "vocab.txt": ""}, "no model.safetensors or pytorch_model.bin"),
])
def test_a_folder_that_is_no_checkpoint_names_what_is_missing(tmp_path, files, missing):
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    with pytest.raises(encoder.EncoderError, match=missing) as err:
        encoder.resolve(str(tmp_path))
    assert "\n" not in str(err.value)


def test_a_path_that_is_no_folder_is_an_error_not_a_hub_name(tmp_path):
    for name in (str(tmp_path / "nope"), "./nope", "a/b/c"):
        with pytest.raises(encoder.EncoderError, match=f"no folder {name}"):
            encoder.resolve(name)


def test_a_hub_name_that_cannot_be_loaded_is_one_line(monkeypatch):
    def offline(cls, name):  # what transformers raises without network (no hub is reachable in tests)
        raise OSError(f"We couldn't connect to 'https://huggingface.co' to load the files.\nCheck {name}")

    monkeypatch.setattr(encoder.AutoTokenizer, "from_pretrained", classmethod(offline))
    with pytest.raises(encoder.EncoderError, match="cannot load the tokenizer of 'no-such-org/no-such-bert'") as err:
        text.load_tokenizer(False, "no-such-org/no-such-bert")
    assert "\n" not in str(err.value)


def test_lab_cli_with_a_bad_bert_folder_exits_2_with_one_line(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    assert main(["lab", "--bert", str(tmp_path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"course-utils lab: {tmp_path} is not a BERT checkpoint")
    assert "model.safetensors" in err and "Traceback" not in err
