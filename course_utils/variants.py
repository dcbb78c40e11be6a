"""Per-student variants: each student's own numbers for a question, from a hash of (term, question, id).

The instructor switches variants on for a term (``[variants] term`` in ``course.toml``; ``course-utils keys``
writes it into this package as ``data/variants.json``). A student types their course id once, in the first
cell of each handout (``STUDENT_ID = "..."``), and the next cell calls :func:`use`. From then on every
question reads its numbers from :func:`params`:

- variant 0 is the handout as it has always been: it is what everyone gets while variants are off, or
  while ``STUDENT_ID`` is empty;
- with variants on and an id, question ``prefix`` gets variant ``sha256(term, prefix, id) mod n``, where n is
  the number of variants that question declares (``course_utils/<prefix>/variants.py``, ``VARIANTS``).

The same id gives the same variant on every run, runtime and download: nothing random is involved. The
numbers of every variant are public (a prompt shows them); what no file of the package holds is any
variant's answer (the self-checks compare salted hashes per variant, ``course_utils.checks``).

One source of truth per process: the environment variable ``COURSE_STUDENT_ID`` (set by :func:`use`, read
by everything, inherited by child processes), as ``COURSE_TINY`` is for the mode. The grader sets it to the
id it derived for the submission, never to what the notebook says.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from course_utils.errors import CourseError

ID_ENV = "COURSE_STUDENT_ID"
GRADER_ENV = "COURSE_GRADER_STUDENT_ID"  # set by the grader: the id it derived, which the notebook's cannot replace
TERM_ENV = "COURSE_VARIANT_TERM"  # overrides the installed term (tests, and a grader's dry run)
SETTINGS = Path(__file__).resolve().parent / "data" / "variants.json"
_ID = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,63}$")
_LOCAL = threading.local()  # per thread: the grader judges several students at once (--jobs)


def _pins() -> dict[str, int]:
    """This thread's pinned variants: question prefix -> forced variant number (the key builder, tests)."""
    if not hasattr(_LOCAL, "pins"):
        _LOCAL.pins = {}
    return _LOCAL.pins


class VariantError(CourseError, ValueError):
    """A course id that cannot name a student, or a variant number a question does not have."""


def normalise_id(student_id: Any) -> str:
    """The canonical form of a course id: text, trimmed, lower case (``" AB123 "`` -> ``"ab123"``).

    student_id: a str or an int (a Canvas user id); "" means "no id". Raises :class:`VariantError`
    naming the fix for anything else.
    """
    if isinstance(student_id, bool) or not isinstance(student_id, (str, int)):
        raise VariantError(f"STUDENT_ID = {student_id!r}: type your course id as text in quotes, "
                           'e.g. STUDENT_ID = "123456".')
    text = str(student_id).strip().lower()
    if text and not _ID.match(text):
        raise VariantError(f"STUDENT_ID = {student_id!r} is not a course id: use the letters, digits, '.', '_', "
                           "'-', '@' or '+' of the id your course gave you (at most 64), with no spaces.")
    return text


def use(student_id: Any) -> str:
    """Make ``student_id`` the id of this process (sets ``COURSE_STUDENT_ID``); returns it normalised.

    Call it with the handout's ``STUDENT_ID`` right after the first cell. "" (no id) keeps variant 0. Under the
    grader (``COURSE_GRADER_STUDENT_ID`` set) the grader's id is kept: a notebook is run as its owner's.
    """
    text = normalise_id(student_id)
    if GRADER_ENV in os.environ:
        text = normalise_id(os.environ[GRADER_ENV])
    os.environ[ID_ENV] = text
    return text


def student_id(environ: Mapping[str, str] | None = None) -> str:
    """The id of this process (``""`` when none was given)."""
    raw = (os.environ if environ is None else environ).get(ID_ENV, "")
    try:
        return normalise_id(raw)
    except VariantError:
        return ""


def term(environ: Mapping[str, str] | None = None) -> str:
    """The term whose variants are on (``""``: variants are off): ``COURSE_VARIANT_TERM``, else the installed
    ``data/variants.json`` written by ``course-utils keys`` from ``course.toml``."""
    environ = os.environ if environ is None else environ
    if TERM_ENV in environ:
        return environ[TERM_ENV].strip()
    try:
        return str(json.loads(SETTINGS.read_text(encoding="utf-8")).get("term", "")).strip()
    except (OSError, ValueError, AttributeError):
        return ""


