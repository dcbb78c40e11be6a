"""Self-checks of Q2 (the scalar linear RNN): h_4, the step in Python, the closed form, two outputs.

The step and the closed form are *probe* checks: the student's function (or claim) runs on the
public sequences below, and its output is compared with hashes of the right output. At grading the
same probes run on hidden sequences, judged by ``course_staff.keys.q2`` (which also proves the
closed form by induction); nothing here knows what the network computes.
"""

from __future__ import annotations

from typing import Any, Callable

from course_utils.checks import NoAnswer, Spec, _forms, register

PRECISION = 2  # decimals the prompts ask for
STEP_CASES = ((3, 5, -2, 4, 7, 1), (0, 0), (2, 2, -1, 4), (1, 1300, -2, 0))  # public input sequences
CLAIM_CASES = ((), (4, -1), (2, 7, -3, 5), (1, 0, 6, 2, -4, 3), (5, 5, 9, -2, 0, 8, -7, 1))  # x_1..x_2N
N_NAME = "N"


def probe_step(step: Any, case: Any) -> list[list[float]]:
    """Run ``step(h_prev, x) -> (h, y)`` from h_0 = 0 over the sequence ``case``: [[h_t, y_t], ...]."""
    if not callable(step):
        raise ValueError("pass your step function itself (its name, without calling it)")
    rows, h_prev = [], 0
    for x in case:
        try:
            result = _forms.call_quietly(step, h_prev, x)
        except OverflowError:
            raise ValueError("your step overflowed (math.exp cannot go beyond about e^709); a sigmoid that "
                             "saturates instead of overflowing avoids this") from None
        if result is None:
            raise NoAnswer("your step returns nothing yet: write its body in place of the ... and return (h, y).")
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise ValueError("return two values, the new hidden state and the output: return h, y")
        rows.append([_forms.as_float(result[0]), _forms.as_float(result[1])])
        h_prev = result[0]
    return rows


def as_claim(value: Any) -> Callable:
    """The student's closed form as a function N -> sympy expression in the indexed inputs x[t]."""
    import sympy as sp

    if callable(value) and not isinstance(value, sp.Basic):
        return value
    expr = _forms.read_expr(value, {N_NAME: sp.Symbol(N_NAME, integer=True, nonnegative=True)})
    symbols = [s for s in expr.free_symbols if isinstance(s, sp.Symbol) and s.name == N_NAME]
    if len(symbols) != 1:
        raise ValueError("write h_2N as an expression in the symbol N and the inputs x[t] (x = sp.IndexedBase('x'))")
    return lambda n: expr.subs(symbols[0], n)


def probe_claim(value: Any, case: Any) -> Any:
    """The claimed h_2N on one case: an int for a sequence x_1..x_2N (``case``, a list), or the claim
    itself, a sympy expression in a symbolic N, for the case ``{"symbolic": true}`` (the grader's
    induction proof; it leaves the kernel as its ``srepr``)."""
    import sympy as sp

    claim = as_claim(value)
    if isinstance(case, dict):
        return sp.sympify(claim(sp.Symbol(N_NAME, integer=True, nonnegative=True)))
    expr = sp.sympify(claim(len(case) // 2)).doit()
    inputs = {a: case[int(a.indices[0]) - 1] for a in expr.atoms(sp.Indexed)
              if len(a.indices) == 1 and a.indices[0].is_Integer and 1 <= int(a.indices[0]) <= len(case)}
    got = sp.simplify(expr.subs(inputs))
    return int(got) if got.is_Integer else sp.sstr(got)[:200]


CANNOT_FOLLOW = ("sympy cannot follow one induction step of this form: write it with sums whose upper limit "
                 "grows by a fixed number of terms when N grows by 1, and nothing else that depends on N. ")


def claim_followable(value: Any) -> tuple[bool, str]:
    """(ok, detail): whether sympy can follow the claim from N to N + 1 (``recurrence.step_difference`` is
    free of Sums), the part of the grader's induction proof that does not depend on the network."""
    import sympy as sp

    from course_utils.q2.recurrence import step_difference

    claim = as_claim(value)
    n = sp.Symbol(N_NAME, integer=True, nonnegative=True)
    return (False, CANNOT_FOLLOW) if step_difference(claim, n).has(sp.Sum) else (True, "")


_OUTPUT_HINT = ("Run the recurrence over the four inputs to get h_4 first, then apply the output unit with the "
                "weight on its edge and no bias; give the value to at least 2 decimals.")
register("q2.final_hidden", Spec("expr", "Unroll the recurrence from h_0 = 0 for four steps, one step at a time; "
                                 "keep track of the sign each input carries at the end.", n_vars=4))
register("q2.output_a", Spec("float", _OUTPUT_HINT, precision=PRECISION))
register("q2.output_b", Spec("float", _OUTPUT_HINT, precision=PRECISION))
register("q2.step", Spec("probe", "One step takes h_{t-1} and x_t and returns (h_t, y_t), with the weights read "
                         "off the figure and no bias.", probe=probe_step, public_cases=STEP_CASES, precision=6))
register("q2.closed_form", Spec("probe", "Your h_2N must give h_0 = 0 and agree with the network for every N; "
                                "compare it with a short unrolled run.", probe=probe_claim,
                                public_cases=CLAIM_CASES, callable_only=False, follow_up=claim_followable))
