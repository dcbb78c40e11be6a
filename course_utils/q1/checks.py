"""Self-checks of Q1 (CNNs vs RNNs): the student's parameter counts and receptive field, as closed forms.

All three are *probe* checks: the student's function runs on the public sizes of the student's variant
(``course_utils/q1/variants.py``: ``conv_cases``, ``gru_cases``, ``stack_cases``, read when the check runs), and on
hidden sizes at grading, where ``course_staff.keys.q1`` judges the outputs. The blanks ask for
formulas in the sizes, so the probe refuses to let the function build a layer while it runs
(:func:`no_layers`): counting the parameters of an ``nn.Conv2d(...)`` is not an answer. Some sizes are also far
too large for any layer to be built.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from course_utils import variants
from course_utils.checks import NoAnswer, Spec, _forms, register


def conv_cases() -> tuple[tuple[int, int, int], ...]:
    """The public (c_in, c_out, k) of ``q1.conv_parameters`` in this process's variant."""
    return tuple(tuple(case) for case in variants.params("q1")["conv_cases"])


def gru_cases() -> tuple[tuple[int, int], ...]:
    """The public (width, hidden) of ``q1.gru_parameters`` in this process's variant."""
    return tuple(tuple(case) for case in variants.params("q1")["gru_cases"])


def stack_cases() -> tuple[tuple[int, int], ...]:
    """The public (n_layers, k) of ``q1.stack_rows_seen`` in this process's variant."""
    return tuple(tuple(case) for case in variants.params("q1")["stack_cases"])


class LayerBuilt(RuntimeError):
    """The student's function built a layer where a formula in the sizes was asked for."""


@contextmanager
def no_layers() -> Iterator[None]:
    """Inside: constructing any ``torch.nn.Module`` raises :class:`LayerBuilt`; restored on exit."""
    from torch import nn

    original = nn.Module.__init__

    def refuse(self: Any, *args: Any, **kwargs: Any) -> None:
        raise LayerBuilt(f"your function builds a layer ({type(self).__name__}); the blank asks for a formula "
                         "in the sizes, computed without building one")

    nn.Module.__init__ = refuse
    try:
        yield
    finally:
        nn.Module.__init__ = original


def probe_formula(function: Any, case: Any) -> int:
    """The student's number for the sizes ``case`` (a list of ints), as an int, with no layer built.

    Raises NoAnswer while the body is still ``...``; LayerBuilt if it constructs an ``nn.Module``.
    """
    if not callable(function):
        raise ValueError("pass your function itself (its name, without calling it)")
    with no_layers():
        result = _forms.call_quietly(function, *case)
    if result is None:
        raise NoAnswer("your function returns nothing yet: write its body in place of the ... and return the number.")
    return _forms.as_int(result)


register("q1.conv_parameters", Spec("probe", "Print the shapes of the parameters of a small nn.Conv2d "
                                    "(named_parameters()) and build your formula from them.", probe=probe_formula,
                                    public_cases=conv_cases))
register("q1.gru_parameters", Spec("probe", "Print the shapes of the parameters of a small nn.GRU "
                                   "(named_parameters()) and build your formula from them.", probe=probe_formula,
                                   public_cases=gru_cases))
register("q1.stack_rows_seen", Spec("probe", "Draw one output and the window it reads, then the windows of the "
                                    "layer below, row by row.", probe=probe_formula, public_cases=stack_cases))
