"""Download, verification, safe extraction, loading and splitting of the IMDB layout; the synthetic set."""

from __future__ import annotations

import hashlib
import http.server
import io
import random
import statistics
import tarfile
import threading
from pathlib import Path

import pytest
import course_utils.progress

from course_utils.lab import data, synthetic
from course_utils.lab.data import ReviewSet


def _tar_bytes(entries: list[tarfile.TarInfo], payloads: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info in entries:
            payload = (payloads or {}).get(info.name)
            if payload is not None:
                info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return buf.getvalue()


def _file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.REGTYPE
    return info


def _imdb_archive(path: Path) -> str:
    """A small aclImdb archive at ``path``; returns its MD5."""
    names = {f"aclImdb/{split}/{cls}/{i}_{r}.txt": f"{split} {cls} review {i}".encode()
             for split in ("train", "test") for cls, r in (("neg", 2), ("pos", 9)) for i in range(3)}
    path.write_bytes(_tar_bytes([_file(n) for n in names], names))
    return hashlib.md5(path.read_bytes()).hexdigest()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_download_file_url_verifies_md5_and_keeps_nothing_else(tmp_path):
    src = tmp_path / "src.tar.gz"
    md5 = _imdb_archive(src)
    dest_dir = tmp_path / "cache"
    out = data.download(dest_dir / "a.tar.gz", url=src.as_uri(), md5=md5, progress=False)
    assert out.read_bytes() == src.read_bytes()
    assert _leftovers(dest_dir) == ["a.tar.gz"]
    # A verified file is reused: an unreachable URL is not even opened.
    assert data.download(out, url="http://127.0.0.1:9/none", md5=md5, progress=False) == out


def test_download_md5_mismatch_leaves_nothing(tmp_path):
    src = tmp_path / "src.tar.gz"
    _imdb_archive(src)
    dest_dir = tmp_path / "cache"
    with pytest.raises(ValueError, match="expected 0{32}"):
        data.download(dest_dir / "a.tar.gz", url=src.as_uri(), md5="0" * 32, progress=False)
    assert _leftovers(dest_dir) == []


class _TruncatingHandler(http.server.BaseHTTPRequestHandler):
    body = b"x" * 5000

    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body) * 2))  # promises twice what it sends
        self.end_headers()
        self.wfile.write(self.body)
        self.close_connection = True

    def log_message(self, *args):
        pass


def test_interrupted_http_download_leaves_nothing(tmp_path):
    server = http.server.HTTPServer(("127.0.0.1", 0), _TruncatingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/aclImdb_v1.tar.gz"
        md5 = hashlib.md5(_TruncatingHandler.body).hexdigest()  # even the right bytes so far are not enough
        with pytest.raises(OSError, match="stopped after 5000 of 10000 bytes"):
            data.download(tmp_path / "a.tar.gz", url=url, md5=md5, progress=False)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert _leftovers(tmp_path) == []


def test_keyboard_interrupt_during_download_leaves_nothing(tmp_path, monkeypatch):
    src = tmp_path / "src" / "a.tar.gz"
    src.parent.mkdir()
    md5 = _imdb_archive(src)

    class Interrupting:
        def __init__(self, *args, **kwargs):
            self.n = 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            raise KeyboardInterrupt

    monkeypatch.setattr(course_utils.progress, "tqdm", Interrupting)
    dest_dir = tmp_path / "cache"
    with pytest.raises(KeyboardInterrupt):
        data.download(dest_dir / "a.tar.gz", url=src.as_uri(), md5=md5, progress=False)
    assert _leftovers(dest_dir) == []


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.mark.parametrize("member, message", [
    (_file("/etc/evil.txt"), "unsafe path"),
    (_file("aclImdb/../../evil.txt"), "unsafe path"),
    (_link("aclImdb/link", "/etc/passwd", tarfile.SYMTYPE), "refusing to extract links"),
    (_link("aclImdb/hard", "aclImdb/ok.txt", tarfile.LNKTYPE), "refusing to extract links"),
])
def test_safe_extract_rejects_malicious_members(tmp_path, member, message):
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(_tar_bytes([_file("aclImdb/ok.txt"), member], {"aclImdb/ok.txt": b"ok", member.name: b"x"}))
    target = tmp_path / "target"
    with pytest.raises(ValueError, match=message):
        data.safe_extract(archive, target)
    assert not target.exists()  # checked before anything is written
    assert not (tmp_path / "evil.txt").exists()


def test_fetch_imdb_downloads_extracts_and_loads(tmp_path):
    src = tmp_path / "src.tar.gz"
    md5 = _imdb_archive(src)
    root = data.fetch_imdb(tmp_path / "cache", url=src.as_uri(), md5=md5, progress=False)
    assert root == tmp_path / "cache" / "aclImdb"
    train = data.load_split(root, "train")
    assert train.labels == [0, 0, 0, 1, 1, 1]
    assert train.texts[0] == "train neg review 0" and train.texts[-1] == "train pos review 2"
    src.unlink()  # a second call needs neither the archive's source nor a new extraction
    assert data.fetch_imdb(tmp_path / "cache", url=src.as_uri(), md5=md5, progress=False) == root


def test_load_split_names_what_is_missing(tmp_path):
    (tmp_path / "aclImdb" / "train" / "neg").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"missing folder .*train/pos.*--data-dir"):
        data.load_split(tmp_path / "aclImdb", "train")
    (tmp_path / "aclImdb" / "train" / "pos").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no reviews \(\*\.txt\) in .*train/neg"):
        data.load_split(tmp_path / "aclImdb", "train")


