"""The layering of the written-answer tools, read from their imports (``ast``; imports inside functions count).

``course_staff.formats`` (handouts, report, checks' rubric) is the floor that grading and the written-answer
tools share: it imports neither. ``course_staff.written`` never imports ``course_staff.grading`` (grading may
import ``written``: ``batch`` writes the written answers, ``gradescope`` says the feedback's words), and inside
``written`` no two parts import each other, in particular ``marking`` and ``similarity`` (what both need is
``answers``, ``groups`` and ``pairs``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

STAFF = Path(__file__).resolve().parents[1] / "course_staff"


def _module(path: Path) -> str:
    parts = list(path.relative_to(STAFF.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _exists(module: str) -> bool:
    path = STAFF.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(path: Path) -> set[str]:
    """Every module of this tree that ``path`` imports: ``from a import b`` is ``a.b`` where that is a module."""
    package = _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found |= {f"{base}.{a.name}" if _exists(f"{base}.{a.name}") else base for a in node.names}
    return {name for name in found if name.split(".")[0] == "course_staff"}


def _sources(package: str) -> list[Path]:
    return sorted(STAFF.joinpath(*package.split(".")[1:]).rglob("*.py"))


def _part(module: str, package: str) -> str | None:
    """The first name under ``package`` (``course_staff.written.marking.db`` -> ``marking``), None outside it."""
    if not module.startswith(package + "."):
        return None
    return module[len(package) + 1:].split(".")[0]


def test_the_sources_are_read():
    written = {_module(p) for p in _sources("course_staff.written")}
    assert {"course_staff.written.marking.command", "course_staff.written.similarity.compare",
            "course_staff.written.answers", "course_staff.written.gradebook", "course_staff.written.feedback"} <= written
    assert "course_staff.written.groups" in imports(STAFF / "written" / "similarity" / "compare.py")


@pytest.mark.parametrize(("package", "forbidden"), [
    ("course_staff.written", ("course_staff.grading",)),
    ("course_staff.formats", ("course_staff.grading", "course_staff.written")),
])
def test_a_lower_package_imports_nothing_above_it(package, forbidden):
    wrong = {f"{_module(p)} -> {name}" for p in _sources(package) for name in imports(p)
             if any(name == f or name.startswith(f + ".") for f in forbidden)}
    assert not wrong, sorted(wrong)


def test_marking_and_similarity_do_not_import_each_other():
    for one, other in (("marking", "similarity"), ("similarity", "marking")):
        wrong = {f"{_module(p)} -> {name}" for p in _sources(f"course_staff.written.{one}") for name in imports(p)
                 if _part(name, "course_staff.written") == other}
        assert not wrong, sorted(wrong)


def test_the_parts_of_written_import_in_one_direction():
    """No loop between the parts of ``written`` (its modules and subpackages): gradebook and feedback included."""
    package = "course_staff.written"
    edges: dict[str, set[str]] = {}
    for path in _sources(package):
        part = _part(_module(path), package)
        if part is None:
            continue
        edges.setdefault(part, set()).update(
            other for name in imports(path) if (other := _part(name, package)) not in (None, part))

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    loops = sorted(f"{a} -> {b}" for a, targets in edges.items() for b in targets if a in reach(b))
    assert not loops, loops
