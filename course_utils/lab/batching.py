"""Length-bucketed batches of token ids on ``torch.utils.data`` (what torchtext's BucketIterator did).

Reviews of similar length go in the same batch, so little padding is computed; the order of
the batches is shuffled with a seed that changes every epoch.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields
from typing import Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, Sampler


__all__ = ["BucketBatchSampler", "EncodedReviews", "TokenBatch", "bucket_loader", "collate", "pad_ids"]


@dataclass
class TokenBatch:
    """One padded batch of reviews.

    input_ids: (B, T) int64, padded with the tokenizer's pad id; attention_mask: (B, T) int64,
    1 on real tokens; lengths: (B,) int64, real tokens per review; labels: (B,) float32 in {0, 1}.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor

    def to(self, device: torch.device | str) -> "TokenBatch":
        """The same batch on ``device``."""
        return TokenBatch(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    def __len__(self) -> int:
        return len(self.labels)


class EncodedReviews(Dataset):
    """Token ids and labels of n reviews. ids: n lists of ints; labels: n ints in {0, 1}."""

    def __init__(self, ids: Sequence[Sequence[int]], labels: Sequence[int]) -> None:
        if len(ids) != len(labels):
            raise ValueError(f"{len(ids)} token lists but {len(labels)} labels")
        self.ids = [list(x) for x in ids]
        self.labels = [int(y) for y in labels]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[list[int], int]:
        return self.ids[i], self.labels[i]

    def lengths(self) -> list[int]:
        """Tokens per review."""
        return [len(x) for x in self.ids]


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices of similar length; every index exactly once per epoch.

    shuffle=True: indices are shuffled, cut into pools of ``pool_batches`` batches, each pool is
    sorted by length and cut into batches, and the batches are shuffled; the seed is
    ``seed + epoch`` (``set_epoch``). shuffle=False: batches in order of length (for evaluation).
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, shuffle: bool = True, seed: int = 0,
                 pool_batches: int = 50) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.pool_batches = pool_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the shuffle of ``epoch`` next time (``fit`` calls this before every epoch)."""
        self.epoch = epoch

    def __len__(self) -> int:
        # Pools hold a whole number of batches, so only the last pool can end in a short batch.
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches())

    def _batches(self) -> list[list[int]]:
        order = list(range(len(self.lengths)))
        if not self.shuffle:
            order.sort(key=lambda i: self.lengths[i])
            return [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        rng = random.Random(self.seed + self.epoch)
        rng.shuffle(order)
        pool = self.batch_size * self.pool_batches
        batches = []
        for start in range(0, len(order), pool):
            chunk = sorted(order[start:start + pool], key=lambda i: self.lengths[i])
            batches += [chunk[i:i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        rng.shuffle(batches)
        return batches


def pad_ids(ids: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad B lists of token ids to the longest: (input_ids (B, T), attention_mask (B, T), lengths (B,))."""
    lengths = torch.tensor([len(x) for x in ids], dtype=torch.long)
    input_ids = torch.full((len(ids), int(lengths.max())), pad_id, dtype=torch.long)
    for row, x in enumerate(ids):
        input_ids[row, : len(x)] = torch.as_tensor(x, dtype=torch.long)
    attention_mask = (torch.arange(input_ids.shape[1])[None, :] < lengths[:, None]).long()
    return input_ids, attention_mask, lengths


def collate(items: Sequence[tuple[Sequence[int], int]], pad_id: int = 0) -> TokenBatch:
    """Pad a list of (ids, label) pairs into a ``TokenBatch`` (T = the longest review of the batch)."""
    input_ids, attention_mask, lengths = pad_ids([ids for ids, _ in items], pad_id)
    labels = torch.tensor([label for _, label in items], dtype=torch.float32)
    return TokenBatch(input_ids, attention_mask, lengths, labels)


class _Collate:
    """Picklable ``collate`` with a fixed pad id (for DataLoader workers)."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, items: Sequence[tuple[Sequence[int], int]]) -> TokenBatch:
        return collate(items, self.pad_id)


def bucket_loader(dataset: EncodedReviews, batch_size: int, shuffle: bool, seed: int = 0,
                  pad_id: int = 0) -> DataLoader:
    """A DataLoader of ``TokenBatch`` over ``dataset`` with a ``BucketBatchSampler``."""
    sampler = BucketBatchSampler(dataset.lengths(), batch_size, shuffle=shuffle, seed=seed)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=_Collate(pad_id))
