"""Pairs of submissions whose work is unusually alike: code per notebook, prose per written question.

Submissions are matched to their handouts by content (``course_staff.formats.handouts.match``) and
compared only with submissions of the same handout. What the handout gives is taken out first: code
cells left as handed out, the scaffold lines of each code blank, the handout's code fingerprints and
its text's shingles. A notebook's code score is the larger of its whole code's and its best single
code blank's (a copier who copies one question only is caught there).

Which pairs are reported is decided by the batch itself, not by one absolute score: in each group (a
handout's code, a written question's answers) the ``top`` highest pairs are always listed, and so is
every pair above the group's robust outlier bound (``outlier_bound``: Tukey's far-out fence, Q3 + 3 IQR,
of the group's pair scores, which honest pairs make up almost entirely); ``threshold``, where given,
adds every pair at or above it. Two answers that the marking page's answer groups put in a group of
their own (``course_staff.written.groups``) are listed too when their shared wording is above the
question's mild fence (Q3 + 1.5 IQR), flagged "group of two". Each pair says why it is listed
(``Pair.why``). Nothing is penalised: a TA confirms or dismisses each pair in ``course-utils mark``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from course_staff.formats.handouts import Handout, load_handouts, match, read_notebook
from course_staff.written import groups
from course_staff.written.answers import collect
from course_staff.written.pairs import Pair
from course_staff.written.similarity import fingerprints as fp

CODE_MIN = 12  # fingerprints a notebook's own code needs before a full score counts
PROSE_MIN = 12  # shingles an answer needs before a full score counts
TOP = 3  # pairs always listed per group (a handout's code, a written question)
FAR, MILD = 3.0, 1.5  # Tukey's fences: outliers above Q3 + FAR * IQR; groups of two above Q3 + MILD * IQR


@dataclass
class Work:
    """One submission's own work: its code (scaffold removed) and its written answers."""

    file: str
    handout: str
    code: str
    prose: dict[str, str] = field(default_factory=dict)
    # each code cell of the student's: (the handout cell's id, or "" for a cell of the student's own; its
    # source; per line of it, 1-based, its line in ``code``, or None for a scaffold line)
    cells: tuple[tuple[str, str, tuple[int | None, ...]], ...] = ()


def own_cells(nb, handout: Handout) -> tuple[str, tuple[tuple[str, str, tuple[int | None, ...]], ...]]:
    """The submission's code less the handout's, and its cells (see ``Work.cells``) with their lines in it."""
    given = {cell.get("id"): cell.source for cell in handout.nb.cells if cell.cell_type == "code"}
    scaffold = {line.strip() for source in given.values() for line in source.splitlines() if line.strip()}
    kept, cells, at = [], [], 0
    for cell in nb.cells:
        if cell.cell_type != "code" or given.get(cell.get("id")) == cell.source:
            continue
        lines: list[int | None] = [None]
        own = []
        for line in cell.source.splitlines():
            if line.strip() in scaffold:
                lines.append(None)
            else:
                own.append(line)
                lines.append(at + len(own))
        kept.append("\n".join(own))
        at += max(len(own), 1)  # an empty cell still takes a line of the joined text
        cells.append((cell.get("id") if cell.get("id") in given else "", cell.source, tuple(lines)))
    return "\n".join(kept), tuple(cells)


def own_code(nb, handout: Handout) -> str:
    """The submission's code less the handout's: unchanged handout cells dropped, scaffold lines removed."""
    return own_cells(nb, handout)[0]


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
        prose = {a.question: a.answer for a in collect(path.name, nb, handout) if not groups.is_blank(a.answer)}
        code, cells = own_cells(nb, handout)
        works.append(Work(path.name, handout.name, code, prose, cells))
    return works, skipped


def _handout_text(handout: Handout) -> str:
    return "\n".join(cell.source for cell in handout.nb.cells if cell.cell_type == "markdown")


def _handout_code(handout: Handout) -> str:
    return "\n".join(cell.source for cell in handout.nb.cells if cell.cell_type == "code")


def outlier_bound(scores, fence: float = FAR) -> float:
    """Q3 + ``fence`` x IQR of the scores: above it a pair is an outlier of its batch (inf for no scores)."""
    values = np.asarray(scores, dtype=float)
    if values.size == 0:
        return float("inf")
    q1, q3 = np.percentile(values, [25, 75])
    return float(q3 + fence * (q3 - q1))


