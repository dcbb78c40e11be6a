"""Flag student code that reaches into the checks or the grader (for a person to read; scores no points).

The kernel-side guard (``kernel.py``) already withholds the points of a check whose functions were
replaced or whose verdict does not reproduce; this scan names the source line that tried, and also
catches attempts the guard cannot see (writing files of the package, reading the grader's cells).
"""

from __future__ import annotations

import ast
import re

import nbformat

from course_staff.grading.handouts import Handout

_NAMES = {"check", "verify", "verdicts"}
_CALLS = {"setattr", "delattr", "reload", "get_referrers", "get_objects", "__import__"}
_TEXT = re.compile(r"sys\.modules|__code__|__globals__|_course_grader|course-grader|checks\.json|builtins\.")


def suspicious(nb: nbformat.NotebookNode, handout: Handout) -> list[str]:
    """One phrase per student code cell that rebinds check functions or pokes at grader internals."""
    given = {cell.source for cell in handout.nb.cells if cell.cell_type == "code"}
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or cell.get("id") in handout.locked or cell.source in given:
            continue  # locked cells are restored; a handout cell left as given (with its id or, pasted, without) is not the student's code
        reasons = _reasons(cell.source)
        if reasons:
            found.append(f"suspicious source in cell {index + 1} [{cell.get('id', '')}]: {', '.join(reasons)}")
    return found


def _reasons(source: str) -> list[str]:
    """What in ``source`` looks like tampering (IPython magics and shell lines are skipped)."""
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    reasons = [f"mentions {m}" for m in dict.fromkeys(_TEXT.findall(code))]
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return reasons
    aliases = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
               for a in node.names if "checks" in (a.name + " " + (getattr(node, "module", "") or ""))}
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
        for target in targets:
            if isinstance(target, ast.Name) and target.id in _NAMES:
                reasons.append(f"rebinds {target.id}")
            elif isinstance(target, (ast.Attribute, ast.Subscript)) and _base(target) in aliases | {"course_utils"}:
                reasons.append(f"assigns into {_base(target)}")
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in _NAMES:
            reasons.append(f"defines {node.name}")
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in _CALLS:
                reasons.append(f"calls {name}")
    return list(dict.fromkeys(reasons))


def _base(node: ast.AST) -> str:
    """The leftmost name of ``a.b[c].d``."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""
