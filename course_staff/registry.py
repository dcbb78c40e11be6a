"""Build the check registry ``course_utils/data/checks.json`` from the package's own answers.

``python -m course_staff.registry --write | --check | --pin ID MODE VALUE_JSON``.
Two full-mode facts that need the real ``bert-base-uncased`` vocabulary or IMDB archive are
*pinned*: kept from the committed file, refreshed with ``--pin`` on a machine that has them.
Instructor-only: not in the student release.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from course_utils import checks, variants
from course_utils.files import atomic_write
from course_staff import judging
from course_staff import keys
from course_staff.keys import mistakes, solutions

PINNED = {("lab.token_ids", "full"), ("lab.split_sizes", "full")}
#: The known mistakes of a pinned answer, from its value and the mode's other answers.
PINNED_MISTAKES = {
    "lab.token_ids": lambda ids, answers: [
        ([answers["lab.special_ids"][0], *ids, answers["lab.special_ids"][1]],
         "without the special tokens ([CLS], [SEP]) that encoding adds. ")],
}


def answer_hashes(question: str, value: Any) -> list[str]:
    """The registry hashes of a right answer: each entry's first canonical form."""
    salt = checks.salt_for(question)
    forms = checks.candidate_forms(checks.specs()[question], value)
    return [checks.digest(salt, i, entry[0]) for i, entry in enumerate(forms)]


def mistake_hashes(question: str, right: Any, wrong: list[tuple[Any, str]]) -> dict[str, str]:
    """{fingerprint: hint} of the known mistakes of a hash-checked answer, leaving out any that the check would
    take for the right answer (a mistake never masks a right answer)."""
    spec = checks.specs()[question]
    salt = checks.salt_for(question)
    right_text = checks.mistake_text([entry[0] for entry in checks.candidate_forms(spec, right)])
    found: dict[str, str] = {}
    for value, hint in wrong:
        text = checks.mistake_text([entry[0] for entry in checks.candidate_forms(spec, value)])
        if text != right_text:
            found.setdefault(checks.digest(salt, "mistake", text), hint)
    return dict(sorted(found.items()))


def unordered_hash(question: str, value: Any) -> str | None:
    """For an answer that is a sequence ("ints", "tokens"), the hash of its sorted values: a self-check says
    "right values, wrong order" when only the order is off."""
    kind = checks.specs()[question].kind
    if kind not in checks.ORDERED_KINDS:
        return None
    return checks.digest(checks.salt_for(question), "unordered", checks.unordered_text(checks.specs()[question], value))


def build_registry(previous: dict | None = None) -> dict:
    """The registry from ``solutions``: id -> {"tiny": [...], "full": [...]} or {"any": [...]}, and for a question
    with variants (``course_utils.variants``) the same per variant v >= 1 under ``"variants"[str(v)]``, each
    hashed with that variant's salt.

    previous: the committed registry, whose pinned entries (``PINNED``) are carried over (variant 0's).
    """
    previous = checks.load_registry() if previous is None and checks.REGISTRY.is_file() else (previous or {})
    registry = _build_variant(previous)  # variant 0 of every question: the handout without variants
    for prefix in sorted({q.split(".", 1)[0] for q in registry}):
        for number in range(1, variants.count(prefix)):
            with variants.pinned(prefix, number):
                found = _build_variant(previous, prefix, number)
            for question, entry in found.items():
                registry[question].setdefault("variants", {})[str(number)] = entry
    return registry


