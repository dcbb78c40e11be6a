"""The tiny mode's plain-PyTorch BERT against ``transformers.BertModel``, its oracle: names, weights, outputs."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from transformers import BertConfig, BertModel

from course_utils.lab.model import TINY_BERT, load_bert, tiny_bert_config
from course_utils.lab.tiny_bert import TinyBert

SHAPES = [  # (config overrides, batch, tokens): the lab's tiny BERT and other shapes, every size different
    (dict(vocab_size=153, **TINY_BERT), 6, 40),
    (dict(vocab_size=97, hidden_size=24, num_hidden_layers=3, num_attention_heads=3, intermediate_size=29,
          max_position_embeddings=64), 5, 64),
    (dict(vocab_size=61, hidden_size=16, num_hidden_layers=1, num_attention_heads=1, intermediate_size=7,
          max_position_embeddings=20, type_vocab_size=3), 3, 1),
]


def _pair(overrides: dict, seed: int = 5) -> tuple[BertModel, TinyBert]:
    config = BertConfig(**overrides)
    torch.manual_seed(seed)
    oracle = BertModel(config).eval()
    torch.manual_seed(seed)
    return oracle, TinyBert(config).eval()


def _inputs(vocab: int, batch: int, tokens: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (batch, tokens), generator=generator)
    lengths = torch.randint(1, tokens + 1, (batch,), generator=generator)
    lengths[0] = tokens  # one row without padding
    mask = (torch.arange(tokens)[None, :] < lengths[:, None]).long()
    return ids, mask


@pytest.mark.parametrize("overrides, batch, tokens", SHAPES)
def test_same_parameter_names_shapes_and_initial_weights(overrides, batch, tokens):
    oracle, tiny = _pair(overrides)
    want, got = oracle.state_dict(), tiny.state_dict()
    assert list(got) == list(want)
    assert all(torch.equal(got[name], want[name]) for name in want), "initial weights differ from BertModel's"
    assert sum(p.numel() for p in tiny.parameters()) == sum(p.numel() for p in oracle.parameters())


@pytest.mark.parametrize("overrides, batch, tokens", SHAPES)
def test_outputs_equal_bertmodel_with_and_without_padding(overrides, batch, tokens):
    oracle, tiny = _pair(overrides)
    ids, mask = _inputs(overrides["vocab_size"], batch, tokens)
    with torch.no_grad():
        for attention_mask in (mask, torch.ones_like(mask), None):
            want = oracle(input_ids=ids, attention_mask=attention_mask)
            got = tiny(input_ids=ids, attention_mask=attention_mask)
            assert got.last_hidden_state.shape == (batch, tokens, overrides["hidden_size"])
            torch.testing.assert_close(got.last_hidden_state, want.last_hidden_state, rtol=0, atol=1e-6)
            torch.testing.assert_close(got.pooler_output, want.pooler_output, rtol=0, atol=1e-6)
            torch.testing.assert_close(got[0], want[0], rtol=0, atol=1e-6)


def test_trained_weights_move_between_the_two_both_ways():
    oracle, tiny = _pair(SHAPES[0][0], seed=1)
    with torch.no_grad():  # weights unlike any initialisation: every parameter matters
        for param in oracle.parameters():
            param.copy_(torch.randn_like(param) * 0.3)
    tiny.load_state_dict(oracle.state_dict())
    ids, mask = _inputs(SHAPES[0][0]["vocab_size"], 4, 30, seed=3)
    with torch.no_grad():
        torch.testing.assert_close(tiny(ids, mask).last_hidden_state, oracle(ids, mask).last_hidden_state,
                                   rtol=0, atol=1e-5)
    back = BertModel(BertConfig(**SHAPES[0][0]))
    back.load_state_dict(tiny.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(back.state_dict().values(), oracle.state_dict().values()))


def test_dropout_in_training_mode_only():
    _, tiny = _pair(SHAPES[0][0])
    ids, mask = _inputs(SHAPES[0][0]["vocab_size"], 4, 30)
    with torch.no_grad():
        first, second = tiny(ids, mask).last_hidden_state, tiny(ids, mask).last_hidden_state
        assert torch.equal(first, second)
        tiny.train()
        assert not torch.equal(tiny(ids, mask).last_hidden_state, first)


def test_padding_does_not_change_the_real_tokens():
    _, tiny = _pair(SHAPES[0][0])
    ids, _ = _inputs(SHAPES[0][0]["vocab_size"], 1, 12)
    padded = torch.cat([ids, torch.zeros(1, 9, dtype=torch.long)], dim=1)
    mask = torch.cat([torch.ones(1, 12), torch.zeros(1, 9)], dim=1).long()
    with torch.no_grad():
        torch.testing.assert_close(tiny(padded, mask).last_hidden_state[:, :12], tiny(ids).last_hidden_state,
                                   rtol=0, atol=1e-6)


def test_bad_input_and_unsupported_configurations_are_clear():
    _, tiny = _pair(SHAPES[2][0])
    with pytest.raises(ValueError, match="longer than the encoder's 20 positions"):
        tiny(torch.zeros(1, 21, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(batch, tokens\)"):
        tiny(torch.zeros(21, dtype=torch.long))
    for overrides in (dict(is_decoder=True), dict(hidden_act="relu"), dict(hidden_size=30, num_attention_heads=4)):
        with pytest.raises(ValueError, match="TinyBert|multiple of"):
            TinyBert(BertConfig(**{**SHAPES[0][0], **overrides}))


def test_load_bert_tiny_is_the_seeded_bertmodel():
    tiny = load_bert(True, vocab_size=153, seed=7)
    torch.manual_seed(7)
    oracle = BertModel(tiny_bert_config(153))
    assert isinstance(tiny, TinyBert) and not tiny.training
    assert all(torch.equal(a, b) for a, b in zip(tiny.state_dict().values(), oracle.state_dict().values()))


def test_the_tiny_lab_imports_no_model_machinery():
    """What the lab notebook imports in tiny mode, in a fresh interpreter: none of the 2.2-2.4 s that
    ``BertModel`` costs (``transformers.modeling_utils``, ``torch._dynamo``, ``scipy.optimize``)."""
    code = ("import sys\n"
            "from course_utils.lab import workflow as lab, text\n"
            "from course_utils.lab.infer import predict_sentiment\n"
            "from course_utils.lab.model import BERTGRUSentiment, load_bert\n"
            "tokenizer = text.load_tokenizer(True)\n"
            "BERTGRUSentiment(load_bert(True, vocab_size=len(tokenizer)), 8, 1, 2, True, 0.25)\n"
            "print(sorted(m for m in ('transformers.modeling_utils', 'torch._dynamo', 'scipy.optimize') "
            "if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
