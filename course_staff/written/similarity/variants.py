"""The strongest evidence of copying when per-student variants are on: another student's variant in a notebook.

Two signs, each listed as a pair (``part`` "variant", score 1.0, so first) between the submission and the
submissions of the students who own that variant:

- its id cell names another student of the batch (``STUDENT_ID = "..."``, read as data), not the one its file
  name or the roster names; or, where nothing but the id cell names the owner, another notebook names the same;
- its own code or prose holds a number that is an answer of another variant of a question and not of the student's:
  the key's answers of every variant (``course_staff.keys.solutions`` per variant), as a notebook holds them, long
  enough not to be met by chance (``MIN_DIGITS`` significant digits).

Honest work never shows either: a student's notebook holds their own variant's numbers.
"""

from __future__ import annotations

import re
from pathlib import Path

from course_staff.formats.handouts import Handout, match, read_notebook
from course_staff.formats import identity
from course_staff.written.pairs import Pair
from course_utils import variants

MIN_DIGITS = 3  # a number with fewer significant digits (0.5, 12, 3.00, 100) is met by chance
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")


def _digits(text: str) -> int:
    """Significant digits of a number's text: ``"4.2426"`` 5, ``"3.0000"`` and ``"100"`` 1 (met everywhere)."""
    return len(text.lstrip("-").split("e")[0].replace(".", "").strip("0"))


def variant_numbers(tiny: bool = True) -> dict[str, dict[int, dict[str, str]]]:
    """question prefix -> variant -> {number text: check id}: the numbers of that variant's hash-checked answers as
    a notebook would hold them (ints as digits; floats to 4 decimals and as the check rounds them), each of
    ``MIN_DIGITS`` significant digits or more."""
    from course_staff.keys import solutions
    from course_utils import checks
    from course_utils.checks import _forms

    found: dict[str, dict[int, dict[str, str]]] = {}
    specs = checks.specs()
    for prefix in checks.parts():
        n = variants.count(prefix)
        if n < 2:
            continue
        per: dict[int, dict[str, str]] = {}
        for number in range(n):
            with variants.pinned(prefix, number):
                answers = {q: v for q, v in solutions(tiny).items() if q.startswith(prefix + ".")}
                texts: dict[str, str] = {}
                for question, value in answers.items():
                    spec = specs.get(question)
                    if spec is None or spec.kind not in ("int", "ints", "float", "floats"):
                        continue
                    for x in _forms.flat(value):
                        x = float(x)
                        shown = [str(int(x))] if x.is_integer() else [f"{x:.4f}", f"{x:.{max(spec.precision, 2)}f}"]
                        texts.update({t: question for t in shown if _digits(t) >= MIN_DIGITS})
                per[number] = texts
        found[prefix] = per
    return found


def evidence(folder: Path, handouts: dict[str, Handout], roster: identity.Roster | None = None,
             tiny: bool = True, term: str | None = None) -> list[Pair]:
    """The "variant" pairs of the submissions in ``folder`` (module docstring); none while variants are off."""
    term = variants.term() if term is None else term
    if not term:
        return []
    seen: list[tuple[str, identity.Identity, str]] = []  # (file, who, its own text)
    for path in sorted(folder.glob("*.ipynb")):
        try:
            nb = read_notebook(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError, OSError):
            continue
        handout, _ = match(nb, handouts)
        if handout is None:
            continue
        given = {c.get("id"): c.source for c in handout.nb.cells}
        own = "\n".join(c.source for c in nb.cells if given.get(c.get("id")) != c.source)
        seen.append((path.name, identity.identify(path.name, nb, roster), own))
    files_of: dict[str, list[str]] = {}
    for file, who, _ in seen:
        if who.student:
            files_of.setdefault(who.student, []).append(file)
    numbers = variant_numbers(tiny)
    pairs: list[Pair] = []
    for file, who, own in seen:
        if who.source == "id cell":  # nothing but the notebook names its owner: another file claiming one is a copy
            pairs += [Pair(file, other, "variant", "", 1.0, why=f"both name {who.student!r} in their id cells")
                      for other in files_of[who.student] if other > file]
        if who.cell and who.cell != who.student and who.cell in files_of:
            pairs += [Pair(file, other, "variant", "", 1.0, why=f"its id cell is {who.cell!r}'s, not {who.student!r}'s")
                      for other in files_of[who.cell] if other != file]
        if not who.student:
            continue
        present = set(_NUMBER.findall(own))
        for prefix, per in numbers.items():
            mine = variants.number_for(prefix, who.student, term)
            foreign = {t: [v for v, texts in per.items() if v != mine and t in texts]
                       for t in present - set(per.get(mine, {}))}
            foreign = {t: vs for t, vs in foreign.items() if vs}
            if not foreign:
                continue
            theirs = sorted({v for vs in foreign.values() for v in vs})
            hits = sorted(foreign)[:3]
            owners = sorted(f for s, fs in files_of.items() if s != who.student
                            and variants.number_for(prefix, s, term) in theirs for f in fs)
            what = per[foreign[hits[0]][0]][hits[0]]
            why = (f"holds {', '.join(hits)} ({what} in {prefix} variant {'/'.join(map(str, theirs))}), "
                   f"not in its own variant {mine}")
            pairs += [Pair(file, other, "variant", prefix, 1.0, why=why) for other in owners] or \
                [Pair(file, "", "variant", prefix, 1.0, why=why + " (no submission of that variant here)")]
    return pairs