def _code_prints(work: Work) -> tuple[dict[int, set[int]], dict[int, str]]:
    """The work's fingerprints (hash -> lines of ``work.code``) and the cell id of each line."""
    if not work.cells:  # a Work built by hand: its code as one cell
        return fp.winnow(work.code), {}
    tokens = fp.cell_tokens([(source, lines) for _, source, lines in work.cells])
    cell_of = {n: key for key, _, lines in work.cells for n in lines if n is not None}
    return fp.winnow_tokens(tokens), cell_of


def _select(scores: np.ndarray, top: int, threshold: float | None, groups_of_two=()) -> dict[tuple[int, int], list[str]]:
    """The pairs (i < j) of one group to list, each with why (see the module docstring)."""
    n = len(scores)
    upper = [(float(scores[i, j]), i, j) for i in range(n) for j in range(i + 1, n)]
    far = outlier_bound([u[0] for u in upper], FAR)
    mild = outlier_bound([u[0] for u in upper], MILD)
    chosen: dict[tuple[int, int], list[str]] = {}
    for rank, (score, i, j) in enumerate(sorted(upper, key=lambda u: (-u[0], u[1], u[2]))):
        why = []
        if rank < top and score > 0:
            why.append(f"top {top}")
        if score > far:
            why.append("outlier")
        if threshold is not None and score >= threshold:
            why.append("threshold")
        if (i, j) in groups_of_two and score > mild:
            why.append("group of two")
        if why:
            chosen[(i, j)] = why
    return chosen


def _groups_of_two(texts: list[str]) -> set[tuple[int, int]]:
    """Pairs (i < j) that the marking page's answer grouping puts in a group of exactly two."""
    labels = groups.group(texts)
    members: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        members.setdefault(label, []).append(i)
    return {tuple(sorted(m)) for m in members.values() if len(m) == 2}


def compare(works: list[Work], handouts: dict[str, Handout], threshold: float | None = None,
            top: int = TOP) -> list[Pair]:
    """The pairs to review (same handout), by score, highest first: per group the ``top`` pairs, the batch's
    outliers, groups of two with unusual shared wording, and (where given) every pair at ``threshold`` or above."""
    pairs: list[Pair] = []
    for name, handout in handouts.items():
        group = [w for w in works if w.handout == name]
        if len(group) < 2:
            continue
        given = set(fp.winnow(_handout_code(handout)))
        found = [_code_prints(w) for w in group]
        prints = [p for p, _ in found]
        sets = [set(p) - given for p in prints]
        stock = fp.common(sets)
        sets = [s - stock for s in sets]
        scores = fp.overlap_scores(sets, CODE_MIN, weighted=True)
        keys = sorted({k for _, cell_of in found for k in cell_of.values() if k})
        for key in keys:  # one question's code copied alone: its cell alone scores it
            per_cell = [{h for h in s if any(cell_of.get(n) == key for n in p[h])} for s, (p, cell_of) in zip(sets, found)]
            scores = np.maximum(scores, fp.overlap_scores(per_cell, CODE_MIN, weighted=True))
        for (i, j), why in _select(scores, top, threshold).items():
            shared = sets[i] & sets[j]
            lines_a = sorted({n for h in shared for n in prints[i][h]})
            lines_b = sorted({n for h in shared for n in prints[j][h]})
            pairs.append(Pair(group[i].file, group[j].file, "code", "", round(float(scores[i, j]), 4),
                              tuple(lines_a), tuple(lines_b), ", ".join(why)))
        text = fp.shingles(_handout_text(handout))
        for question in handout.blanks:
            answered = [w for w in group if question in w.prose]
            if len(answered) < 2:
                continue
            sets = [fp.shingles(w.prose[question]) - text for w in answered]
            stock = fp.common(sets)
            sets = [s - stock for s in sets]
            scores = fp.minhash_scores(sets, PROSE_MIN)
            twos = _groups_of_two([w.prose[question] for w in answered])
            for (i, j), why in _select(scores, top, threshold, twos).items():
                pairs.append(Pair(answered[i].file, answered[j].file, "prose", question,
                                  round(float(scores[i, j]), 4), why=", ".join(why)))
    return sorted(pairs, key=lambda p: (-p.score, p.part, p.question, p.a, p.b))


def run(folder: Path, handouts_dir: Path, threshold: float | None = None,
        top: int = TOP, roster=None) -> tuple[list[Pair], list[Work], list[str]]:
    """Load, compare: the pairs, the works (for the HTML) and the files skipped. With per-student variants on,
    another student's variant in a notebook comes first (``similarity.variants.evidence``): the strongest sign."""
    from course_staff.written.similarity.variants import evidence

    handouts = load_handouts(handouts_dir)
    works, skipped = load(folder, handouts)
    return evidence(folder, handouts, roster) + compare(works, handouts, threshold, top), works, skipped
