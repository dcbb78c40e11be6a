"""Answers as plain data: what leaves a kernel (``to_plain``) and what a grader reads back (``from_plain``).

A kernel that a student's code runs in can send only data, never objects: ``to_plain`` turns an
answer into JSON-ready values, and ``from_plain`` turns them back into values the checks read,
without running any code of the sender (no pickle, no ``eval``; a sympy expression travels as its
``srepr`` text and is rebuilt by a reader that knows only sympy's own classes).

The encoding: ``None``, bools, ints, finite floats and strings stand for themselves; lists and
tuples are lists; everything else is an object with one ``"__kind__"`` key:

- ``{"__float__": "nan" | "inf" | "-inf"}``, ``{"__dict__": [[key, value], ...]}``,
- ``{"__sympy__": srepr}``, ``{"__ellipsis__": true}`` (a blank), ``{"__callable__": name}``,
- ``{"__other__": type name}`` (something the checks cannot read).

Tensors and arrays become nested lists (a 0-d one its scalar). Limits (``MAX_ITEMS`` values,
``MAX_DEPTH`` levels, ``MAX_TEXT`` characters per string) keep a hostile answer small; past them
``PlainError`` is raised, on either side.
"""

from __future__ import annotations

import ast
import math
from typing import Any

MAX_ITEMS = 200_000
MAX_DEPTH = 24
MAX_TEXT = 20_000


class PlainError(ValueError):
    """An answer that cannot travel as plain data, or plain data that is not an answer."""


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_ITEMS

    def take(self, depth: int) -> None:
        self.left -= 1
        if self.left < 0:
            raise PlainError(f"the answer has more than {MAX_ITEMS} values")
        if depth > MAX_DEPTH:
            raise PlainError(f"the answer is nested more than {MAX_DEPTH} levels deep")


def to_plain(value: Any) -> Any:
    """``value`` as JSON-ready data (see the module's docstring); PlainError past the limits."""
    return _to(value, _Budget(), 0)


def _to(value: Any, budget: _Budget, depth: int) -> Any:
    budget.take(depth)
    if value is None or isinstance(value, (bool, str)):
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise PlainError(f"a text of the answer is longer than {MAX_TEXT} characters")
        return value
    if value is Ellipsis:
        return {"__ellipsis__": True}
    if isinstance(value, int):
        if value.bit_length() > 4000:
            raise PlainError("an integer of the answer has more than 4000 bits")
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, (list, tuple)):
        return [_to(v, budget, depth + 1) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[_to(k, budget, depth + 1), _to(v, budget, depth + 1)] for k, v in value.items()]}
    module = type(value).__module__.split(".")[0]
    if module == "sympy":
        import sympy as sp

        if isinstance(value, sp.MatrixBase):
            return _to(value.tolist(), budget, depth)
        if isinstance(value, sp.Basic):
            text = sp.srepr(value)
            if len(text) > MAX_TEXT:
                raise PlainError(f"the expression is longer than {MAX_TEXT} characters")
            return {"__sympy__": text}
    if module in {"torch", "numpy"} and hasattr(value, "tolist"):
        if module == "torch":
            value = value.detach().cpu()
            if value.numel() > MAX_ITEMS:
                raise PlainError(f"the answer has more than {MAX_ITEMS} values")
        return _to(value.tolist(), budget, depth)
    if callable(value):
        return {"__callable__": str(getattr(value, "__name__", type(value).__name__))[:200]}
    return {"__other__": type(value).__name__[:200]}


def from_plain(data: Any) -> Any:
    """The value that ``data`` (from ``to_plain``, or forged) stands for; PlainError if it is not plain data.

    Runs no code of the sender: sympy text is rebuilt by :func:`read_srepr`. A callable or an
    unreadable object comes back as :class:`Opaque` (no check accepts it).
    """
    return _from(data, _Budget(), 0)


