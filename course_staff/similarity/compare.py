"""Pairs of submissions whose work is unusually alike: code per notebook, prose per written question.

Submissions are matched to their handouts by content (``course_staff.grading.handouts.match``) and
compared only with submissions of the same handout. What the handout gives is taken out first: code
cells left as handed out, the scaffold lines of each code blank, the handout's code fingerprints and
its text's shingles. A pair is reported when its score reaches ``threshold``; nothing is penalised,
a TA confirms or dismisses each pair in ``course-utils mark``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from course_staff.grading.answers import collect
from course_staff.grading.handouts import Handout, load_handouts, match, read_notebook
from course_staff.marking.groups import is_blank
from course_staff.similarity import fingerprints as fp

CODE_MIN = 12  # fingerprints a notebook's own code needs before a full score counts
PROSE_MIN = 12  # shingles an answer needs before a full score counts


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    part: str  # "code" or "prose"
    question: str  # the written blank's cell id, "" for a notebook's code
    score: float
    lines_a: tuple[int, ...] = ()  # matching lines (code) of a and b, for the side-by-side view
    lines_b: tuple[int, ...] = ()


@dataclass
class Work:
    """One submission's own work: its code (scaffold removed) and its written answers."""

    file: str
    handout: str
    code: str
    prose: dict[str, str] = field(default_factory=dict)


def own_code(nb, handout: Handout) -> str:
    """The submission's code less the handout's: unchanged handout cells dropped, scaffold lines removed."""
    given = {cell.get("id"): cell.source for cell in handout.nb.cells if cell.cell_type == "code"}
    scaffold = {line.strip() for source in given.values() for line in source.splitlines() if line.strip()}
    kept = []
    for cell in nb.cells:
        if cell.cell_type != "code" or given.get(cell.get("id")) == cell.source:
            continue
        kept.append("\n".join(line for line in cell.source.splitlines() if line.strip() not in scaffold))
    return "\n".join(kept)


def load(folder: Path, handouts: dict[str, Handout]) -> tuple[list[Work], list[str]]:
    """Every ``folder/*.ipynb`` as its own work; files that are no notebook or match no handout are listed."""
    works, skipped = [], []
    for path in sorted(folder.glob("*.ipynb")):
        try:
            nb = read_notebook(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            skipped.append(path.name)
            continue
        handout, _ = match(nb, handouts)
        if handout is None:
            skipped.append(path.name)
            continue
        prose = {a.question: a.answer for a in collect(path.name, nb, handout) if not is_blank(a.answer)}
        works.append(Work(path.name, handout.name, own_code(nb, handout), prose))
    return works, skipped


def _handout_text(handout: Handout) -> str:
    return "\n".join(cell.source for cell in handout.nb.cells if cell.cell_type == "markdown")


def _handout_code(handout: Handout) -> str:
    return "\n".join(cell.source for cell in handout.nb.cells if cell.cell_type == "code")


def compare(works: list[Work], handouts: dict[str, Handout], threshold: float = 0.3) -> list[Pair]:
    """Every pair (same handout) scoring at least ``threshold``, by score, highest first."""
    pairs: list[Pair] = []
    for name, handout in handouts.items():
        group = [w for w in works if w.handout == name]
        if len(group) < 2:
            continue
        given = set(fp.winnow(_handout_code(handout)))
        prints = [fp.winnow(w.code) for w in group]
        sets = [set(p) - given for p in prints]
        stock = fp.common(sets)
        sets = [s - stock for s in sets]
        scores = fp.overlap_scores(sets, CODE_MIN)
        for i in range(len(group)):
            for j in range(i + 1, len(group)):
                if scores[i, j] >= threshold:
                    shared = sets[i] & sets[j]
                    lines_a = sorted({n for h in shared for n in prints[i][h]})
                    lines_b = sorted({n for h in shared for n in prints[j][h]})
                    pairs.append(Pair(group[i].file, group[j].file, "code", "", round(float(scores[i, j]), 4),
                                      tuple(lines_a), tuple(lines_b)))
        text = fp.shingles(_handout_text(handout))
        for question in handout.blanks:
            answered = [w for w in group if question in w.prose]
            if len(answered) < 2:
                continue
            sets = [fp.shingles(w.prose[question]) - text for w in answered]
            stock = fp.common(sets)
            sets = [s - stock for s in sets]
            scores = fp.minhash_scores(sets, PROSE_MIN)
            for i in range(len(answered)):
                for j in range(i + 1, len(answered)):
                    if scores[i, j] >= threshold:
                        pairs.append(Pair(answered[i].file, answered[j].file, "prose", question,
                                          round(float(scores[i, j]), 4)))
    return sorted(pairs, key=lambda p: (-p.score, p.part, p.question, p.a, p.b))


def run(folder: Path, handouts_dir: Path, threshold: float = 0.3) -> tuple[list[Pair], list[Work], list[str]]:
    """Load, compare: the pairs, the works (for the HTML) and the files skipped."""
    handouts = load_handouts(handouts_dir)
    works, skipped = load(folder, handouts)
    return compare(works, handouts, threshold), works, skipped
