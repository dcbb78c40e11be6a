"""Frozen-BERT features computed once per run and reused every epoch.

BERT is frozen, so its output for a review never changes: the lab needs one BERT pass per
review for the whole run, not one per epoch. ``extract_features`` runs BERT once over every
review, in length-sorted batches (almost no padding), under ``torch.inference_mode`` and with
BERT in **eval mode**. Eval mode matters: in train mode BERT's dropout would make the features
noisy and different on every pass, so a cache would freeze one random draw of the noise, and
cached training would no longer be the same computation as training on the fly.

Features are stored without padding: review i is rows ``starts[i] : starts[i] + lengths[i]`` of
one (total_tokens, E) tensor, in half precision by default. Measured effect of fp16 storage
(bert-base shape with random weights, 16 synthetic reviews of IMDB-like length, the lab's GRU
head freshly initialised): features differ from fp32 by at most 2.0e-3 (relative 4.9e-4, fp16's
rounding), logits by at most 6.6e-5 (logits up to 0.27). The storage is chosen from the estimated size
(tokens x E x bytes): the GPU if it fits beside a fixed working reserve (``GPU_RESERVE``), else RAM,
else a memory-mapped file on disk (each at most half full), else none (BERT on the fly every epoch);
``FeatureBatches`` then yields padded batches from either source. Feature files are locked while in
use and removed on any exit; those a killed kernel left are removed by the next extraction
(``feature_files``).
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from course_utils.lab import feature_files
from course_utils.lab.batching import BucketBatchSampler, pad_ids
from course_utils.lab.storage import (  # noqa: F401 (re-exported: the storage choice is part of this API)
    DEFAULT_HEADROOM,
    GPU_RESERVE,
    NoRoomError,
    _no_room,
    _size,
    available_ram,
    choose_storage,
    free_gpu_memory,
)

STORAGES = ("auto", "gpu", "ram", "disk", "none")


@dataclass
class FeatureBatch:
    """A padded batch of BERT features.

    features: (B, T, E), zero after each review's length; lengths: (B,) int64 on the CPU;
    labels: (B,) float32; indices: (B,) int64, the reviews' positions in the data set.
    """

    features: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor
    indices: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


def sync_device(device: torch.device) -> None:
    """Wait for queued CUDA work on ``device`` (for timing); nothing on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class OnTheFlyFeatures:
    """BERT features computed when asked (storage "none", and the reference for the cache).

    model: has ``embed(input_ids, attention_mask) -> (B, T, E)`` and a ``bert`` submodule; ids: n
    lists of token ids; ``bert_reviews`` counts the reviews that went through BERT.
    """

    def __init__(self, model: torch.nn.Module, ids: Sequence[Sequence[int]], device: torch.device | str,
                 pad_id: int = 0) -> None:
        self.model, self.ids, self.device, self.pad_id = model, ids, torch.device(device), pad_id
        self.lengths = torch.tensor([len(x) for x in ids], dtype=torch.long)
        self.bert_reviews = 0
        self.bert_seconds = self.extract_seconds = 0.0  # time inside BERT (for the overhead); nothing extracted

    def padded(self, indices: Sequence[int]) -> torch.Tensor:
        """Features of the reviews ``indices``: (B, T, E) on the device, zero after each length."""
        input_ids, mask, _ = pad_ids([self.ids[i] for i in indices], self.pad_id)
        pin = self.device.type == "cuda"
        input_ids, mask = (t.pin_memory().to(self.device, non_blocking=True) if pin else t for t in (input_ids, mask))
        bert, was_training = self.model.bert, self.model.bert.training
        bert.eval()  # dropout off: the same review always gives the same features
        try:
            sync_device(self.device)
            start = time.perf_counter()
            with torch.inference_mode():  # embed runs BERT under bert_autocast (fp16/bf16 on CUDA)
                out = self.model.embed(input_ids, mask)
            sync_device(self.device)
            self.bert_seconds += time.perf_counter() - start
        finally:
            bert.train(was_training)
        self.bert_reviews += len(indices)
        return out.clone().masked_fill_(mask[..., None] == 0, 0)  # clone: a normal tensor, fit for autograd


