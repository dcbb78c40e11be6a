"""Frozen-BERT features computed once: storage choice, unpadded layout, memmap, batches, and equivalence.

The oracle for every cached feature is BERT run on that review alone (no padding, eval mode).
Tolerances: fp32 cache vs on the fly, logits within 1e-5; fp16 cache, logits within 5e-4 (fp16
rounds features to ~5e-4 relative); training 2 epochs on either source, parameters within 1e-4.
"""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import BertConfig, BertModel

from course_utils.mode import set_seed
from course_utils.lab import features
from course_utils.lab.features import (FeatureBatches, OnTheFlyFeatures, choose_storage,
                                             extract_features, open_disk_cache, passes_per_review)
from course_utils.lab.model import build_model
from course_staff.keys.lab import train_epoch

GIB = 2**30
N_REVIEWS, VOCAB, E = 23, 61, 20


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def tiny_model(dropout: float = 0.0, seed: int = 5):
    """A BERT-GRU with every size different (E=20, H=12, 3 layers of BERT, 4 heads, FFN 37)."""
    config = BertConfig(vocab_size=VOCAB, hidden_size=E, num_hidden_layers=3, num_attention_heads=4,
                        intermediate_size=37, max_position_embeddings=64, hidden_dropout_prob=0.3,
                        attention_probs_dropout_prob=0.3)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        bert = BertModel(config).eval()
    return build_model(bert, hidden_dim=12, output_dim=1, n_layers=2, bidirectional=True, dropout=dropout, seed=seed)


def reviews(n: int = N_REVIEWS, seed: int = 0) -> tuple[list[list[int]], list[int]]:
    """n token-id lists [CLS] ... [SEP] of lengths 3..40 and alternating labels."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 39, (n,), generator=g).tolist()
    ids = [[2] + torch.randint(5, VOCAB, (length,), generator=g).tolist() + [3] for length in lengths]
    return ids, [i % 2 for i in range(n)]


def alone(model, ids: list[int]) -> torch.Tensor:
    """Oracle: BERT's last hidden state of one review, unpadded, eval mode. (L, E)."""
    with torch.no_grad():
        x = torch.tensor([ids])
        return model.bert.eval()(input_ids=x, attention_mask=torch.ones_like(x)).last_hidden_state[0]


def predictions(model, batches) -> torch.Tensor:
    """Logits (n,) in review order from a FeatureBatches pass, model in eval mode."""
    model.eval()
    out = torch.empty(len(batches.source.lengths))
    with torch.no_grad():
        for batch in batches:
            out[batch.indices] = model.classify(batch.features.float(), batch.lengths).squeeze(-1)
    return out


# --- storage choice ---------------------------------------------------------------------------

def test_auto_picks_ram_when_it_fits():
    assert choose_storage(3 * GIB, torch.device("cpu"), ram=8 * GIB, disk=100 * GIB)[0] == "ram"
    assert choose_storage(4 * GIB, torch.device("cpu"), ram=8 * GIB, disk=100 * GIB)[0] == "ram"  # exactly half


def test_headroom_is_a_parameter_and_is_stated():
    choice, why = choose_storage(6 * GIB, torch.device("cpu"), ram=8 * GIB, disk=100 * GIB, headroom=0.75)
    assert choice == "ram" and why == "6.0 GiB fits in 75% of 8.0 GiB available RAM"
    assert choose_storage(1, torch.device("cpu"), ram=8 * GIB, disk=100 * GIB, headroom=0.0)[0] == "none"


def test_auto_picks_disk_when_ram_is_too_small():
    choice, why = choose_storage(5 * GIB, torch.device("cpu"), ram=8 * GIB, disk=100 * GIB)
    assert choice == "disk"
    assert "5.0 GiB" in why and "8.0 GiB available RAM" in why


def test_auto_picks_none_when_nothing_fits():
    choice, why = choose_storage(20 * GIB, torch.device("cpu"), ram=8 * GIB, disk=30 * GIB)
    assert choice == "none" and "BERT runs every epoch" in why