class Opaque:
    """Stands for an answer that could not travel (a function, an unknown object): no check accepts it."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __repr__(self) -> str:
        return f"<{self.what}>"


def _from(data: Any, budget: _Budget, depth: int) -> Any:
    budget.take(depth)
    if data is None or isinstance(data, (bool, int, float)):
        return data
    if isinstance(data, str):
        if len(data) > MAX_TEXT:
            raise PlainError(f"a text is longer than {MAX_TEXT} characters")
        return data
    if isinstance(data, list):
        return [_from(v, budget, depth + 1) for v in data]
    if isinstance(data, dict) and len(data) == 1:
        (tag, inner), = data.items()
        if tag == "__ellipsis__":
            return Ellipsis
        if tag == "__float__" and inner in {"nan", "inf", "-inf"}:
            return float(inner)
        if tag == "__dict__" and isinstance(inner, list) and all(isinstance(p, list) and len(p) == 2 for p in inner):
            pairs = [(_from(k, budget, depth + 1), _from(v, budget, depth + 1)) for k, v in inner]
            try:
                return dict(pairs)
            except TypeError as exc:  # an unhashable key
                raise PlainError(f"a mapping key cannot be used: {exc}") from None
        if tag == "__sympy__" and isinstance(inner, str):
            return read_srepr(inner)
        if tag in {"__callable__", "__other__"} and isinstance(inner, str):
            return Opaque(inner[:200])
    raise PlainError(f"not plain answer data: {str(data)[:80]}")


#: sympy names an ``srepr`` text may call or name; nothing else is looked up.
_SYMPY_NAMES = ("Symbol", "Dummy", "Integer", "Rational", "Float", "Add", "Mul", "Pow", "Indexed", "IndexedBase",
                "Idx", "Sum", "Product", "Tuple", "exp", "log", "sqrt", "Abs", "sin", "cos", "tanh", "Max", "Min",
                "Function", "Lambda", "Eq", "Piecewise", "ExprCondPair", "StrictGreaterThan", "StrictLessThan",
                "GreaterThan", "LessThan", "Half", "One", "Zero", "NegativeOne", "Pi", "Exp1", "ImaginaryUnit",
                "Infinity", "NegativeInfinity", "NaN", "BooleanTrue", "BooleanFalse", "true", "false", "pi", "E",
                "I", "oo", "zoo", "ComplexInfinity", "floor", "ceiling", "sign", "KroneckerDelta")
MAX_EXPONENT = 1000  # |n| of an integer power: a larger one would make the grader compute a huge number
MAX_INT_BITS = 256


def read_srepr(text: str) -> Any:
    """Rebuild a sympy expression from its ``srepr`` text, calling only sympy's classes (no ``eval``)."""
    import sympy as sp

    if len(text) > MAX_TEXT:
        raise PlainError(f"the expression is longer than {MAX_TEXT} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise PlainError(f"not an srepr text: {exc.msg}") from None
    names = {name: getattr(sp, name) for name in _SYMPY_NAMES if hasattr(sp, name)}
    budget = _Budget()

    def build(node: ast.AST, depth: int) -> Any:
        budget.take(depth)
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool, type(None))):
            if isinstance(node.value, int) and not isinstance(node.value, bool) and node.value.bit_length() > MAX_INT_BITS:
                raise PlainError("an integer in the expression is too large")
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            value = build(node.operand, depth + 1)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return -value
        if isinstance(node, (ast.Tuple, ast.List)):
            return tuple(build(e, depth + 1) for e in node.elts)
        if isinstance(node, ast.Name) and node.id in names:
            return names[node.id]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names:
            args = [build(a, depth + 1) for a in node.args]
            kwargs = {k.arg: build(k.value, depth + 1) for k in node.keywords if k.arg is not None}
            if len(kwargs) != len(node.keywords) or not all(isinstance(v, (bool, int, str, float)) or v is None
                                                            for v in kwargs.values()):
                raise PlainError("an srepr keyword argument that is not a plain value")
            if node.func.id == "Pow" and len(args) == 2 and isinstance(args[1], sp.Integer) \
                    and abs(int(args[1])) > MAX_EXPONENT:
                raise PlainError(f"an integer power above {MAX_EXPONENT} in the expression")
            try:
                with sp.evaluate(False):
                    return names[node.func.id](*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - sympy refused these arguments: not an expression
                raise PlainError(f"not a valid expression ({type(exc).__name__})") from None
        raise PlainError(f"an srepr text may only call sympy's classes; found {ast.dump(node)[:80]}")

    return build(tree.body, 0)