def _build_variant(previous: dict, prefix: str | None = None, number: int = 0) -> dict:
    """The entries of every check (or of question ``prefix``'s only) in the variants this process is in."""
    # no answer is hashed for numbers that no longer carry the question's lesson
    keys.premises(only=prefix, variant=number)
    per_mode, extras, computed = {}, {}, {}
    for name in ("tiny", "full"):
        answers = computed[name] = solutions(name == "tiny")
        wrong = mistakes(name == "tiny", answers)
        per_mode[name] = {q: answer_hashes(q, v) for q, v in answers.items()}
        extras[name] = {q: {"mistakes": mistake_hashes(q, v, wrong.get(q, [])), "unordered": unordered_hash(q, v)}
                        for q, v in answers.items()}
    for question, name in sorted(PINNED):
        if number and question in PINNED_VARIANTS:  # derived afresh from variant 0's fact: never a stale copy
            value = PINNED_VARIANTS[question](name)
            if value is not None:
                wrong = PINNED_MISTAKES.get(question, lambda value, answers: [])(value, computed[name])
                per_mode[name][question] = answer_hashes(question, value)
                extras[name][question] = {"mistakes": mistake_hashes(question, value, wrong),
                                          "unordered": unordered_hash(question, value)}
            continue
        pinned = _previous_entry(previous, question, number).get(name)
        if pinned is not None:
            per_mode[name][question] = pinned
            extras[name][question] = {key: _pinned_extra(previous, question, key, name, number)
                                      for key in ("mistakes", "unordered")}
    registry = {}
    known_judges = judging.judges()
    for question, spec in sorted(checks.specs().items()):
        if prefix is not None and question.split(".", 1)[0] != prefix:
            continue
        if spec.kind == "probe":
            if question not in known_judges:
                raise ValueError(f"{question}: a probe check without a Judge in course_staff.keys.{question.split('.')[0]}.JUDGES")
            registry[question] = judging.probe_entry(question, spec, known_judges[question])
            continue
        if not spec.hashed:
            continue
        tiny, full = per_mode["tiny"].get(question), per_mode["full"].get(question)
        if tiny is None and full is None:
            raise ValueError(f"{question}: hash-checked but has no answer in course_staff.keys")
        registry[question] = {"any": tiny} if tiny == full else {k: v for k, v in (("tiny", tiny), ("full", full)) if v}
        for key in ("mistakes", "unordered"):
            by_mode = {name: extras[name].get(question, {}).get(key) for name in ("tiny", "full")}
            by_mode = {name: v for name, v in by_mode.items() if v}
            if by_mode:
                registry[question][key] = ({"any": by_mode["tiny"]} if len(by_mode) == 2 and by_mode["tiny"] == by_mode["full"]
                                           else by_mode)
    return registry


def _previous_entry(previous: dict, question: str, number: int) -> dict:
    entry = previous.get(question, {})
    return entry if not number else entry.get("variants", {}).get(str(number), {})


def _pinned_extra(previous: dict, question: str, key: str, name: str, number: int) -> Any:
    table = _previous_entry(previous, question, number).get(key, {})
    return table.get(name) or table.get("any")


#: Pinned answers whose value in a variant other than 0 the key derives (``mode name -> value or None``).
PINNED_VARIANTS: dict[str, Any] = {
    # the lab (course_staff.keys.lab.pinned_full): the split of the archive's 25,000 training reviews by the
    # variant's fraction, and the sentence's ids, the same in every variant (each checked against variant 0's pin)
    "lab.split_sizes": lambda mode_name: keys.modules()["lab"].pinned_full("lab.split_sizes", mode_name),
    "lab.token_ids": lambda mode_name: keys.modules()["lab"].pinned_full("lab.token_ids", mode_name),
}


def pin(registry: dict, question: str, mode_name: str, value: Any) -> dict:
    """A copy of ``registry`` with the answer of ``question`` in ``mode_name`` set from ``value``."""
    if (question, mode_name) not in PINNED:
        raise ValueError(f"{question} in {mode_name} mode is computed, not pinned; pinned: {sorted(PINNED)}")
    updated = json.loads(json.dumps(registry))
    entry = updated.setdefault(question, {})
    entry[mode_name] = answer_hashes(question, value)
    wrong = PINNED_MISTAKES.get(question, lambda value, answers: [])(value, solutions(mode_name == "tiny"))
    for key, extra in (("mistakes", mistake_hashes(question, value, wrong)), ("unordered", unordered_hash(question, value))):
        table = entry.setdefault(key, {})
        if "any" in table:  # the other mode keeps the shared value as its own
            table.update({other: table.pop("any") for other in ("tiny", "full") if other != mode_name})
        if extra:
            table[mode_name] = extra
        else:
            table.pop(mode_name, None)
        if not table:
            entry.pop(key)
    return updated


def dump_registry(registry: dict) -> str:
    """The registry file's text (stable order, so a regenerated file compares equal)."""
    return json.dumps({"iterations": checks.ITERATIONS, "checks": registry}, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m course_staff.registry --write | --check | --pin ID MODE VALUE_JSON``."""
    parser = argparse.ArgumentParser(prog="python -m course_staff.registry", description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help=f"regenerate {checks.REGISTRY}")
    group.add_argument("--check", action="store_true", help="exit 1 if the committed registry is stale")
    group.add_argument("--pin", nargs=3, metavar=("ID", "MODE", "VALUE_JSON"), help="set a pinned answer")
    args = parser.parse_args(argv)
    if args.pin:
        question, mode_name, value = args.pin
        text = dump_registry(pin(checks.load_registry(), question, mode_name, json.loads(value)))
    else:
        text = dump_registry(build_registry())
    if args.check:
        stale = not checks.REGISTRY.is_file() or checks.REGISTRY.read_text(encoding="utf-8") != text
        print(f"{checks.REGISTRY}: {'stale: run python -m course_staff.registry --write' if stale else 'up to date'}")
        return int(stale)
    atomic_write(checks.REGISTRY, text.encode("utf-8"))
    print(f"wrote {checks.REGISTRY}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
