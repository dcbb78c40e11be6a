"""Answer groups: similar answers to one written question, so a TA marks a group and then its exceptions.

Offline and deterministic: each answer becomes a TF-IDF vector of its words and word pairs plus
character 3-5-grams inside words (so a changed word ending or a typo stays close), and scikit-learn's
agglomerative clustering (cosine distance, average linkage) joins answers closer than
``DISTANCE``. Blank answers (the *YOUR ANSWER HERE* placeholder left, the cell deleted, nothing or
only the placeholder's words written) form a group of their own before any clustering. Groups are
numbered by size, the largest first.
"""

from __future__ import annotations

import re

import numpy as np

from course_staff.formats.handouts import BLANK
from course_staff.written.answers import DELETED, NOT_ANSWERED

DISTANCE = 0.6  # cosine distance under which two groups are joined (average linkage)
_PLACEHOLDER_WORDS = {"your", "answer", "here", "todo", "tbd", "n/a", "na", "none", "idk"}


def is_blank(text: str) -> bool:
    """True for an answer with nothing of the student's in it."""
    stripped = text.strip()
    if stripped in {"", NOT_ANSWERED, DELETED, BLANK}:
        return True
    words = re.findall(r"[a-z/]+", stripped.lower())
    return len(words) == 0 or set(words) <= _PLACEHOLDER_WORDS


def _normalise(text: str) -> str:
    text = re.sub(r"\$+", " ", text.lower())  # LaTeX delimiters are not content
    return re.sub(r"[\\*_`#>]+", " ", text)


def group(texts: list[str], distance: float = DISTANCE) -> list[int]:
    """A group number for each text: 0 is the largest group; blank answers share one group."""
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.feature_extraction.text import TfidfVectorizer
    from scipy.sparse import hstack

    labels = [-1] * len(texts)
    blank = [i for i, text in enumerate(texts) if is_blank(text)]
    filled = [i for i, text in enumerate(texts) if not is_blank(text)]
    raw: dict[int, list[int]] = {}
    if blank:
        raw[-1] = blank
    if len(filled) == 1:
        raw[0] = filled
    elif filled:
        docs = [_normalise(texts[i]) for i in filled]
        words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b").fit_transform(docs)
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True).fit_transform(docs)
        features = hstack([words, chars]).toarray()
        norms = np.linalg.norm(features, axis=1, keepdims=True)
        features = features / np.where(norms == 0, 1, norms)
        clusters = AgglomerativeClustering(n_clusters=None, distance_threshold=distance, metric="cosine",
                                           linkage="average").fit_predict(features)
        for index, cluster in zip(filled, clusters):
            raw.setdefault(int(cluster), []).append(index)
    ordered = sorted(raw.values(), key=lambda members: (-len(members), members[0]))
    for number, members in enumerate(ordered):
        for index in members:
            labels[index] = number
    return labels
