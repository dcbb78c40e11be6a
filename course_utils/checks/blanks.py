"""Blanks the notebook needs: a cell that uses a student's function stops, in one line, while it is empty.

``require(attend, "attend", "q3.attention")`` returns ``attend`` when it is written, and raises
:class:`BlankNotFilled` while it is still ``...`` or a function whose body is only ``...`` (or
``pass``, or a docstring). In Jupyter the error shows as one line naming the blank (IPython's
``_render_traceback_`` hook), as CS231n's notebooks stop at the first layer left to write.

A function comes back wrapped by :func:`quietly`: what the student's function prints, the progress bar
or widget it draws and the warnings it raises never reach the cell's output, so a compared output is the
same whatever the front end (``tqdm.auto`` draws a widget where ipywidgets is installed and writes a
warning and a text bar where it is not).
"""

from __future__ import annotations

import contextlib
import dis
import functools
import io
import sys
import warnings
from typing import Any, Callable

_EMPTY_OPS = {"RESUME", "NOP", "LOAD_CONST", "RETURN_CONST", "RETURN_VALUE", "POP_TOP", "CACHE"}


class BlankNotFilled(Exception):
    """A blank the rest of the notebook needs is still empty."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"BlankNotFilled: {self}"]


def is_blank(value: Any) -> bool:
    """True for ``...``, None, and a function whose body does nothing (``...``, ``pass``, a docstring)."""
    if value is Ellipsis or value is None:
        return True
    code = getattr(value, "__code__", None)
    if code is None:
        return False
    ops = [i for i in dis.get_instructions(code) if i.opname not in {"RESUME", "NOP", "CACHE"}]
    constants_only = all(i.opname in _EMPTY_OPS for i in ops)
    returns_none = all(i.argval is None for i in ops if i.opname in {"RETURN_CONST"}) and \
        all(ops[n - 1].opname == "LOAD_CONST" and ops[n - 1].argval in (None, Ellipsis)
            for n, i in enumerate(ops) if i.opname == "RETURN_VALUE" and n > 0)
    return constants_only and returns_none


@contextlib.contextmanager
def _no_display():
    """While the block runs, IPython publishes no display data (a widget progress bar); no-op outside IPython."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    publisher = getattr(shell, "display_pub", None)
    if publisher is None:
        yield
        return
    hidden = vars(publisher).get("publish")  # set when an outer quiet call (require inside require) hid it
    publisher.publish = lambda *args, **kwargs: None  # an instance attribute hides the method
    try:
        yield
    finally:
        if hidden is None:
            del publisher.publish
        else:
            publisher.publish = hidden


def quietly(function: Callable) -> Callable:
    """``function`` with its prints, progress bars, widgets and warnings kept out of the cell's output."""

    @functools.wraps(function)
    def quiet(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()), _no_display():
            warnings.simplefilter("ignore")
            return function(*args, **kwargs)

    return quiet


def require(value: Any, name: str, check_id: str | None = None) -> Any:
    """``value`` once the blank ``name`` is written (a function :func:`quietly`); BlankNotFilled (one line)
    while it is empty."""
    if is_blank(value):
        where = f" (its self-check is {check_id})" if check_id else ""
        raise BlankNotFilled(f"write {name} in its cell above{where} and run that cell, then run this one again.")
    return quietly(value) if callable(value) and not isinstance(value, type) and hasattr(value, "__code__") else value
