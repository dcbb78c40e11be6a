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
(tokens x E x bytes): the GPU if it fits, else RAM, else a memory-mapped file on disk, else none
(BERT on the fly every epoch); ``FeatureBatches`` then yields padded batches from either source.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from course_utils.errors import CourseError
from course_utils.sentiment.batching import BucketBatchSampler, pad_ids

STORAGES = ("auto", "gpu", "ram", "disk", "none")
DEFAULT_HEADROOM = 0.5  # use at most this fraction of the free memory or disk for the cache


class NoRoomError(CourseError, ValueError):
    """The features were to be cached (storage "auto" without fallback) but fit nowhere."""


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


def _size(nbytes: float) -> str:
    """Human-readable size, e.g. ``12.3 MiB``."""
    exponent = min(3, max(0, int(np.log2(max(nbytes, 1)) // 10)))
    return f"{nbytes / 1024 ** exponent:.1f} {('B', 'KiB', 'MiB', 'GiB')[exponent]}"


def available_ram() -> int:
    """Bytes of RAM available to new allocations: ``MemAvailable`` of /proc/meminfo, or sysconf."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def choose_storage(nbytes: int, device: torch.device, *, gpu_free: int | None = None, ram: int | None = None,
                   disk: int | None = None, disk_dir: str | Path | None = None,
                   headroom: float = DEFAULT_HEADROOM) -> tuple[str, str]:
    """Where a cache of ``nbytes`` goes: ("gpu" | "ram" | "disk" | "none", reason).

    A place is used when the cache takes at most ``headroom`` (a fraction) of its free space, in this order:
    the GPU (CUDA devices only), RAM, disk; "none" means compute on the fly. The free amounts
    default to ``torch.cuda.mem_get_info``, ``available_ram()`` and the free space of ``disk_dir``.
    """
    places = []
    if device.type == "cuda":
        places.append(("gpu", torch.cuda.mem_get_info(device)[0] if gpu_free is None else gpu_free, "free GPU memory"))
    places.append(("ram", available_ram() if ram is None else ram, "available RAM"))
    disk_dir = Path(disk_dir or tempfile.gettempdir())
    places.append(("disk", shutil.disk_usage(disk_dir).free if disk is None else disk, f"free disk in {disk_dir}"))
    skipped = []
    for name, free, what in places:
        if nbytes <= headroom * free:
            return name, f"{_size(nbytes)} fits in {headroom:.0%} of {_size(free)} {what}" + "".join(skipped)
        skipped.append(f"; not {name}: {_size(free)} {what}")
    return "none", f"{_size(nbytes)} does not fit anywhere" + "".join(skipped) + "; BERT runs every epoch"


def _autocast(device: torch.device):
    """bf16 (Ampere and newer) or fp16 (e.g. T4) autocast on CUDA; a no-op context elsewhere."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.get_device_capability(device)[0] >= 8 else torch.float16
    return torch.autocast("cuda", dtype=dtype)


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
            with torch.inference_mode(), _autocast(self.device):
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


def _memmap(path: Path, shape: tuple[int, int], dtype: torch.dtype, mode: str) -> tuple[np.memmap, torch.Tensor]:
    """A numpy memmap of ``path`` (mode "w+" or "c") and its (rows, E) view as a tensor of ``dtype``."""
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
    False, "auto" finding no room is a ``NoRoomError`` instead of "none"; headroom: the fraction of
    free GPU memory, RAM or disk that "auto" may fill (``choose_storage``). ``log`` gets one line (unless
    None): the storage chosen, why, and the size; progress: a progress bar over the BERT batches.
    The result's ``extract_seconds``/``bert_seconds`` time it.
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
    if storage == "auto":
        storage, why = choose_storage(nbytes, device, disk_dir=disk_dir, headroom=headroom)
        if storage == "none" and not allow_none:
            raise NoRoomError(f"no room to cache the features: {why.removesuffix('; BERT runs every epoch')}. "
                             "Compute them on the fly instead "
                             "(features 'on-the-fly'), or free memory or disk space")
    else:
        why = f"{_size(nbytes)}, chosen by the caller"
    if log is not None:
        log(f"features: storage={storage} ({why}; {total:,} tokens x {width} x {str(dtype).split('.')[-1]})")
    if storage == "none":
        return source
    start = time.perf_counter()
    starts = torch.zeros(len(ids), dtype=torch.long)
    file = None
    if storage == "disk":
        if path is None:
            handle, name = tempfile.mkstemp(suffix=".features")
            os.close(handle)
        file = Path(path if path is not None else name)
        tmp = file.with_name(file.name + f".tmp{os.getpid()}")
        raw, data = _memmap(tmp, (total, width), dtype, "w+")
    else:
        data = torch.empty(total, width, dtype=dtype, device=device if storage == "gpu" else "cpu")
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
    if file is not None:
        raw.flush()
        del raw, data
        os.replace(tmp, file)  # atomic: a reader never sees a half-written file
        data = open_disk_cache(file, (total, width), dtype)
        if path is None:
            weakref.finalize(data, os.unlink, file)
    cache = CachedFeatures(data, starts, lengths, device, storage, source.bert_reviews, file)
    cache.bert_seconds, cache.extract_seconds = source.bert_seconds, time.perf_counter() - start
    return cache


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
