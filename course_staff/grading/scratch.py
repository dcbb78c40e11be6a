"""The batch's folder in the temporary folder, and the folders of batches that were killed.

A batch keeps everything it makes on the host (the release and grader folders, each run's copy of the
notebook, caches) under one ``course-grade-*`` folder, holding an exclusive ``flock`` on its ``.lock``
while it runs. A batch killed by the OOM killer or SIGKILL cannot remove it; the next batch does: every
``course-grade-*`` (and the older layout's ``course-sandbox-env-*``, ``course-grade-log-*``) folder of
this user whose lock nobody holds. A folder of the older layout has no lock: it goes once it has not been
touched for ``STALE_UNLOCKED_S``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from pathlib import Path

PREFIX = "course-grade-"
PATTERNS = (f"{PREFIX}*", "course-sandbox-env-*", "course-grade-log-*", "course-sandbox-probe-*")
LOCK = ".lock"
STALE_UNLOCKED_S = 600.0


class BatchFolder:
    """A fresh, locked ``course-grade-*`` folder under ``parent`` (default: the temporary folder)."""

    def __init__(self, parent: Path | None = None) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
        self._lock = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._lock, fcntl.LOCK_EX)

    def close(self) -> None:
        """Remove the folder and release its lock."""
        shutil.rmtree(self.path, ignore_errors=True)
        os.close(self._lock)

    def __enter__(self) -> "BatchFolder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def remove_stale(parent: Path | None = None, now: float | None = None) -> list[Path]:
    """Remove the folders that killed batches left in ``parent``; returns them. Folders of other users, and
    of batches still running (their lock is held), are left alone."""
    parent = Path(parent or tempfile.gettempdir())
    now = time.time() if now is None else now
    removed = []
    for pattern in PATTERNS:
        for folder in parent.glob(pattern):
            try:
                info = folder.lstat()
            except OSError:
                continue
            if not folder.is_dir() or folder.is_symlink() or info.st_uid != os.geteuid():
                continue
            if _abandoned(folder, now - info.st_mtime):
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
    return removed


def _abandoned(folder: Path, idle_s: float) -> bool:
    try:
        fd = os.open(folder / LOCK, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return idle_s > STALE_UNLOCKED_S  # the older layout (or a batch between mkdtemp and its lock)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True  # nobody holds it: that batch is gone
    except OSError:
        return False
    finally:
        os.close(fd)