def test_auto_prefers_the_gpu_on_cuda_when_it_fits():
    cuda = torch.device("cuda")
    assert choose_storage(5 * GIB, cuda, gpu_free=16 * GIB, ram=8 * GIB, disk=100 * GIB)[0] == "gpu"
    assert choose_storage(13 * GIB, cuda, gpu_free=16 * GIB, ram=32 * GIB, disk=100 * GIB)[0] == "gpu"  # 3 GiB left
    assert choose_storage(14 * GIB, cuda, gpu_free=16 * GIB, ram=32 * GIB, disk=100 * GIB)[0] == "ram"


def test_bad_storage_requests_are_refused_with_the_fix():
    model, (ids, _) = tiny_model(), reviews(4)
    with pytest.raises(ValueError, match="choose one of"):
        extract_features(model, ids, storage="vram", log=None)
    with pytest.raises(ValueError, match="needs a CUDA device"):
        extract_features(model, ids, storage="gpu", device="cpu", log=None)
    with pytest.raises(ValueError, match="at least one review"):
        extract_features(model, [], log=None)


def test_the_choice_is_printed_in_one_line(capsys):
    model, (ids, _) = tiny_model(), reviews(5)
    extract_features(model, ids, storage="auto", dtype=torch.float32, log=print)
    lines = capsys.readouterr().out.splitlines()
    total = sum(map(len, ids))
    assert len(lines) == 1 and lines[0].startswith("features: storage=ram (")
    assert f"{total:,} tokens x {E} x float32" in lines[0]



def test_auto_without_fallback_refuses_when_nothing_fits():
    model, (ids, _) = tiny_model(), reviews(5)
    assert isinstance(extract_features(model, ids, log=None, headroom=0.0), OnTheFlyFeatures)  # no place has room
    with pytest.raises(features.NoRoomError,
                       match=r"no room to cache the features: .* does not fit anywhere; not ram.*on the fly"):
        extract_features(model, ids, allow_none=False, log=None, headroom=0.0)


def test_the_line_goes_to_log_and_progress_shows_a_bar(capsys):
    model, (ids, _) = tiny_model(), reviews(5)
    lines = []
    extract_features(model, ids, batch_size=2, storage="ram", log=lines.append, progress=True)
    assert len(lines) == 1 and lines[0].startswith("features: storage=ram (")
    captured = capsys.readouterr()
    assert captured.out == "" and "BERT features" in captured.err

# --- layout, memmap, passes -----------------------------------------------------------------------

@pytest.mark.parametrize("storage", ["ram", "disk"])
def test_unpadded_storage_covers_each_review_exactly_once(storage, tmp_path):
    model, (ids, _) = tiny_model(), reviews()
    cache = extract_features(model, ids, batch_size=4, storage=storage, dtype=torch.float32,
                             path=tmp_path / "f.bin", log=None)
    lengths = torch.tensor([len(x) for x in ids])
    assert torch.equal(cache.lengths, lengths)
    covered = torch.zeros(int(lengths.sum()), dtype=torch.long)
    for i in range(len(ids)):
        covered[cache.starts[i]: cache.starts[i] + lengths[i]] += 1
        torch.testing.assert_close(cache.rows(i), alone(model, ids[i]), rtol=0, atol=1e-5)
    assert cache.data.shape == (int(lengths.sum()), E) and torch.equal(covered, torch.ones_like(covered))


def test_memmap_round_trip(tmp_path):
    model, (ids, _) = tiny_model(), reviews()
    path = tmp_path / "features.bin"
    ram = extract_features(model, ids, batch_size=6, storage="ram", log=None)
    disk = extract_features(model, ids, batch_size=6, storage="disk", path=path, log=None)
    total = sum(map(len, ids))
    assert disk.storage == "disk" and disk.path == path
    assert path.stat().st_size == total * E * 2  # fp16, no padding, no header
    assert [p.name for p in tmp_path.iterdir()] == ["features.bin"]  # the temporary file was renamed
    assert ram.data.dtype == disk.data.dtype == torch.float16
    assert torch.equal(ram.starts, disk.starts) and torch.equal(ram.data, disk.data)
    assert torch.equal(open_disk_cache(path, (total, E), torch.float16), ram.data)


def test_a_temporary_disk_cache_is_removed_with_the_cache():
    model, (ids, _) = tiny_model(), reviews(6)
    cache = extract_features(model, ids, storage="disk", log=None)
    path = cache.path
    assert path.exists()
    del cache
    assert not path.exists()


