"""The IMDB review set: download, verify, extract safely, load, split.

Layout (as in the archive): ``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt``.
Labels are fixed, by folder (``labels.LABELS``).
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from course_utils.errors import CourseError
from course_utils.lab.labels import LABELS
from course_utils.lab.synthetic import SYNTHETIC_VERSION, write_synthetic_imdb

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_MD5 = "7c2ac02c03563afcf9b574c7e56c153a"
_CHUNK = 1 << 20


class DataError(CourseError, ValueError):
    """A download that does not match its checksum, or an archive member that would land outside its folder."""


@dataclass
class ReviewSet:
    """Reviews and their labels. texts: n strings; labels: n ints in {0 (neg), 1 (pos)}."""

    texts: list[str]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.texts)


def md5sum(path: Path) -> str:
    """Hex MD5 digest of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(dest: Path, url: str = IMDB_URL, md5: str = IMDB_MD5, progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` with a progress bar and check its MD5; return ``dest``.

    The bytes go to a temporary file next to ``dest``, which is renamed to ``dest`` only when the
    download is complete and verified: an interrupted or corrupt download leaves no ``dest`` behind.
    An existing ``dest`` with the right MD5 is reused.
    """
    from course_utils.progress import tqdm  # widgets in a kernel with ipywidgets, else a plain bar

    dest = Path(dest)
    if dest.exists() and md5sum(dest) == md5:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        digest, received = hashlib.md5(), 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            if total is not None and received != total:
                raise OSError(f"download of {url} stopped after {received} of {total} bytes; run again to retry")
        if digest.hexdigest() != md5:
            raise DataError(
                f"MD5 of {url} is {digest.hexdigest()}, expected {md5}: the file is corrupt or changed; "
                "nothing was kept, run again to retry"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def safe_extract(archive: Path, target: Path) -> None:
    """Extract a tar archive into ``target``, refusing any member that could land outside it.

    Absolute paths, ``..`` components, symlinks, hardlinks and device files are rejected with a
    ``ValueError`` naming the member, before anything is written.
    """
    target = Path(target).resolve()
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for m in members:
            parts = Path(m.name).parts
            if m.name.startswith(("/", "\\")) or Path(m.name).is_absolute() or ".." in parts:
                raise DataError(f"unsafe path {m.name!r} in {archive}: refusing to extract outside {target}")
            if m.issym() or m.islnk():
                raise DataError(f"link {m.name!r} -> {m.linkname!r} in {archive}: refusing to extract links")
            if not (m.isfile() or m.isdir()):
                raise DataError(f"special file {m.name!r} in {archive}: only files and folders are allowed")
            if not (target / m.name).resolve().is_relative_to(target):
                raise DataError(f"unsafe path {m.name!r} in {archive}: it resolves outside {target}")
        target.mkdir(parents=True, exist_ok=True)
        if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12: a second line of defence
            tar.extractall(target, members=members, filter="data")
        else:  # pragma: no cover - old Pythons; every member was checked above
            tar.extractall(target, members=members)


def fetch_imdb(cache_dir: Path, url: str = IMDB_URL, md5: str = IMDB_MD5, progress: bool = True) -> Path:
    """Download (once) and extract (once) the IMDB archive under ``cache_dir``; return the ``aclImdb`` folder."""
    cache_dir = Path(cache_dir)
    root = cache_dir / "aclImdb"
    done = cache_dir / ".aclImdb.extracted"
    if done.exists() and root.is_dir():
        return root
    archive = download(cache_dir / "aclImdb_v1.tar.gz", url=url, md5=md5, progress=progress)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=cache_dir))
    try:
        safe_extract(archive, staging)
        if root.exists():
            shutil.rmtree(root)
        os.replace(staging / "aclImdb", root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    done.write_text(md5)
    return root


def synthetic_imdb(cache_dir: Path, n_per_class: int, seed: int, n_test_per_class: int | None = None) -> Path:
    """Make (once) the tiny-mode synthetic review set under ``cache_dir``; return its ``aclImdb`` folder.

    n_per_class: reviews per class of the training split (and of the test split, unless
    ``n_test_per_class`` is given); see ``synthetic.write_synthetic_imdb``."""
    test = "" if n_test_per_class is None or n_test_per_class == n_per_class else f"-test{n_test_per_class}"
    root = Path(cache_dir) / f"synthetic-v{SYNTHETIC_VERSION}-{n_per_class}-{seed}{test}"
    if (root / "aclImdb").is_dir():
        return root / "aclImdb"
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".synthetic-", dir=root.parent))
    try:
        write_synthetic_imdb(staging, n_per_class, seed, n_test_per_class)
        try:
            os.replace(staging, root)
        except OSError:  # another process made it first
            if not (root / "aclImdb").is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root / "aclImdb"


def load_split(data_dir: Path, split: str) -> ReviewSet:
    """Read ``data_dir/{split}/{neg,pos}/*.txt`` in a fixed order (by class, then numeric id).

    data_dir: an ``aclImdb`` folder. A missing folder or a class without reviews is an error
    that names the path and how to fix it.
    """
    data_dir = Path(data_dir)
    for name in LABELS:
        if not (data_dir / split / name).is_dir():
            raise FileNotFoundError(
                f"missing folder {data_dir / split / name}: --data-dir must be an aclImdb folder with "
                "train/pos, train/neg, test/pos and test/neg (omit --data-dir to download it)"
            )
    texts: list[str] = []
    labels: list[int] = []
    for label, name in enumerate(LABELS):
        folder = data_dir / split / name
        files = sorted(folder.glob("*.txt"), key=_review_key)
        if not files:
            raise FileNotFoundError(f"no reviews (*.txt) in {folder}: is the aclImdb folder complete?")
        texts += [f.read_text(encoding="utf-8") for f in files]
        labels += [label] * len(files)
    return ReviewSet(texts, labels)


def _review_key(path: Path) -> tuple[int, str]:
    """Sort key of ``<id>_<rating>.txt``: numeric id first."""
    head = path.stem.split("_")[0]
    return (int(head) if head.isdigit() else -1, path.name)


def split_train_valid(reviews: ReviewSet, train_fraction: float, seed: int) -> tuple[ReviewSet, ReviewSet]:
    """Seeded random split into (train, valid); train gets ``round(train_fraction * n)`` reviews."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be between 0 and 1, got {train_fraction}")
    order = list(range(len(reviews)))
    random.Random(seed).shuffle(order)
    n_train = round(train_fraction * len(order))

    def subset(indices: list[int]) -> ReviewSet:
        return ReviewSet([reviews.texts[i] for i in indices], [reviews.labels[i] for i in indices])

    return subset(order[:n_train]), subset(order[n_train:])
