"""Readers that turn a student's answer, in any form a student writes it, into canonical text.

A number may come as an int, a float, a numpy or torch scalar, a one-element list or array, a
sympy number or a string; a list of numbers as a list, tuple, tensor, array or sympy matrix; an
expression as a sympy object or a string (``"x_2 - x_1"``, ``"x[2] - x[1]"``, ``"exp(-beta)"``).
Every reader raises ``ValueError``/``TypeError`` with a message a student can act on.
"""

from __future__ import annotations

import json
import math
import random
import re
from typing import Any, Callable

#: Symbol spellings accepted for the input x_t: x1, x_1, x_{1} (``x[1]`` is an IndexedBase entry).
_INPUT_NAME = re.compile(r"^x_?\{?(\d+)\}?$")
RATE_BETAS = (5.0, 6.0)


def flat(value: Any) -> list:
    """Nested lists, tuples, tensors, arrays or sympy matrices as one flat list of scalars."""
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [x for item in value for x in flat(item)]
    return [value]


def _scalar(value: Any) -> Any:
    """One scalar out of a scalar or a one-element container."""
    values = flat(value)
    if len(values) != 1:
        raise ValueError(f"expected one number, got {len(values)}")
    value = values[0]
    return value.item() if hasattr(value, "item") and not isinstance(value, str) else value


def as_float(value: Any) -> float:
    """A finite float from a number, a one-element container, a sympy number or a numeric string."""
    value = _scalar(value)
    if isinstance(value, bool) or value is None:
        raise TypeError(f"expected a number, got {value!r}")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise TypeError(f"expected a number, got {type(value).__name__} {str(value)[:40]!r}") from None
    if not math.isfinite(number):
        raise ValueError("expected a finite number")
    return number


def as_int(value: Any) -> int:
    """An int from anything ``as_float`` reads, if it is a whole number (``True``/``3.5`` are refused)."""
    number = as_float(value)
    if not number.is_integer():
        raise TypeError(f"expected a whole number, got {number}")
    return int(number)


def float_forms(value: float, precision: int) -> list[str]:
    """``value`` rounded to ``precision`` decimals, then its two neighbours one last-decimal unit away."""
    step = 10.0 ** -precision
    centre = round(value, precision)
    zero = f"{0:.{precision}f}"
    return [f"{x:.{precision}f}".replace("-" + zero, zero) for x in (centre, centre - step, centre + step)]


def mapping_form(value: Any) -> str:
    """A dict of label -> int id as canonical JSON (keys as stripped strings, sorted)."""
    if not isinstance(value, dict):
        raise TypeError(f"expected a dict such as {{'label': id}}, got {type(value).__name__}")
    return json.dumps({str(k).strip(): as_int(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))})


def token_numbers(value: Any) -> list[int]:
    """Token numbers from ints (1, 2), or names such as "x1", "x_2", "x_{3}" and sympy symbols x1."""
    numbers = []
    for item in flat(value):
        if isinstance(item, (int, float)) or hasattr(item, "item"):
            numbers.append(as_int(item))
            continue
        found = _INPUT_NAME.match(str(item).strip().replace("[", "_").replace("]", ""))
        if not found:
            raise ValueError(f"cannot read {str(item)[:20]!r} as a token: use 1, 2, 3 or 'x1', 'x2', 'x3'")
        numbers.append(int(found.group(1)))
    return numbers


def read_expr(value: Any, symbols: dict[str, Any] | None = None) -> Any:
    """A sympy expression from a sympy object, a number or a string.

    Strings are parsed with ``^`` as power, ``e`` as Euler's number, ``beta``/``β`` as a positive
    symbol (sympy alone would read ``beta`` as the Beta function), ``x`` as an IndexedBase (so
    ``x[1]`` works) and ``x_{1}`` as ``x_1``. symbols: extra names to use while parsing.
    """
    import sympy as sp
    from sympy.parsing.sympy_parser import convert_xor, parse_expr, standard_transformations

    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, str):
        beta = sp.Symbol("beta", positive=True)
        names = {"beta": beta, "β": beta, "e": sp.E, "x": sp.IndexedBase("x"), **(symbols or {})}
        text = re.sub(r"_\{(\w+)\}", r"_\1", value.strip())
        names.update({m: sp.Symbol(m) for m in re.findall(r"\bx_?\d+\b", text)})
        return parse_expr(text, local_dict=names, transformations=standard_transformations + (convert_xor,))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return sp.sympify(value)
    raise TypeError(f"expected a sympy expression or a string, got {type(value).__name__}")


def _input_index(atom: Any) -> int:
    """The t of an input written x_t, x1, x_{1} or x[1]; ValueError for any other symbol."""
    import sympy as sp

    if isinstance(atom, sp.Indexed) and len(atom.indices) == 1 and atom.indices[0].is_Integer:
        return int(atom.indices[0])
    found = _INPUT_NAME.match(getattr(atom, "name", ""))
    if not found:
        raise ValueError(f"unexpected symbol {atom}")
    return int(found.group(1))


def expr_values(value: Any, n_vars: int) -> list:
    """Exact values of an expression in the inputs x_1..x_n (any spelling) at fixed integer points."""
    import sympy as sp

    expr = read_expr(value)
    inputs = {a for a in expr.atoms(sp.Indexed)}
    inputs |= {s for s in expr.free_symbols if not isinstance(s, (sp.Indexed, sp.IndexedBase))
               and not any(s == i.base.label for i in inputs)}
    by_input = {}
    for atom in inputs:
        try:
            index = _input_index(atom)
        except ValueError:
            raise ValueError(f"unexpected symbol {atom}: write it in the inputs x_1..x_{n_vars} only") from None
        if not 1 <= index <= n_vars:
            raise ValueError(f"unexpected symbol {atom}: the inputs here are x_1..x_{n_vars}")
        by_input[atom] = index
    rng = random.Random(n_vars)
    points = [[rng.randint(-50, 50) for _ in range(n_vars)] for _ in range(n_vars + 2)]
    return [sp.nsimplify(expr.subs({a: p[i - 1] for a, i in by_input.items()})) for p in points]


def decay_rate(value: Any) -> float:
    """r in f(beta) ~ e^(-r beta^2), read off beta = 5 and 6, for an expression in one symbol or a callable."""
    import sympy as sp

    lo, hi = RATE_BETAS
    if callable(value) and not isinstance(value, sp.Basic):
        logs = [math.log(as_float(value(b))) for b in RATE_BETAS]
    else:
        expr = read_expr(value)
        if len(expr.free_symbols) != 1:
            raise ValueError("pass an expression in the single symbol beta")
        (beta,) = expr.free_symbols
        logs = [float(sp.log(expr.subs(beta, b)).evalf()) for b in RATE_BETAS]
    return -(logs[1] - logs[0]) / (hi * hi - lo * lo)


def call_quietly(function: Callable, *args: Any) -> Any:
    """Call a student's function with numpy/torch warnings silenced (overflow shows in the result)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args)
