"""What two submissions share, as fingerprints: winnowed token k-grams for code, MinHash of word shingles for prose.

Code: each cell of the student's code is first brought to a canonical form with ``ast``
(``normalise``: constants folded, unused statements dropped, loops that build a collection written as
comprehensions, independent statements in one order, names as ``V``), so renaming, reordering,
wrapping numbers in parentheses, junk lines and loop/comprehension rewrites change nothing; a cell
that does not parse is tokenised by Pygments' Python lexer instead (names ``V``, comments and white
space gone). Tokens on lines of the handout's scaffold are left out. Hashes of every ``CODE_K`` consecutive
tokens are winnowed (Schleimer, Wilkerson and Aiken 2003, the algorithm of MOSS and copydetect:
the smallest hash of each window of ``WINDOW``), and fingerprints of the handout's own code are
removed.

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

from collections.abc import Sequence

import numpy as np

from course_staff.written.similarity import normalise

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


def cell_tokens(cells: Sequence[tuple[str, Sequence[int | None]]]) -> list[tuple[str, int]]:
    """Canonical tokens of a submission's code cells, each with its line in the submission's code.

    ``cells``: each cell's source and, per line of it (1-based, index 0 unused), the line it has in the
    submission's own code, or None for a scaffold line of the handout (its tokens are left out). Cells that
    parse go through ``normalise`` together (a name read in one cell is read); the others through
    ``code_tokens``.
    """
    trees = normalise.normalise([normalise.parse(source) for source, _ in cells])
    out: list[tuple[str, int]] = []
    for (source, lines), tree in zip(cells, trees):
        cell = normalise.stream(tree) if tree is not None else code_tokens(source)
        for token, n in cell:
            where = lines[n] if 0 < n < len(lines) else None
            if where is not None:
                out.append((token, where))
    return out


def winnow_tokens(tokens: Sequence[tuple[str, int]]) -> dict[int, set[int]]:
    """Fingerprint hash -> the lines it covers (winnowing over ``CODE_K``-grams of tokens)."""
    grams = [(_hash(" ".join(t for t, _ in tokens[i:i + CODE_K])), {n for _, n in tokens[i:i + CODE_K]})
             for i in range(len(tokens) - CODE_K + 1)]
    found: dict[int, set[int]] = {}
    for i in range(max(len(grams) - WINDOW + 1, 1 if grams else 0)):
        window = grams[i:i + WINDOW]
        value, lines = min(window, key=lambda g: g[0])
        found.setdefault(value, set()).update(lines)
    return found


def winnow(source: str) -> dict[int, set[int]]:
    """Fingerprint hash -> the source lines it covers: ``source`` as one cell, normalised where it parses."""
    lines = range(source.count("\n") + 2)
    return winnow_tokens(cell_tokens([(source, lines)]))


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


def overlap_scores(sets: list[set], min_size: int, weighted: bool = False) -> np.ndarray:
    """Pairwise share of fingerprints: |A & B| / min(|A|, |B|), scaled down for sets under ``min_size``.

    ``weighted``: each fingerprint counts log(n / its number of holders) (rare ones weigh most, as in
    TF-IDF), and the scale is reached at ``min_size`` fingerprints of the weight of one that only two
    hold, so a small share of half-common code (the expected solution in a slightly unusual order)
    scores low and a copy's own lines score high.
    """
    from scipy.sparse import csr_matrix

    vocabulary: dict = {}
    rows, cols = [], []
    for r, s in enumerate(sets):
        for item in s:
            rows.append(r)
            cols.append(vocabulary.setdefault(item, len(vocabulary)))
    n = len(sets)
    if weighted and n > 2:
        holders = np.bincount(cols, minlength=len(vocabulary)) if cols else np.zeros(0)
        weight = np.log(n / np.maximum(holders, 1))
        full = np.log(n / 2)
    else:
        weight, full = np.ones(len(vocabulary)), 1.0
    values = np.sqrt(weight[cols]) if cols else np.zeros(0)
    matrix = csr_matrix((values, (rows, cols)), shape=(n, max(len(vocabulary), 1)))
    shared = (matrix @ matrix.T).toarray()
    sizes = np.zeros(n)
    np.add.at(sizes, rows, weight[cols] if cols else np.zeros(0))
    smaller = np.minimum.outer(sizes, sizes)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(smaller > 0, shared / smaller, 0.0) * np.minimum(smaller / (min_size * full), 1.0)
    return np.clip(score, 0.0, 1.0)


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
