"""Tokenizers, encoding, length-bucketed batches."""

from __future__ import annotations

import random

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils.lab import batching, text
from course_utils.lab.batching import BucketBatchSampler, EncodedReviews, TokenBatch


def test_tiny_tokenizer_keeps_bert_base_special_ids():
    tok = text.load_tokenizer(tiny=True)
    assert {t: tok.convert_tokens_to_ids(t) for t in text.SPECIAL_IDS} == text.SPECIAL_IDS
    assert tok.pad_token_id == 0 and tok.cls_token_id == 101 and tok.sep_token_id == 102
    assert len(tok) == len(text.tiny_vocabulary()) == tok.vocab_size
    assert text.vocabulary_of(tok) == text.tiny_vocabulary()
    tokens = tok.tokenize("Hello WORLD how ARE you?")
    assert tokens == ["hello", "world", "how", "are", "you", "?"]
    ids = tok.convert_tokens_to_ids(tokens)
    assert [text.tiny_vocabulary()[i] for i in ids] == tokens
    assert tok.tokenize("zebra") == ["[UNK]"]


def test_encode_adds_specials_and_truncates_to_512():
    tok = text.load_tokenizer(tiny=True)
    short, long = text.encode(tok, ["the plot was good .", "good " * 2000])
    assert short[0] == 101 and short[-1] == 102 and len(short) == 2 + 5
    assert len(long) == 512 and long[0] == 101 and long[-1] == 102
    assert text.max_length(tok) == 512
    tok.model_max_length = 10**30  # what a tokenizer without a limit reports
    assert text.max_length(tok) == 512
    assert len(text.encode(tok, ["good " * 2000], limit=20)[0]) == 20


def test_collate_pads_masks_and_measures():
    batch = batching.collate([([101, 7, 8, 102], 1), ([101, 102], 0), ([101, 5, 102], 1)], pad_id=0)
    assert isinstance(batch, TokenBatch) and len(batch) == 3
    assert batch.input_ids.tolist() == [[101, 7, 8, 102], [101, 102, 0, 0], [101, 5, 102, 0]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]]
    assert batch.lengths.tolist() == [4, 2, 3]
    assert batch.labels.dtype == torch.float32 and batch.labels.tolist() == [1.0, 0.0, 1.0]
    assert batch.input_ids.dtype == batch.attention_mask.dtype == batch.lengths.dtype == torch.long
    assert batch.to("cpu").input_ids.equal(batch.input_ids)


@settings(max_examples=40, deadline=None)
@given(lengths=st.lists(st.integers(1, 60), min_size=1, max_size=300), batch_size=st.integers(1, 40),
       shuffle=st.booleans(), epoch=st.integers(0, 5))
def test_every_review_exactly_once_per_epoch(lengths, batch_size, shuffle, epoch):
    sampler = BucketBatchSampler(lengths, batch_size, shuffle=shuffle, seed=3, pool_batches=3)
    sampler.set_epoch(epoch)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert len(batches) == len(sampler)
    assert all(1 <= len(b) <= batch_size for b in batches)
    assert sum(len(b) < batch_size for b in batches) <= (1 if not shuffle else -(-len(lengths) // (3 * batch_size)))


def test_buckets_group_similar_lengths_and_shuffle_by_epoch():
    rng = random.Random(0)
    lengths = [rng.randint(5, 500) for _ in range(2000)]
    sampler = BucketBatchSampler(lengths, 32, shuffle=True, seed=1)
    first = list(sampler)
    assert list(sampler) == first  # same epoch, same order
    sampler.set_epoch(1)
    assert list(sampler) != first
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in first) / len(first)
    assert spread < 0.1 * (500 - 5)  # random batches would spread over ~90% of the range
    padding = sum(len(b) * max(lengths[i] for i in b) - sum(lengths[i] for i in b) for b in first)
    assert padding < 0.05 * sum(lengths)
    ordered = list(BucketBatchSampler(lengths, 32, shuffle=False))
    flat = [lengths[i] for b in ordered for i in b]
    assert flat == sorted(lengths)


def test_bucket_loader_yields_token_batches():
    ids = [[101] + [7] * n + [102] for n in (3, 1, 4, 1, 5, 9, 2, 6)]
    loader = batching.bucket_loader(EncodedReviews(ids, [0, 1] * 4), batch_size=3, shuffle=True, seed=0)
    batches = list(loader)
    assert [len(b) for b in batches].count(3) == 2 and sum(len(b) for b in batches) == 8
    for b in batches:
        assert b.input_ids.shape == b.attention_mask.shape
        assert b.input_ids.shape[1] == int(b.lengths.max())
        assert b.attention_mask.sum(1).equal(b.lengths)
