"""Flag student code that reaches into the checks or the grader (for a person to read; scores no points).

Points never depend on the kernel (they are judged outside it, ``judge.py``), so nothing named here
could have earned one; a flagged row fails and names the cell and what it tried: rebinding or patching
check functions, specs, modules (``torch.allclose = ...``) or function defaults, a ``__torch_function__``,
the grader's files and ids (a cell whose id imitates ``course-grader-*``, the I/O folder, the cell
log), and importing instructor code (``course_staff``, the masters in ``answers/``).
"""

from __future__ import annotations

import ast
import re

import nbformat

from course_staff.formats.handouts import Handout

_NAMES = {"check", "verify", "verdicts"}
_CALLS = {"setattr", "delattr", "reload", "get_referrers", "get_objects", "__import__"}
_TEXT = re.compile(r"sys\.modules|meta_path|__code__|__globals__|__defaults__|__kwdefaults__|__torch_function__|"
                   r"__setattr__|_SPECS|_VERDICTS|_course_grader|course-grader|course_grader|COURSE_GRADER_(?:IO|OUT)|"
                   r"answers\.json|\.jsonl\b|checks\.json|builtins\.|atexit|course_utils\.staff")
_INSTRUCTOR = ("course_staff",)
GRADER_PREFIX = "course-grader-"


def suspicious(nb: nbformat.NotebookNode, handout: Handout) -> list[str]:
    """One phrase per student code cell that rebinds check functions or pokes at grader internals."""
    given = {cell.get("id"): cell.source for cell in handout.nb.cells}
    given_sources = {cell.source for cell in handout.nb.cells if cell.cell_type == "code"}
    found = []
    for index, cell in enumerate(nb.cells):
        imitates = str(cell.get("id", "")).startswith(GRADER_PREFIX) and cell.get("id") not in given
        if cell.cell_type != "code" or cell.get("id") in handout.locked or cell.source in given_sources:
            if imitates:
                found.append(f"suspicious source in cell {index + 1} [{cell.get('id', '')}]: imitates a grader cell id")
            continue  # locked cells are restored; a handout cell left as given (with its id or, pasted, without) is not the student's code
        reasons = (["imitates a grader cell id"] if imitates else []) + _reasons(cell.source)
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
    imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    aliases = {a.asname or a.name for node in imports
               for a in node.names if "checks" in (a.name + " " + (getattr(node, "module", "") or ""))}
    modules = {(a.asname or a.name).split(".")[0] for node in imports if isinstance(node, ast.Import) for a in node.names}
    for node in imports:
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        if any(name.split(".")[0] in _INSTRUCTOR for name in names):
            reasons.append("imports instructor code (course_staff)")
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    if any(s.split(".")[0] in _INSTRUCTOR or "course_staff" in s for s in strings):
        reasons.append("names instructor code (course_staff)")
    if "__file__" in code and any(re.search(r"\banswers\b|\.ipynb\b", s) for s in strings):
        reasons.append("reads the package's folder for notebooks (the masters in answers/)")
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
        for target in targets:
            if isinstance(target, ast.Name) and target.id in _NAMES:
                reasons.append(f"rebinds {target.id}")
            elif isinstance(target, (ast.Attribute, ast.Subscript)) and _base(target) in aliases | {"course_utils"}:
                reasons.append(f"assigns into {_base(target)}")
            elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id in modules:
                reasons.append(f"replaces {target.value.id}.{target.attr}")
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
