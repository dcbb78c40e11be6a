"""Where a feature cache goes: the GPU, RAM, a file on disk, or nowhere (BERT on the fly).

The GPU is the lab's alone, so a cache may take all of its free memory but a fixed working reserve
(``GPU_RESERVE``: BERT's extraction and the GRU's training need it whatever the cache's size); free
means free once PyTorch's caching allocator has handed back what it keeps unused. RAM is shared with
the notebook and the system, and running out of it kills the kernel, so a cache takes at most half of
what is available; the same for disk.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from course_utils.errors import CourseError
from course_utils.lab import feature_files

DEFAULT_HEADROOM = 0.5  # use at most this fraction of the available RAM or free disk for the cache
# GPU memory left free beside the caches, whatever their size: BERT's extraction peak (~1.4 GB above its
# weights at 128 x 512 tokens under fp16 autocast) and the GRU head's training at the longest batch
# (128 x 512 tokens: ~2.5 GB of activations and cuDNN workspace), with room for fragmentation.
GPU_RESERVE = 3 * 2**30


class NoRoomError(CourseError, ValueError):
    """The features were to be cached (storage "auto" without fallback) but fit nowhere."""


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


def free_gpu_memory(device: torch.device) -> int:
    """Bytes of GPU memory a new cache can get on ``device``: what the driver reports free once PyTorch's
    caching allocator has handed back the blocks it keeps unused (``torch.cuda.empty_cache``). Without
    that, the memory a finished run freed still counts as used, and a rerun picks slower storage."""
    torch.cuda.empty_cache()
    return torch.cuda.mem_get_info(device)[0]


def choose_storage(nbytes: int, device: torch.device, *, gpu_free: int | None = None, ram: int | None = None,
                   disk: int | None = None, disk_dir: str | Path | None = None,
                   headroom: float = DEFAULT_HEADROOM, gpu_reserve: int = GPU_RESERVE) -> tuple[str, str]:
    """Where a cache of ``nbytes`` goes: ("gpu" | "ram" | "disk" | "none", reason).

    In this order: the GPU (CUDA devices only) when the cache leaves ``gpu_reserve`` bytes of it free
    (the lab's own working memory: the GPU is the lab's alone); RAM, then disk, when the cache takes at
    most ``headroom`` (a fraction) of what is available (RAM is shared with the notebook and the
    system, and running out of it kills the kernel); "none" means compute on the fly. The free amounts
    default to ``free_gpu_memory``, ``available_ram()`` and the free space of ``disk_dir``.
    """
    places = []
    if device.type == "cuda":
        free = free_gpu_memory(device) if gpu_free is None else gpu_free
        places.append(("gpu", free, free - gpu_reserve, f"free GPU memory less a {_size(gpu_reserve)} working reserve"))
    ram = available_ram() if ram is None else ram
    places.append(("ram", ram, headroom * ram, "available RAM"))
    disk_dir = Path(disk_dir or tempfile.gettempdir())
    disk = shutil.disk_usage(disk_dir).free if disk is None else disk
    places.append(("disk", disk, headroom * disk, f"free disk in {disk_dir}"))
    skipped = []
    for name, free, usable, what in places:
        if nbytes <= usable:
            share = "" if name == "gpu" else f"{headroom:.0%} of "
            return name, f"{_size(nbytes)} fits in {share}{_size(free)} {what}" + "".join(skipped)
        skipped.append(f"; not {name}: {_size(free)} {what.split(' less ')[0]}")
    return "none", f"{_size(nbytes)} does not fit anywhere" + "".join(skipped) + "; BERT runs every epoch"


def _no_room(why: str) -> NoRoomError:
    """The error for a cache that fits nowhere: why, where this package's feature files are, and how to
    free them (and GPU memory), in one line."""
    folder, count, nbytes = feature_files.files_in_use()
    files = (f"{count} feature file{'s' if count != 1 else ''} of this package ({_size(nbytes)}) in {folder} "
             "belong to running kernels: delete what holds them (e.g. an old cache variable) or restart "
             "(Colab: Runtime > Restart session; this also frees GPU memory), and they are removed"
             if count else f"no feature files of this package are in {folder}; restart the kernel (Colab: "
             "Runtime > Restart session) to free GPU memory and RAM that old objects hold")
    return NoRoomError(f"no room to cache the features: {why.removesuffix('; BERT runs every epoch')}. "
                       f"Compute them on the fly instead (features 'on-the-fly'), or make room: {files}")