class CachedFeatures:
    """Unpadded features of n reviews: review i is ``data[starts[i] : starts[i] + lengths[i]]``.

    data: (total_tokens, E) on the GPU, in RAM or memory-mapped from ``path``; starts, lengths:
    (n,) int64; storage: where ``data`` lives; bert_reviews: reviews that went through BERT.
    """

    def __init__(self, data: torch.Tensor, starts: torch.Tensor, lengths: torch.Tensor, device: torch.device | str,
                 storage: str, bert_reviews: int = 0, path: Path | None = None) -> None:
        self.data, self.starts, self.lengths = data, starts, lengths
        self.device, self.storage, self.bert_reviews, self.path = torch.device(device), storage, bert_reviews, path
        self.bert_seconds = self.extract_seconds = 0.0  # set by extract_features: BERT's and the whole extraction's time

    def release(self) -> None:
        """Drop the features now (GPU memory, RAM, or the temporary file), even while a traceback or a
        variable still holds this object; it holds no review after."""
        self.data = self.data.new_empty((0, self.data.shape[1]))
        self.starts, self.lengths = self.starts[:0], self.lengths[:0]

    def rows(self, i: int) -> torch.Tensor:
        """Features of review i: (lengths[i], E), in the storage's dtype and place."""
        return self.data[int(self.starts[i]): int(self.starts[i] + self.lengths[i])]

    def padded(self, indices: Sequence[int]) -> torch.Tensor:
        """Features of the reviews ``indices``: (B, T, E) on the device, zero after each length."""
        idx = torch.as_tensor(list(indices), dtype=torch.long)
        lengths, starts = self.lengths[idx], self.starts[idx]
        mask = torch.arange(int(lengths.max()))[None, :] < lengths[:, None]  # (B, T)
        rows = (starts[:, None] + torch.arange(mask.shape[1])[None, :])[mask]  # row-major: review, then token
        picked = self.data.index_select(0, rows.to(self.data.device))  # (sum of lengths, E)
        if self.device.type == "cuda" and picked.device.type == "cpu":
            picked = picked.pin_memory().to(self.device, non_blocking=True)
        out = torch.zeros(*mask.shape, self.data.shape[1], dtype=self.data.dtype, device=self.device)
        out[mask.to(self.device)] = picked
        return out


def release_features(*batches: object) -> None:
    """``release`` the cached features behind each of ``batches`` (``FeatureBatches``; others are skipped)."""
    for b in batches:
        if isinstance(getattr(b, "source", None), CachedFeatures):
            b.source.release()


def _memmap(path, shape: tuple[int, int], dtype: torch.dtype, mode: str) -> tuple[np.memmap, torch.Tensor]:
    """A numpy memmap of ``path`` (a file name or an open file; mode "w+" or "c") and its (rows, E) view
    as a tensor of ``dtype``."""
    itemsize = torch.empty((), dtype=dtype).element_size()
    raw = np.memmap(path, dtype=np.uint8, mode=mode, shape=(shape[0], shape[1] * itemsize))
    return raw, torch.from_numpy(raw).view(dtype)


def open_disk_cache(path: str | Path, shape: tuple[int, int], dtype: torch.dtype = torch.float16) -> torch.Tensor:
    """Re-open a feature file written by ``extract_features(storage="disk")``: (total_tokens, E), copy-on-write."""
    return _memmap(Path(path), shape, dtype, "c")[1]


def extract_features(model: torch.nn.Module, ids: Sequence[Sequence[int]], *, batch_size: int = 128,
                     device: torch.device | str = "cpu", storage: str = "auto", dtype: torch.dtype = torch.float16,
                     path: str | Path | None = None, pad_id: int = 0, allow_none: bool = True,
                     headroom: float = DEFAULT_HEADROOM, log: Callable[[str], None] | None = print,
                     progress: bool = False) -> CachedFeatures | OnTheFlyFeatures:
    """Run BERT once over every review and keep the features (or decide not to, with storage="none").

    model: ``BERTGRUSentiment`` (``embed`` and ``bert`` are used; BERT in eval mode, restored after);
    ids: n lists of token ids with [CLS]/[SEP]; batch_size: reviews per BERT batch, sorted by
    length; storage: "auto" | "gpu" | "ram" | "disk" | "none"; dtype: of the stored features;
    path: the file for "disk" (default: a temporary file removed with the cache); allow_none: if
    False, "auto" finding no room is a ``NoRoomError`` (saying where this package's feature files
    are and how to free them) instead of "none"; headroom: the fraction of available RAM or free disk
    that "auto" may fill (``choose_storage``; the GPU keeps ``GPU_RESERVE`` free). Feature files that
    stopped kernels left behind are removed first. ``log`` gets one line (unless None): the storage
    chosen, why, and the size (and one more if stale files were removed); progress: a progress bar
    over the BERT batches. An exception or interrupt leaves no file. The result's
    ``extract_seconds``/``bert_seconds`` time it.
    """
    if storage not in STORAGES:
        raise ValueError(f"storage={storage!r}: choose one of {', '.join(STORAGES)}")
    device = torch.device(device)
    if storage == "gpu" and device.type != "cuda":
        raise ValueError(f"storage='gpu' needs a CUDA device, got device={device}: use 'ram' or 'auto'")
    if len(ids) == 0 or min(map(len, ids)) == 0:
        raise ValueError("extract_features needs at least one review, each with at least one token ([CLS])")
    source = OnTheFlyFeatures(model, ids, device, pad_id)
    lengths, width = source.lengths, model.bert.config.hidden_size
    total = int(lengths.sum())
    nbytes = total * width * torch.empty((), dtype=dtype).element_size()
    disk_dir = Path(path).parent if path is not None else None
    removed = [feature_files.remove_stale(None)] + ([feature_files.remove_stale(path)] if path is not None else [])
    if log is not None and any(count for _, count, _ in removed):
        log("features: removed " + "; ".join(f"{count} file{'s' if count != 1 else ''} ({_size(freed)}) in {folder}"
                                             for folder, count, freed in removed if count)
            + " that stopped kernels had left (nothing held them)")
    if storage == "auto":
        storage, why = choose_storage(nbytes, device, disk_dir=disk_dir, headroom=headroom)
        if storage == "none" and not allow_none:
            raise _no_room(why)
    else:
        why = f"{_size(nbytes)}, chosen by the caller"
    if log is not None:
        log(f"features: storage={storage} ({why}; {total:,} tokens x {width} x {str(dtype).split('.')[-1]})")
    if storage == "none":
        return source
    start = time.perf_counter()
    sink = raw = data = None
    try:
        if storage == "disk":
            sink = feature_files.FeatureFile(path)
            raw, data = _memmap(sink.file, (total, width), dtype, "w+")
        else:
            data = torch.empty(total, width, dtype=dtype, device=device if storage == "gpu" else "cpu")
        starts = _fill(source, data, batch_size, dtype, progress)
        if sink is not None:
            raw.flush()
            raw = data = None
            file = sink.finish()
            data = _memmap(sink.file, (total, width), dtype, "c")[1]  # copy-on-write: the file stays as written
            if path is None:
                weakref.finalize(data, sink.remove)
            else:
                sink.file.close()  # the memory map keeps the file (and its lock) open
    except BaseException:  # an error or KeyboardInterrupt: no file left, and no memory held by the traceback
        raw = data = None
        if sink is not None:
            sink.remove()
        raise
    cache = CachedFeatures(data, starts, lengths, device, storage, source.bert_reviews,
                           file if sink is not None else None)
    cache.bert_seconds, cache.extract_seconds = source.bert_seconds, time.perf_counter() - start
    return cache


