"""The BERT-GRU model: parameter counts, masking and packing, the two halves, freezing."""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertModel

from course_utils.sentiment import batching, text
from course_utils.sentiment import model as model_mod
from course_utils.sentiment.model import (
    BERTGRUSentiment,
    count_parameters,
    freeze_bert,
    load_bert,
)

VOCAB = 153  # every size different from the others
TINY = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=64)


def _tiny_model(hidden_dim: int = 11, output_dim: int = 1, bidirectional: bool = True) -> BERTGRUSentiment:
    torch.manual_seed(0)
    return freeze_bert(BERTGRUSentiment(BertModel(BertConfig(**TINY)), hidden_dim, output_dim, 2, bidirectional, 0.25))


@pytest.mark.slow
def test_parameter_counts_match_the_lab():
    model = BERTGRUSentiment(BertModel(BertConfig()), hidden_dim=256, output_dim=1, n_layers=2,
                             bidirectional=True, dropout=0.25)
    assert count_parameters(model) == 112_241_409
    assert count_parameters(model, trainable_only=True) == 112_241_409  # nothing frozen yet
    freeze_bert(model)
    assert count_parameters(model, trainable_only=True) == 2_759_169
    assert count_parameters(model) == 112_241_409


def test_gru_head_size_by_formula():
    model = _tiny_model(hidden_dim=11, output_dim=3)
    e, h = 32, 11
    gru = 2 * 3 * (e * h + h * h + 2 * h) + 2 * 3 * (2 * h * h + h * h + 2 * h)
    assert count_parameters(model, trainable_only=True) == gru + (2 * h * 3 + 3)


def _ragged_batch(lengths: list[int], extra_pad: int = 0) -> batching.TokenBatch:
    gen = torch.Generator().manual_seed(1)
    items = [([101] + torch.randint(104, VOCAB, (n - 2,), generator=gen).tolist() + [102], i % 2)
             for i, n in enumerate(lengths)]
    batch = batching.collate(items)
    if extra_pad:
        pad = torch.zeros(len(lengths), extra_pad, dtype=torch.long)
        batch = batching.TokenBatch(torch.cat([batch.input_ids, pad], 1), torch.cat([batch.attention_mask, pad], 1),
                                    batch.lengths, batch.labels)
    return batch


def test_logits_do_not_depend_on_padding():
    model = _tiny_model().eval()
    batch = _ragged_batch([9, 4, 17, 2, 12])
    with torch.no_grad():
        logits = model(batch.input_ids, batch.attention_mask)
        padded = _ragged_batch([9, 4, 17, 2, 12], extra_pad=23)
        more = model(padded.input_ids, padded.attention_mask)
        alone = torch.cat([model(batch.input_ids[i:i + 1, :n], batch.attention_mask[i:i + 1, :n])
                           for i, n in enumerate(batch.lengths.tolist())])
    assert logits.shape == (5, 1)
    assert (logits - more).abs().max().item() < 1e-5
    assert (logits - alone).abs().max().item() < 1e-5


def test_forward_is_classify_of_embed():
    model = _tiny_model(output_dim=2).eval()
    batch = _ragged_batch([6, 3, 8])
    with torch.no_grad():
        embedded = model.embed(batch.input_ids, batch.attention_mask)
        assert embedded.shape == (3, 8, 32)
        expected = model.bert(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
        assert torch.equal(embedded, expected)
        assert torch.equal(model(batch.input_ids, batch.attention_mask), model.classify(embedded, batch.lengths))


def test_classify_reads_only_the_real_tokens():
    """Oracle: the GRU run by hand on each unpadded sequence; last forward state and first backward state."""
    model = _tiny_model(hidden_dim=7).eval()
    embedded = torch.randn(3, 10, 32)
    lengths = torch.tensor([10, 4, 6])
    with torch.no_grad():
        logits = model.classify(embedded, lengths)
        rows = []
        for i, n in enumerate(lengths.tolist()):
            out, _ = model.rnn(embedded[i:i + 1, :n])  # (1, n, 2H): top layer's states
            rows.append(torch.cat([out[0, -1, :7], out[0, 0, 7:]]))
        expected = model.out(torch.stack(rows))
    assert torch.allclose(logits, expected, atol=1e-6)


def test_unidirectional_head_and_single_layer():
    torch.manual_seed(0)
    model = BERTGRUSentiment(BertModel(BertConfig(**TINY)), 5, 1, 1, False, 0.25).eval()
    assert model.out.in_features == 5 and model.rnn.dropout == 0.0
    batch = _ragged_batch([5, 3])
    assert model(batch.input_ids, batch.attention_mask).shape == (2, 1)


def test_bert_is_frozen_and_stays_in_eval_mode():
    model = _tiny_model()
    model.train()
    assert model.rnn.training and not model.bert.training
    batch = _ragged_batch([5, 7])
    model(batch.input_ids, batch.attention_mask).sum().backward()
    assert all(p.grad is None for p in model.bert.parameters())
    assert all(p.grad is not None for p in model.rnn.parameters())
    assert all(not p.requires_grad for p in model.bert.parameters())


def test_load_bert_tiny_is_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(5)
    before = torch.get_rng_state()
    a = load_bert(tiny=True, vocab_size=VOCAB, seed=3)
    assert torch.equal(torch.get_rng_state(), before)
    b = load_bert(tiny=True, vocab_size=VOCAB, seed=3)
    c = load_bert(tiny=True, vocab_size=VOCAB, seed=4)
    wa, wb, wc = (m.embeddings.word_embeddings.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    assert a.config.hidden_size == model_mod.TINY_BERT["hidden_size"] and a.config.vocab_size == VOCAB
    assert load_bert(tiny=True).config.vocab_size == len(text.tiny_vocabulary())


def test_build_model_seeds_the_head_and_freezes():
    bert = load_bert(tiny=True, vocab_size=VOCAB, seed=0)
    a = model_mod.build_model(bert, 9, seed=2)
    b = model_mod.build_model(bert, 9, seed=2)
    assert all(torch.equal(p, q) for p, q in zip(a.rnn.parameters(), b.rnn.parameters()))
    assert count_parameters(a, trainable_only=True) == count_parameters(a) - count_parameters(bert)