def test_split_sizes_are_the_labs_and_seeded():
    reviews = ReviewSet([f"r{i}" for i in range(25_000)], [i % 2 for i in range(25_000)])
    train, valid = data.split_train_valid(reviews, 0.7, seed=1234)
    assert (len(train), len(valid)) == (17_500, 7_500)
    assert sorted(train.texts + valid.texts) == sorted(reviews.texts)
    again, _ = data.split_train_valid(reviews, 0.7, seed=1234)
    other, _ = data.split_train_valid(reviews, 0.7, seed=1)
    assert again.texts == train.texts and other.texts != train.texts
    assert all(int(t[1:]) % 2 == y for t, y in zip(train.texts, train.labels))  # labels follow their text
    with pytest.raises(ValueError, match="between 0 and 1"):
        data.split_train_valid(reviews, 1.0, seed=0)


def test_label_ids_are_fixed_by_folder_and_the_key_agrees(tmp_path):
    from course_staff.keys.lab import LABEL_VOCAB

    root = data.synthetic_imdb(tmp_path, 3, 0)
    (root / "train" / "pos" / "0_10.txt").write_text("a positive review", encoding="utf-8")
    reviews = data.load_split(root, "train")
    assert reviews.labels[reviews.texts.index("a positive review")] == LABEL_VOCAB["pos"] == 1
    assert set(reviews.labels) == set(LABEL_VOCAB.values()) == {0, 1}


@pytest.fixture(scope="module")
def synthetic_set(tmp_path_factory) -> Path:
    return data.synthetic_imdb(tmp_path_factory.mktemp("cache"), n_per_class=300, seed=7)


def test_synthetic_set_layout_and_determinism(synthetic_set, tmp_path):
    files = sorted(p.relative_to(synthetic_set).as_posix() for p in synthetic_set.rglob("*.txt"))
    assert len(files) == 4 * 300
    for f in files:
        split, cls, name = f.split("/")
        rating = int(name.removesuffix(".txt").split("_")[1])
        assert split in {"train", "test"} and (7 <= rating <= 10 if cls == "pos" else 1 <= rating <= 4)
    again = synthetic.write_synthetic_imdb(tmp_path, 300, seed=7)
    assert all((again / f).read_text() == (synthetic_set / f).read_text() for f in files)
    for folder in ("train/neg", "train/pos", "test/neg", "test/pos"):
        ids = sorted(int(p.name.split("_")[0]) for p in (synthetic_set / folder).iterdir())
        assert ids == list(range(300))


def test_synthetic_length_does_not_reveal_the_label(synthetic_set):
    train = data.load_split(synthetic_set, "train")
    lengths = [len(t.split()) for t in train.texts]
    by_class = [[n for n, y in zip(lengths, train.labels) if y == c] for c in (0, 1)]
    # Same mean within 3 standard errors.
    se = (statistics.variance(by_class[0]) / 300 + statistics.variance(by_class[1]) / 300) ** 0.5
    assert abs(statistics.mean(by_class[0]) - statistics.mean(by_class[1])) < 3 * se
    # The best length threshold (either direction) classifies barely above chance.
    best = max(max(sum((n > t) == y for n, y in zip(lengths, train.labels)),
                   sum((n <= t) == y for n, y in zip(lengths, train.labels))) for t in set(lengths))
    assert best / len(lengths) < 0.58


def test_synthetic_sentiment_needs_context(synthetic_set):
    train = data.load_split(synthetic_set, "train")
    negated = [sum(w in {"not", "never"} for w in t.split()) > 0 for t in train.texts]
    rate = [sum(n for n, y in zip(negated, train.labels) if y == c) / 300 for c in (0, 1)]
    assert 0.25 < rate[0] < 0.75 and abs(rate[0] - rate[1]) < 0.1  # negation is common in both classes
    # Counting positive vs negative adjectives, ignoring negation, is right often but far from always.
    pos, neg = set(synthetic.POSITIVE), set(synthetic.NEGATIVE)
    naive = [sum(w in pos for w in t.split()) > sum(w in neg for w in t.split()) for t in train.texts]
    accuracy = sum(p == y for p, y in zip(naive, train.labels)) / len(naive)
    assert 0.55 < accuracy < 0.85
    assert any(", but" in t for t in train.texts) and any("overall" in t for t in train.texts)


def test_synthetic_vocabulary_covers_every_word():
    rng = random.Random(0)
    words = set(synthetic.vocabulary())
    for label in (0, 1):
        for _ in range(200):
            assert set(synthetic.make_review(rng, label).split()) <= words
