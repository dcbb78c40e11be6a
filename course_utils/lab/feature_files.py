"""The files of feature caches on disk: locked while in use, removed on any exit, stale ones found.

A cache that fits neither the GPU nor RAM is a memory-mapped file (``extract_features(storage="disk")``),
by default ``course-utils-*.features`` in the temporary folder, removed when the cache is garbage
collected. A killed kernel (a crash, ``kill -9``, Colab's "Restart session") runs no clean-up, and Colab
keeps ``/tmp`` across restarts, so such files (3-10 GB each in full mode) would pile up. Hence each file
is held under an exclusive ``flock`` by the process that writes and reads it: the operating system drops
the lock when that process ends, however it ends, so a file that nobody holds is stale
(``remove_stale``). Without ``fcntl`` (Windows) no file is ever judged stale.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux or macOS
    fcntl = None

PREFIX, SUFFIX = "course-utils-", ".features"


def _lock(fd: int) -> bool:
    """Take the exclusive lock of the open file ``fd`` without waiting; False if another holds it."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


class FeatureFile:
    """A locked file to write a cache into: ``path`` (then ``finish`` renames the temporary to it and it
    stays) or, if None, a new ``course-utils-*.features`` in the temporary folder (removed by ``remove``).

    file: the open, locked file to memory-map; work: the name it has while being written.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        if path is None:
            fd, name = tempfile.mkstemp(prefix=PREFIX, suffix=SUFFIX)
            self.final, self.work = Path(name), Path(name)
        else:
            self.final = Path(path)
            self.work = self.final.with_name(f"{self.final.name}.tmp{os.getpid()}")
            fd = os.open(self.work, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o666)
        _lock(fd)
        self.file: BinaryIO = os.fdopen(fd, "r+b")
        self.temporary = path is None

    def finish(self) -> Path:
        """The written file under its final name (a rename keeps the lock: it belongs to the file)."""
        if self.work != self.final:
            os.replace(self.work, self.final)  # atomic: a reader never sees a half-written file
            self.work = self.final
        return self.final

    def remove(self) -> None:
        """Delete the file (whatever its name now) and let go of it; safe to call twice."""
        self.work.unlink(missing_ok=True)
        if not self.file.closed:
            self.file.close()


def _stale(path: Path) -> int | None:
    """Remove ``path`` if no process holds its lock; its size if it was removed, else None."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if fcntl is None or not _lock(fd):
            return None
        size = os.fstat(fd).st_size
        path.unlink(missing_ok=True)  # while holding the lock: nobody can take the file meanwhile
        return size
    finally:
        os.close(fd)


def _candidates(folder: Path, pattern: str) -> list[Path]:
    try:
        return sorted(p for p in folder.glob(pattern) if p.is_file())
    except OSError:
        return []


def remove_stale(path: str | Path | None = None) -> tuple[Path, int, int]:
    """Delete the feature files that no live process holds: ``course-utils-*.features*`` in the temporary
    folder, or, for a cache file ``path`` of the caller's, its leftover ``<path>.tmp<pid>`` files.

    Returns (folder, files removed, bytes freed).
    """
    if path is None:
        folder, pattern = Path(tempfile.gettempdir()), f"{PREFIX}*{SUFFIX}*"
    else:
        folder, pattern = Path(path).parent, f"{Path(path).name}.tmp*"
    sizes = [s for s in map(_stale, _candidates(folder, pattern)) if s is not None]
    return folder, len(sizes), sum(sizes)


def files_in_use(folder: str | Path | None = None) -> tuple[Path, int, int]:
    """(folder, number, bytes) of the feature files in the temporary folder (or ``folder``): after
    ``remove_stale``, those that running processes (this kernel included) still hold."""
    folder = Path(folder or tempfile.gettempdir())
    files = _candidates(folder, f"{PREFIX}*{SUFFIX}*")
    sizes = []
    for p in files:
        try:
            sizes.append(p.stat().st_size)
        except OSError:
            pass
    return folder, len(sizes), sum(sizes)
