"""A synthetic movie-review set in the IMDB layout, for tiny mode.

Sentiment is carried by words in context, never by length: each review mixes 0-1 neutral
sentences with 1-3 opinions; an opinion's polarity is its adjective's polarity, flipped by
"not"/"never" ("was not good" is negative), with optional intensifiers; a third of the
3-opinion reviews are mixed ("... , but ...") with one opinion against the other two; half
end with an "overall ..." verdict. Every choice that changes a review's length is drawn
from the same distribution for both classes.
"""

from __future__ import annotations

import random
from pathlib import Path

from course_utils.lab.labels import LABELS

SUBJECTS = ("the acting", "the plot", "the story", "the music", "the ending", "the cast",
            "the dialogue", "the director", "the script", "this film", "the movie", "the effects")
POSITIVE = ("good", "great", "excellent", "wonderful", "brilliant", "superb", "enjoyable", "funny", "beautiful",
            "clever")
NEGATIVE = ("bad", "terrible", "awful", "boring", "dull", "weak", "poor", "horrible", "clumsy", "stupid")
INTENSIFIERS = ("very", "really", "truly", "extremely", "quite")
NEGATORS = ("not", "never")
FILLERS = (
    "i watched it with my family last week .",
    "the film runs for about two hours .",
    "it is set in a small town near the sea .",
    "the main character is a young detective .",
    "we saw it in the cinema on a rainy day .",
    "it was released last year .",
    "the story follows two brothers and their father .",
    "my friend told me about it .",
    "there is a long scene in a train .",
    "most of it takes place at night .",
)
# Words for the notebook's example sentences, so that they are not all [UNK] in tiny mode.
EXTRA_WORDS = ("hello", "world", "how", "are", "you", "?", "!", ",", "justice", "league", "is", "hated",
               "avengers", "loved", "it", "i", "a", "and", "but", "was", "found", "film", "movie", "overall")
NEGATED_OPINION_RATE = 0.25  # opinions whose adjective is negated ("not good")
MIXED_RATE = 0.35  # reviews with 3 opinions that have one opinion against the others
N_OPINIONS = (1, 2, 3)
# Neutral sentences. Tiny mode is what grading runs, and the GRU's time is proportional to a batch's longest
# review: with 0-2 of them (25 words a review on average) the key's two training epochs took 1.4 times as long.
N_FILLERS = (0, 1)
VERDICT_RATE = 0.5  # reviews that end with "overall <opinion> ."
SYNTHETIC_VERSION = 2  # part of the cache folder's name: bump it whenever the reviews change


def vocabulary() -> list[str]:
    """Every word the synthetic reviews (and the notebook's examples) use, sorted, without duplicates."""
    words = set(EXTRA_WORDS) | set(POSITIVE) | set(NEGATIVE) | set(INTENSIFIERS) | set(NEGATORS)
    for phrase in SUBJECTS + FILLERS + ("i did find", "overall it was"):
        words.update(phrase.split())
    return sorted(words)


def _opinion(rng: random.Random, polarity: int) -> str:
    """One opinion clause whose meaning is ``polarity`` (1 positive, 0 negative)."""
    negated = rng.random() < NEGATED_OPINION_RATE
    adjective_polarity = polarity ^ int(negated)
    adjective = rng.choice(POSITIVE if adjective_polarity else NEGATIVE)
    intensifier = rng.choice(INTENSIFIERS) + " " if rng.random() < 0.5 else ""
    subject = rng.choice(SUBJECTS)
    if rng.random() < 0.5:
        verb = f"was {rng.choice(NEGATORS)}" if negated else "was"
        return f"{subject} {verb} {intensifier}{adjective}"
    verb = "did not find" if negated else "found"
    return f"i {verb} {subject} {intensifier}{adjective}"


def make_review(rng: random.Random, label: int) -> str:
    """One review of class ``label`` (0 negative, 1 positive), drawn with ``rng``."""
    n_opinions = rng.choice(N_OPINIONS)
    polarities = [label] * n_opinions
    mixed = n_opinions >= 3 and rng.random() < MIXED_RATE
    if mixed:
        polarities[0] = 1 - label
    clauses = [_opinion(rng, p) for p in polarities]
    if mixed:
        sentences = [f"{clauses[0]} , but {clauses[1]} ."] + [f"{c} ." for c in clauses[2:]]
    else:
        sentences = [f"{c} ." for c in clauses]
    sentences += rng.sample(FILLERS, rng.choice(N_FILLERS))
    rng.shuffle(sentences)
    if rng.random() < VERDICT_RATE:
        sentences.append(f"overall {_opinion(rng, label)} .")
    return " ".join(sentences)


def write_synthetic_imdb(root: Path, n_per_class: int, seed: int = 0, n_test_per_class: int | None = None) -> Path:
    """Write ``root/aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt`` and return ``root/aclImdb``.

    n_per_class: reviews per class of the training split, and of the test split unless
    ``n_test_per_class`` is given. Deterministic in ``seed`` (each split drawn from its own stream,
    so the test split's size never changes the training reviews); ratings follow IMDB (negative
    1-4, positive 7-10).
    """
    base = Path(root) / "aclImdb"
    sizes = (n_per_class, n_per_class if n_test_per_class is None else n_test_per_class)
    for split_index, split in enumerate(("train", "test")):
        rng = random.Random(f"{seed}-{split_index}")
        for label, name in enumerate(LABELS):
            folder = base / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(sizes[split_index]):
                rating = rng.randint(7, 10) if label else rng.randint(1, 4)
                (folder / f"{i}_{rating}.txt").write_text(make_review(rng, label), encoding="utf-8")
    return base
