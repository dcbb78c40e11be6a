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

from course_utils import checks
from course_utils.files import atomic_write
from course_staff import judging
from course_staff.answers import solutions

PINNED = {("lab.token_ids", "full"), ("lab.split_sizes", "full")}


def answer_hashes(question: str, value: Any) -> list[str]:
    """The registry hashes of a right answer: each entry's first canonical form."""
    salt = checks.salt_for(question)
    forms = checks.candidate_forms(checks.specs()[question], value)
    return [checks.digest(salt, i, entry[0]) for i, entry in enumerate(forms)]


def build_registry(previous: dict | None = None) -> dict:
    """The registry from ``solutions``: id -> {"tiny": [...], "full": [...]} or {"any": [...]}.

    previous: the committed registry, whose pinned entries (``PINNED``) are carried over.
    """
    previous = checks.load_registry() if previous is None and checks.REGISTRY.is_file() else (previous or {})
    per_mode = {name: {q: answer_hashes(q, v) for q, v in solutions(name == "tiny").items()}
                for name in ("tiny", "full")}
    for question, name in sorted(PINNED):
        pinned = previous.get(question, {}).get(name)
        if pinned is not None:
            per_mode[name][question] = pinned
    registry = {}
    known_judges = judging.judges()
    for question, spec in sorted(checks.specs().items()):
        if spec.kind == "probe":
            if question not in known_judges:
                raise ValueError(f"{question}: a probe check without a Judge in course_staff.judging.KEY_MODULES")
            registry[question] = judging.probe_entry(question, spec, known_judges[question])
            continue
        if not spec.hashed:
            continue
        tiny, full = per_mode["tiny"].get(question), per_mode["full"].get(question)
        if tiny is None and full is None:
            raise ValueError(f"{question}: hash-checked but has no answer in course_staff.answers")
        registry[question] = {"any": tiny} if tiny == full else {k: v for k, v in (("tiny", tiny), ("full", full)) if v}
    return registry


def pin(registry: dict, question: str, mode_name: str, value: Any) -> dict:
    """A copy of ``registry`` with the answer of ``question`` in ``mode_name`` set from ``value``."""
    if (question, mode_name) not in PINNED:
        raise ValueError(f"{question} in {mode_name} mode is computed, not pinned; pinned: {sorted(PINNED)}")
    updated = json.loads(json.dumps(registry))
    updated.setdefault(question, {})[mode_name] = answer_hashes(question, value)
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
