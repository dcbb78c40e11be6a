"""The BERT-GRU model: parameter counts, masking and packing, the two halves, freezing."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence
from transformers import BertConfig, BertModel

from course_utils.lab import batching, text
from course_utils.lab import model as model_mod
from course_staff.keys.lab import count_parameters, freeze_bert
from course_utils.lab.model import (
    BERTGRUSentiment,
    gru_final_states,
    load_bert,
    reverse_within,
)

SIZES = dict(output_dim=1, n_layers=2, bidirectional=True, dropout=0.25)  # the lab's head but for its width

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


def _packed_final_states(rnn: nn.GRU, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Oracle: ``nn.GRU`` on a packed sequence; the top layer's final state(s), (B, H) or (B, 2H)."""
    _, hidden = rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    return torch.cat((hidden[-2], hidden[-1]), dim=1) if rnn.bidirectional else hidden[-1]


@pytest.mark.parametrize("n_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("train", [False, True])
def test_unpacked_gru_equals_packed_values_and_gradients(n_layers, bidirectional, train):
    """Random lengths (one review full length, one of length 1); train mode with dropout 0, or eval mode."""
    gen = torch.Generator().manual_seed(10 * n_layers + 2 * bidirectional + train)
    rnn = nn.GRU(13, 6, num_layers=n_layers, bidirectional=bidirectional, batch_first=True,
                 dropout=0.0 if train else 0.4 * (n_layers > 1)).train(train)
    lengths = torch.randint(1, 18, (7,), generator=gen)
    lengths[2], lengths[5] = 17, 1
    x = torch.randn(7, 17, 13, generator=gen)
    weights = torch.randn(7, 6 * (1 + bidirectional), generator=gen)  # a loss that uses every output
    results = []
    for fn in (gru_final_states, _packed_final_states):
        rnn.zero_grad()
        xg = x.clone().requires_grad_()
        states = fn(rnn, xg, lengths)
        (states * weights).sum().backward()
        results.append((states.detach(), xg.grad, {k: p.grad.clone() for k, p in rnn.named_parameters()}))
    (ours, our_x, our_p), (oracle, oracle_x, oracle_p) = results
    assert ours.shape == oracle.shape == (7, 6 * (1 + bidirectional))
    assert (ours - oracle).abs().max().item() < 1e-5
    assert (our_x - oracle_x).abs().max().item() < 1e-5
    for row, n in enumerate(lengths.tolist()):
        assert our_x[row, n:].abs().sum().item() == 0.0  # nothing flows into the padding
    assert our_p.keys() == oracle_p.keys()
    for name in oracle_p:
        assert (our_p[name] - oracle_p[name]).abs().max().item() < 1e-5, name


def test_model_logits_and_gradients_equal_the_packed_model():
    """The whole head: classify against nn.GRU + pack_padded_sequence + the same linear layer."""
    model = _tiny_model(hidden_dim=9).eval()
    gen = torch.Generator().manual_seed(3)
    embedded = torch.randn(6, 21, 32, generator=gen)
    lengths = torch.tensor([21, 3, 1, 14, 20, 8])
    logits = model.classify(embedded, lengths)
    logits.sum().backward()
    ours = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    expected = model.out(_packed_final_states(model.rnn, embedded, lengths))
    expected.sum().backward()
    assert (logits - expected).abs().max().item() < 1e-5
    oracle = {k: p.grad for k, p in model.named_parameters() if p.grad is not None}
    assert ours.keys() == oracle.keys() and all((ours[k] - oracle[k]).abs().max() < 1e-5 for k in oracle)


def test_dropout_between_layers_only_in_training():
    rnn = nn.GRU(8, 5, num_layers=2, bidirectional=True, batch_first=True, dropout=0.5)
    x, lengths = torch.randn(4, 9, 8), torch.tensor([9, 2, 5, 7])
    torch.manual_seed(0)
    first = gru_final_states(rnn, x, lengths)
    torch.manual_seed(0)
    assert torch.equal(first, gru_final_states(rnn, x, lengths))  # the draws come from torch's seeded RNG
    rnn.eval()
    assert (first - gru_final_states(rnn, x, lengths)).abs().max().item() > 1e-3
    assert (gru_final_states(rnn, x, lengths) - _packed_final_states(rnn, x, lengths)).abs().max().item() < 1e-5


def test_each_direction_runs_as_torch_gru_with_the_model_weights():
    """_direction: one direction of one layer equals a 1-layer nn.GRU holding those weights, forwards
    and in its gradients, in training and eval mode; and no nn.GRU is built per call."""
    rnn = nn.GRU(8, 5, num_layers=2, bidirectional=True, batch_first=True)
    x = {0: torch.randn(3, 6, 8), 1: torch.randn(3, 6, 10)}
    for mode in (True, False):
        rnn.train(mode)
        for layer in (0, 1):
            for suffix in ("", "_reverse"):
                oracle = nn.GRU(x[layer].shape[2], 5, batch_first=True)
                with torch.no_grad():
                    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                        getattr(oracle, f"{name}_l0").copy_(getattr(rnn, f"{name}_l{layer}{suffix}"))
                ours = model_mod._direction(rnn, x[layer], layer, suffix)
                assert torch.equal(ours, oracle(x[layer])[0])
                rnn.zero_grad()
                ours.square().sum().backward()
                oracle(x[layer])[0].square().sum().backward()
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    assert torch.allclose(getattr(rnn, f"{name}_l{layer}{suffix}").grad, getattr(oracle, f"{name}_l0").grad)
    built = []
    original = nn.GRU.__init__
    try:
        nn.GRU.__init__ = lambda self, *a, **k: (built.append(a), original(self, *a, **k))[1]
        gru_final_states(rnn, x[0], torch.tensor([6, 1, 4]))
    finally:
        nn.GRU.__init__ = original
    assert built == []


def test_reverse_within_reverses_the_real_steps_and_keeps_the_padding():
    x = torch.arange(2 * 5 * 3).reshape(2, 5, 3)
    flipped = reverse_within(x, torch.tensor([3, 5]))
    assert flipped[0].tolist() == [x[0, 2].tolist(), x[0, 1].tolist(), x[0, 0].tolist(),
                                   x[0, 3].tolist(), x[0, 4].tolist()]
    assert torch.equal(flipped[1], x[1].flip(0))
    assert torch.equal(reverse_within(flipped, torch.tensor([3, 5])), x)


def test_bad_lengths_are_refused_with_the_range():
    rnn = nn.GRU(4, 3, batch_first=True)
    for bad in ([0, 2], [2, 6], [2]):
        with pytest.raises(ValueError, match=r"lengths must be 2 values in \[1, 5\]"):
            gru_final_states(rnn, torch.randn(2, 5, 4), torch.tensor(bad))


def test_the_head_registers_only_the_bidirectional_gru():
    """No hidden per-direction GRU among the parameters: the state dict is nn.GRU's, checkpoints still load."""
    model = _tiny_model(hidden_dim=11)
    reference = nn.GRU(32, 11, num_layers=2, bidirectional=True, batch_first=True, dropout=0.25)
    head = {k for k in model.state_dict() if not k.startswith("bert.")}
    assert head == {f"rnn.{k}" for k in reference.state_dict()} | {"out.weight", "out.bias"}
    assert [m for m in model.modules() if isinstance(m, nn.GRU)] == [model.rnn]
    model.rnn.load_state_dict(reference.state_dict())  # an nn.GRU's weights load as they are


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


def test_build_model_seeds_the_head_and_leaves_freezing_to_the_lab():
    bert = load_bert(tiny=True, vocab_size=VOCAB, seed=0)
    a = model_mod.build_model(bert, hidden_dim=9, **SIZES, seed=2)
    b = model_mod.build_model(bert, hidden_dim=9, **SIZES, seed=2)
    assert all(torch.equal(p, q) for p, q in zip(a.rnn.parameters(), b.rnn.parameters()))
    assert count_parameters(a, trainable_only=True) == count_parameters(a)  # freezing is Q2c, the student's
    assert count_parameters(freeze_bert(a), trainable_only=True) == count_parameters(a) - count_parameters(bert)


def test_the_attention_mask_adds_the_dtypes_minimum_and_padded_keys_get_weight_zero():
    """The key's wording: BERT's mask adds ``torch.finfo(dtype).min`` (not -inf) to the scores of padded keys,
    and after the softmax their attention weight is exactly 0. (``transformers.BertModel``, full mode's BERT;
    the tiny mode's ``TinyBert`` computes the same outputs, ``tests/test_tiny_bert.py``.)"""
    torch.manual_seed(0)
    bert = BertModel(model_mod.tiny_bert_config(30)).eval()
    if hasattr(bert, "set_attn_implementation"):
        bert.set_attn_implementation("eager")  # attention weights are returned by the eager path only
    else:
        bert.config._attn_implementation = "eager"
    seen = []
    layer = bert.encoder.layer[0].attention.self
    layer.register_forward_pre_hook(lambda m, args, kwargs: seen.extend(
        t for t in (*args, *kwargs.values()) if torch.is_tensor(t) and t.is_floating_point() and t.dim() == 4),
        with_kwargs=True)
    ids, mask = torch.tensor([[2, 5, 6, 0]]), torch.tensor([[1, 1, 1, 0]])
    with torch.no_grad():
        out = bert(input_ids=ids, attention_mask=mask, output_attentions=True)
    additive = seen[0].reshape(-1, 4)[0]
    assert additive[3].item() == torch.finfo(additive.dtype).min and torch.all(additive[:3] == 0)
    assert all(float(a[..., 3].abs().max()) == 0.0 for a in out.attentions)


def test_eval_mode_features_are_deterministic_and_half_precision_only_close():
    """The key's wording: in eval mode BERT's features are the same on every pass (deterministic); the cache
    stores them in float16, which is close to float32 but not exact."""
    bert = load_bert(tiny=True, seed=0)
    model = BERTGRUSentiment(bert, 5, 1, 1, False, 0.0).train()  # BERT stays in eval mode
    ids, mask = torch.tensor([[2, 5, 6, 7, 0]]), torch.tensor([[1, 1, 1, 1, 0]])
    first, second = model.embed(ids, mask), model.embed(ids, mask)
    assert torch.equal(first, second)
    half = first.half().float()
    assert not torch.equal(half, first) and torch.allclose(half, first, atol=1e-2)
