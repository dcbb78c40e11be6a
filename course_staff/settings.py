"""The course's settings: ``course.toml`` at the repository root, the one file an instructor edits for a course.

``course-utils keys`` and ``release`` read it (``--settings FILE`` names another one; the default is
``course.toml`` in the working folder, as ``answers/`` and ``notebooks/`` are), and ``gradebook`` takes the
assignment's name from it. docs/course-settings.md describes every key. Points are not here: they are
defined once, in the rubrics beside the masters (``answers/rubric.json`` per self-check,
``answers/written_rubric.json`` per written answer), which the grading commands read.

Every mistake is a ``CourseSettingsError`` whose one line names the file, the key and the fix.
Instructor-only: not in the student release (a handout's install line is written into it by ``keys``).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: tomli, the same parser (a dependency there: pyproject.toml)
    import tomli as tomllib

from course_utils.errors import CourseError

#: Where the commands look for the settings by default (relative to the working folder: the repository root).
DEFAULT_PATH = Path("course.toml")
_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_BRANCH = re.compile(r"^[A-Za-z0-9._/-]+$")


class CourseSettingsError(CourseError):
    """A missing, unreadable or invalid settings file; the message names the key and the fix."""


@dataclass(frozen=True)
class CourseSettings:
    """What ``course.toml`` says, checked (see the module docstring and docs/course-settings.md)."""

    name: str  # [course] name: "Deep Learning"
    assignment: str  # [course] assignment: "Assignment 3"
    term: str  # [course] term: "" (none) or e.g. "Fall 2027"
    repository: str  # [release] repository: the GitHub OWNER/NAME the student release is published to
    branch: str  # [release] branch: the branch of that repository the badges open
    variants: str = ""  # [variants] term: "" (variants off) or the name whose hash picks each student's numbers

    @property
    def title(self) -> str:
        """``"Deep Learning Assignment 3"``, with ``" (term)"`` where a term is set."""
        return f"{self.name} {self.assignment}" + (f" ({self.term})" if self.term else "")

    @property
    def install_spec(self) -> str:
        """What a handout's first cell pip-installs in Colab: the course package from the release."""
        return f"course-utils @ git+https://github.com/{self.repository}"

    def colab_url(self, notebook: str) -> str:
        """The Colab address of ``notebook`` (a path inside the release, e.g. ``notebooks/01_x.ipynb``)."""
        return f"https://colab.research.google.com/github/{self.repository}/blob/{self.branch}/{notebook}"


#: table -> key -> (required, default, what it is: for the messages)
_SCHEMA: dict[str, dict[str, tuple[bool, Any, str]]] = {
    "course": {
        "name": (True, None, 'the course\'s name, e.g. name = "Deep Learning"'),
        "assignment": (True, None, 'the assignment\'s name, e.g. assignment = "Assignment 3"'),
        "term": (False, "", 'the term, e.g. term = "Fall 2027" (or leave it out)'),
    },
    "variants": {
        "term": (False, "", 'the name of this term\'s variants, e.g. term = "fall-2027": each student then gets '
                            'their own numbers per question; leave it out (or "") for one version for everyone'),
    },
    "release": {
        "repository": (True, None, 'the GitHub repository the student release is published to, as OWNER/NAME, '
                                   'e.g. repository = "someuni/dl-a3-2027"'),
        "branch": (False, "main", 'the branch of that repository the Colab badges open, e.g. branch = "main"'),
    },
}


def parse(text: str, source: str = str(DEFAULT_PATH)) -> CourseSettings:
    """The settings in ``text`` (a ``course.toml``'s content); ``source`` names it in the messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CourseSettingsError(f"{source}: not valid TOML ({exc}): fix the line it names") from None
    unknown_tables = sorted(set(data) - set(_SCHEMA))
    if unknown_tables:
        raise CourseSettingsError(f"{source}: unknown table or key {unknown_tables[0]!r} at the top level: "
                                  f"the tables are {', '.join(f'[{t}]' for t in _SCHEMA)} (a typo?)")
    values: dict[str, Any] = {}
    for table, keys in _SCHEMA.items():
        section = data.get(table, {})
        if not isinstance(section, dict):
            raise CourseSettingsError(f"{source}: {table} must be a table: write [{table}] on a line of its own, "
                                      "then its keys")
        unknown = sorted(set(section) - set(keys))
        if unknown:
            raise CourseSettingsError(f"{source}: unknown key [{table}] {unknown[0]} (a typo?): the keys of "
                                      f"[{table}] are {', '.join(keys)}")
        for key, (required, default, what) in keys.items():
            if key not in section:
                if required:
                    raise CourseSettingsError(f"{source}: [{table}] {key} is missing: add it under [{table}]: {what}")
                values[f"{table}.{key}"] = default
                continue
            value = section[key]
            if not isinstance(value, str) or (required and not value.strip()):
                raise CourseSettingsError(f"{source}: [{table}] {key} = {value!r} must be a non-empty string in "
                                          f"double quotes: {what}" if required else
                                          f"{source}: [{table}] {key} = {value!r} must be a string in double "
                                          f"quotes: {what}")
            if any(ord(c) < 32 or ord(c) == 127 for c in value):
                raise CourseSettingsError(f"{source}: [{table}] {key} = {value!r} must be one line of text, without "
                                          f"tabs or control characters: {what}")
            values[f"{table}.{key}"] = value.strip()
    repository = values["release.repository"]
    if repository.startswith(("http://", "https://", "github.com/", "git@")) or repository.endswith(".git") \
            or not _REPOSITORY.match(repository):
        raise CourseSettingsError(f"{source}: [release] repository = {repository!r} is not OWNER/NAME: write "
                                  "the GitHub repository alone, without https://github.com/ or .git, e.g. "
                                  'repository = "someuni/dl-a3-2027"')
    if not _BRANCH.match(values["release.branch"]):
        raise CourseSettingsError(f"{source}: [release] branch = {values['release.branch']!r} is not a branch name: "
                                  'e.g. branch = "main"')
    term = values["variants.term"]
    if term and not re.match(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$", term):
        raise CourseSettingsError(f"{source}: [variants] term = {term!r} must be a short name of letters, digits, "
                                  "spaces, '.', '_' or '-', e.g. term = \"fall-2027\"")
    return CourseSettings(name=values["course.name"], assignment=values["course.assignment"],
                          term=values["course.term"], repository=repository, branch=values["release.branch"],
                          variants=term)


def load(path: Path | None = None) -> CourseSettings:
    """The settings of ``path`` (default: ``course.toml`` in the working folder)."""
    path = Path(path) if path is not None else DEFAULT_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CourseSettingsError(f"no {path} here ({Path.cwd()}): run the command from the repository root, "
                                  "or name the settings file with --settings FILE (docs/course-settings.md)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CourseSettingsError(f"{path}: cannot be read ({exc}): it must be a UTF-8 text file") from None
    return parse(text, str(path))