def _fill(source: OnTheFlyFeatures, data: torch.Tensor, batch_size: int, dtype: torch.dtype,
          progress: bool) -> torch.Tensor:
    """Write every review's features into ``data`` (total_tokens, E), unpadded, in length-sorted BERT
    batches; returns each review's first row, (n,) int64."""
    lengths, device = source.lengths, source.device
    starts = torch.zeros(len(lengths), dtype=torch.long)
    filled = 0
    batches = BucketBatchSampler(lengths.tolist(), batch_size, shuffle=False)
    if progress:
        from course_utils.progress import tqdm  # widgets in a kernel with ipywidgets, else a plain bar

        batches = tqdm(batches, desc="BERT features", leave=False)
    for batch in batches:
        feats = source.padded(batch)  # (B, T, E) on the device
        mask = torch.arange(feats.shape[1], device=feats.device)[None, :] < lengths[batch].to(feats.device)[:, None]
        n = int(lengths[batch].sum())
        data[filled: filled + n].copy_(feats[mask].to(dtype), non_blocking=True)  # row-major: review, then token
        starts[batch] = filled + torch.cat([torch.zeros(1, dtype=torch.long), lengths[batch].cumsum(0)[:-1]])
        filled += n
    sync_device(device)
    return starts


class FeatureBatches:
    """Length-bucketed ``FeatureBatch``es over a feature source: every review exactly once per pass.

    source: ``CachedFeatures`` or ``OnTheFlyFeatures``; labels: n values in {0, 1}; shuffle: a new
    seeded order every pass (``seed + epoch``; the epoch advances by one per pass, or is set by
    ``set_epoch``); shuffle=False: batches in order of length (evaluation). Padding is per batch.
    """

    def __init__(self, source: CachedFeatures | OnTheFlyFeatures, labels: Sequence[float], batch_size: int,
                 shuffle: bool = True, seed: int = 0) -> None:
        if len(labels) != len(source.lengths):
            raise ValueError(f"{len(labels)} labels for {len(source.lengths)} reviews")
        self.source, self.labels = source, torch.as_tensor(labels, dtype=torch.float32)
        self.sampler = BucketBatchSampler(source.lengths.tolist(), batch_size, shuffle=shuffle, seed=seed)

    def set_epoch(self, epoch: int) -> None:
        """Use the shuffle of ``epoch`` for the next pass."""
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[FeatureBatch]:
        batches = list(self.sampler)
        self.sampler.set_epoch(self.sampler.epoch + 1)
        device = self.source.device
        for batch in batches:
            idx = torch.as_tensor(batch, dtype=torch.long)
            yield FeatureBatch(self.source.padded(batch), self.source.lengths[idx],
                               self.labels[idx].to(device, non_blocking=True), idx)


def passes_per_review(source: CachedFeatures | OnTheFlyFeatures) -> float:
    """Reviews that went through BERT divided by the number of reviews (1.0 for a cache)."""
    return source.bert_reviews / max(1, len(source.lengths))