def enabled() -> bool:
    """True when the installed package (or ``COURSE_VARIANT_TERM``) names a term."""
    return bool(term())


def table(prefix: str) -> tuple[dict, ...]:
    """Every variant's numbers for question ``prefix`` (``course_utils/<prefix>/variants.py``); one empty
    variant for a question that declares none."""
    name = prefix.split(".", 1)[0] if isinstance(prefix, str) else ""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or not (Path(__file__).resolve().parent / name / "checks.py").is_file():
        raise VariantError(f"{prefix!r} is not a question of this package: name one by its prefix, e.g. 'q2'.")
    prefix = name
    try:
        module = importlib.import_module(f"course_utils.{prefix}.variants")
    except ModuleNotFoundError as exc:
        if exc.name not in (f"course_utils.{prefix}.variants", f"course_utils.{prefix}"):
            raise
        return ({},)
    found = tuple(getattr(module, "VARIANTS", ()) or ({},))
    return found


def count(prefix: str) -> int:
    """How many variants question ``prefix`` has (1: it does not vary)."""
    return len(table(prefix))


def number_for(prefix: str, student: Any, term_name: str | None = None) -> int:
    """The variant of question ``prefix`` for ``student`` in ``term_name`` (default: the installed term).

    0 while variants are off or the id is empty; else sha256(term, prefix, id) mod :func:`count`.
    """
    student = normalise_id(student)
    term_name = term() if term_name is None else term_name.strip()
    n = count(prefix)
    if not term_name or not student or n == 1:
        return 0
    digest = hashlib.sha256(f"{term_name}\0{prefix}\0{student}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % n


def number(prefix: str) -> int:
    """The variant of question ``prefix`` in this process: a pinned one (:func:`pinned`), else the id's."""
    prefix = prefix.split(".", 1)[0]
    if prefix in _pins():
        return _pins()[prefix]
    student = getattr(_LOCAL, "student", None)
    if student is not None:
        return number_for(prefix, student[0], student[1])
    return number_for(prefix, student_id())


def params(prefix: str) -> dict:
    """The numbers of question ``prefix`` in this process's variant (a copy: editing it changes nothing)."""
    prefix = prefix.split(".", 1)[0]
    return json.loads(json.dumps(table(prefix)[number(prefix)]))


@contextlib.contextmanager
def pinned(prefix: str, variant: int) -> Iterator[dict]:
    """Within the block, question ``prefix`` is in ``variant`` whatever the id (the key builder and tests
    use it to visit every variant). Yields the variant's numbers."""
    n = count(prefix)
    if isinstance(variant, bool) or not isinstance(variant, int) or not 0 <= variant < n:
        raise VariantError(f"{prefix} has variants 0 to {n - 1}; {variant!r} is not one of them.")
    pins = _pins()
    old = pins.get(prefix)
    pins[prefix] = variant
    try:
        yield params(prefix)
    finally:
        if old is None:
            pins.pop(prefix, None)
        else:
            pins[prefix] = old


@contextlib.contextmanager
def as_student(student: Any, term_name: str | None = None) -> Iterator[str]:
    """Within the block, in this thread only, every question is in ``student``'s variant of ``term_name``
    (default: the installed term): how the grader draws hidden cases and judges one student while other
    threads judge others. Yields the normalised id."""
    student = normalise_id(student)
    old = getattr(_LOCAL, "student", None)
    _LOCAL.student = (student, term() if term_name is None else term_name)
    try:
        yield student
    finally:
        _LOCAL.student = old


def describe(prefix: str) -> str:
    """One line for the student: which variant of ``prefix`` they have and why."""
    n, v = count(prefix), number(prefix)
    if n == 1:
        return f"{prefix}: one version for everyone."
    if prefix in _pins():
        return f"{prefix}: variant {v} of {n} (pinned)."
    if not enabled():
        return f"{prefix}: variants are off this term: everyone has variant 0."
    if not student_id():
        return (f"{prefix}: variant 0 of {n}, because STUDENT_ID is empty: type your course id in the first cell "
                "and run the notebook again from the top (your answers must be for your own variant).")
    return f"{prefix}: variant {v} of {n}, for STUDENT_ID {student_id()!r}."


def show(prefix: str, numbers: Mapping[str, str]) -> None:
    """Print which variant this is and the numbers the prompts below refer to (``numbers``: label -> text)."""
    width = max((len(label) for label in numbers), default=0)
    lines = [describe(prefix), *(f"  {label.ljust(width)}  {text}" for label, text in numbers.items())]
    print("\n".join(lines))
