"""What two submissions share, as fingerprints: winnowed token k-grams for code, MinHash of word shingles for prose.

Code: the student's code (handout cells left as given are dropped, and so is every line of the
handout's scaffold) is tokenised by Pygments' Python lexer; names become ``V`` and comments and
white space go, so renaming variables changes nothing. Hashes of every ``CODE_K`` consecutive
tokens are winnowed (Schleimer, Wilkerson and Aiken 2003, the algorithm of MOSS and copydetect:
the smallest hash of each window of ``WINDOW``), and fingerprints of the handout's own code are
removed. Reordered lines only break the k-grams that cross the moved line.

Prose: words (lowercase, LaTeX and markdown marks dropped) in shingles of ``PROSE_K``; shingles of
the handout's text are removed; a set is sketched with datasketch's MinHash.

In both parts a fingerprint that many submissions share (``common``: more than ``COMMON_SHARE`` of
them, and more than 3) is the course's common knowledge (the expected solution, a stock phrase) and
is dropped before pairs are scored, as MOSS ignores code that appears in many programs.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter

import numpy as np

CODE_K = 8  # tokens per k-gram
WINDOW = 4  # winnowing window (k-grams): a match of CODE_K + WINDOW - 1 tokens is always caught
PROSE_K = 2  # words per shingle
COMMON_SHARE = 0.25
NUM_PERM = 128


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def code_tokens(source: str) -> list[tuple[str, int]]:
    """Normalised tokens of Python source with the line each starts on (names as ``V``, no comments)."""
    from pygments.lexers import PythonLexer
    from pygments.token import Comment, Name, String, Text, Whitespace

    tokens, line = [], 1
    for kind, value in PythonLexer().get_tokens(source):
        start = line
        line += value.count("\n")
        if kind in Comment or kind in Whitespace or kind in Text or not value.strip():
            continue
        if kind in String.Doc:
            continue
        if kind in Name and kind not in Name.Builtin:
            value = "V"
        tokens.append((value, start))
    return tokens


def winnow(source: str) -> dict[int, set[int]]:
    """Fingerprint hash -> the source lines it covers (winnowing over ``CODE_K``-grams of tokens)."""
    tokens = code_tokens(source)
    grams = [(_hash(" ".join(t for t, _ in tokens[i:i + CODE_K])), tokens[i][1], tokens[i + CODE_K - 1][1])
             for i in range(len(tokens) - CODE_K + 1)]
    found: dict[int, set[int]] = {}
    for i in range(max(len(grams) - WINDOW + 1, 1 if grams else 0)):
        window = grams[i:i + WINDOW]
        value, first, last = min(window, key=lambda g: g[0])
        found.setdefault(value, set()).update(range(first, last + 1))
    return found


def words(text: str) -> list[str]:
    text = re.sub(r"[$\\*_`#>{}^|]", " ", text.lower())
    return re.findall(r"[a-z0-9]+(?:[.'][a-z0-9]+)*|[=+\-/()]", text)


def shingles(text: str) -> set[str]:
    """The ``PROSE_K``-word shingles of a text (a text shorter than that: its words)."""
    tokens = words(text)
    if len(tokens) < PROSE_K:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i:i + PROSE_K]) for i in range(len(tokens) - PROSE_K + 1)}


def common(sets: list[set]) -> set:
    """Fingerprints in more than ``COMMON_SHARE`` of the sets (and more than 3): the course's common stock."""
    counts = Counter(item for s in sets for item in s)
    limit = max(3, COMMON_SHARE * len(sets))
    return {item for item, n in counts.items() if n > limit}


def overlap_scores(sets: list[set], min_size: int) -> np.ndarray:
    """Pairwise share of fingerprints: |A & B| / min(|A|, |B|), scaled down for sets under ``min_size``."""
    from scipy.sparse import csr_matrix

    vocabulary: dict = {}
    rows, cols = [], []
    for r, s in enumerate(sets):
        for item in s:
            rows.append(r)
            cols.append(vocabulary.setdefault(item, len(vocabulary)))
    matrix = csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(sets), max(len(vocabulary), 1)))
    shared = (matrix @ matrix.T).toarray()
    sizes = np.array([len(s) for s in sets], dtype=np.float64)
    smaller = np.minimum.outer(sizes, sizes)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(smaller > 0, shared / smaller, 0.0) * np.minimum(smaller / min_size, 1.0)
    return score


def minhash_scores(sets: list[set], min_size: int) -> np.ndarray:
    """Pairwise Jaccard similarity estimated by MinHash (datasketch), scaled down for sets under ``min_size``."""
    from datasketch import MinHash

    sketches = MinHash.bulk([[item.encode("utf-8") for item in s] for s in sets], num_perm=NUM_PERM, seed=1)
    values = np.stack([m.hashvalues for m in sketches]) if sketches else np.zeros((0, NUM_PERM))
    n = len(sets)
    score = np.zeros((n, n))
    for i in range(n):
        score[i, i + 1:] = (values[i + 1:] == values[i]).mean(axis=1)
    score = score + score.T
    sizes = np.array([len(s) for s in sets], dtype=np.float64)
    smaller = np.minimum.outer(sizes, sizes)
    return score * np.minimum(smaller / min_size, 1.0)