def test_passes_per_review_cache_once_on_the_fly_every_epoch():
    model, (ids, labels) = tiny_model(), reviews()
    cache = extract_features(model, ids, batch_size=5, storage="ram", log=None)
    live = OnTheFlyFeatures(model, ids, "cpu")
    for source in (cache, live):
        batches = FeatureBatches(source, labels, 4, seed=1)
        for _ in range(3):
            list(batches)
    assert passes_per_review(cache) == 1.0 and cache.bert_reviews == N_REVIEWS
    assert passes_per_review(live) == 3.0


def test_extraction_uses_eval_mode_and_restores_the_mode():
    model, (ids, _) = tiny_model(), reviews(6)
    model.bert.train()  # dropout 0.3 would make every pass different
    cache = extract_features(model, ids, storage="ram", dtype=torch.float32, log=None)
    assert model.bert.training
    for i in range(len(ids)):
        torch.testing.assert_close(cache.rows(i), alone(model, ids[i]), rtol=0, atol=1e-5)


# --- batches ----------------------------------------------------------------------------------------

def test_feature_batches_cover_every_review_once_per_epoch_with_a_seeded_shuffle():
    model, (ids, labels) = tiny_model(), reviews()
    cache = extract_features(model, ids, storage="ram", dtype=torch.float32, log=None)
    batches = FeatureBatches(cache, labels, 4, shuffle=True, seed=3)
    orders = []
    for _ in range(3):
        seen = []
        for b in batches:
            assert b.features.shape == (len(b), int(b.lengths.max()), E) and len(b) <= 4
            for row, i in enumerate(b.indices.tolist()):
                assert torch.equal(b.features[row, : b.lengths[row]], cache.rows(i))
                assert not b.features[row, b.lengths[row]:].any()  # padding is zero
                assert b.labels[row] == labels[i]
            seen += b.indices.tolist()
        assert sorted(seen) == list(range(N_REVIEWS))
        orders.append(seen)
    assert orders[0] != orders[1] != orders[2]
    again = FeatureBatches(cache, labels, 4, shuffle=True, seed=3)
    assert [i for b in again for i in b.indices.tolist()] == orders[0]
    again.set_epoch(2)
    assert [i for b in again for i in b.indices.tolist()] == orders[2]


# --- accuracy is kept -----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float16, 5e-4)])
def test_cached_predictions_match_on_the_fly(dtype, tol):
    model, (ids, labels) = tiny_model(), reviews()
    cache = extract_features(model, ids, batch_size=7, storage="ram", dtype=dtype, log=None)
    cached = predictions(model, FeatureBatches(cache, labels, 5, shuffle=False))
    live = predictions(model, FeatureBatches(OnTheFlyFeatures(model, ids, "cpu"), labels, 5, shuffle=False))
    assert (cached - live).abs().max() <= tol
    assert live.abs().max() > 10 * tol  # the logits are not all ~0


def test_training_on_cached_features_matches_training_on_the_fly():
    ids, labels = reviews()
    results = []
    for kind in ("cache", "live"):
        model = tiny_model(dropout=0.25)
        source = (extract_features(model, ids, storage="ram", dtype=torch.float32, log=None)
                  if kind == "cache" else OnTheFlyFeatures(model, ids, "cpu"))
        batches = FeatureBatches(source, labels, 4, shuffle=True, seed=7)
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
        set_seed(11)  # the same dropout masks in both runs: BERT in eval mode draws no random numbers
        losses = [train_epoch(model, batches, optimizer, torch.nn.BCEWithLogitsLoss())[0]
                  for _ in range(2)]
        results.append((losses, copy.deepcopy(model.rnn.state_dict()), predictions(model, FeatureBatches(
            OnTheFlyFeatures(model, ids, "cpu"), labels, 5, shuffle=False))))
    (loss_a, state_a, pred_a), (loss_b, state_b, pred_b) = results
    assert loss_a[0] != loss_a[1]  # it trained
    torch.testing.assert_close(loss_a, loss_b, rtol=0, atol=1e-5)
    for name in state_a:
        torch.testing.assert_close(state_a[name], state_b[name], rtol=0, atol=1e-4)
    torch.testing.assert_close(pred_a, pred_b, rtol=0, atol=1e-4)
