"""Self-checks of Q2 (the scalar linear RNN): h_4, the step in Python, the closed form, two outputs.

The judges compare the student's work with the package's exact simulation
(``course_utils.q2.recurrence.simulate``) on test sequences the handout does not show.
"""

from __future__ import annotations

import random
from typing import Any, Callable

from course_utils.checks import NoAnswer, Spec, _forms, register

TIE = (3, 1, 2, 4)  # the last outputs of these two sequences are checked
EVEN_LARGER = (5, 2000, 1, 3)
PRECISION = 2  # decimals the prompts ask for
_MAX_CHECKED_N = 6  # closed form: compared with the simulation for N = 1..6


def _test_sequences() -> list[list[int]]:
    """Integer sequences that separate right from wrong steps: signs, ties, zeros, large values."""
    rng = random.Random(2)
    sequences = [[0], [1, 0], [0, 1], [2, 2], [-3, 4, -1, 5], [7, -2, 0, 3, 3, 1], [1, 1300, -2, 0]]
    sequences += [[rng.randint(-9, 9) for _ in range(rng.randint(1, 9))] for _ in range(12)]
    return sequences


def judge_step(step: Any) -> tuple[bool, str]:
    """Run ``step(h_prev, x) -> (h, y)`` from h_0 = 0 on the test sequences against the simulation."""
    from course_utils.q2.recurrence import simulate

    if not callable(step):
        return False, "pass your step function itself (its name, without calling it). "
    for xs in _test_sequences():
        hidden, outputs = simulate(xs)
        h_prev = 0
        for t, (x, h_want, y_want) in enumerate(zip(xs, hidden, outputs), start=1):
            try:
                result = _forms.call_quietly(step, h_prev, x)
            except OverflowError:
                return False, ("your step overflowed (math.exp cannot go beyond about e^709); a sigmoid that "
                               "saturates instead of overflowing, such as torch.sigmoid, avoids this. ")
            if result is None:
                raise NoAnswer("your step returns nothing yet: write its body in place of the ... and return (h, y).")
            if not isinstance(result, (tuple, list)) or len(result) != 2:
                return False, "return two values, the new hidden state and the output: return h, y. "
            h, y = _forms.as_float(result[0]), _forms.as_float(result[1])
            if h != h_want:
                return False, (f"on the test sequence x = {xs}, your hidden state differs from the network's at "
                               f"step t = {t}; re-read the weights on the two edges into h. ")
            if abs(y - y_want) > 1e-6:
                return False, (f"on the test sequence x = {xs}, your hidden states are right but the output "
                               f"differs at step t = {t}; re-read the output edge (and whether there is a bias). ")
            h_prev = result[0]
    return True, ""


def _as_claim(value: Any) -> Callable:
    """The student's closed form as a function N -> sympy expression in the indexed inputs x[t]."""
    import sympy as sp

    if callable(value) and not isinstance(value, sp.Basic):
        return value
    expr = _forms.read_expr(value, {"N": sp.Symbol("N", integer=True, nonnegative=True)})
    symbols = [s for s in expr.free_symbols if isinstance(s, sp.Symbol) and s.name == "N"]
    if len(symbols) != 1:
        raise ValueError("write h_2N as an expression in the symbol N and the inputs x[t] (x = sp.IndexedBase('x'))")
    return lambda n: expr.subs(symbols[0], n)


def _on_sequence(expr: Any, xs: list[int]) -> Any:
    """Substitute the integer inputs xs (x[1] = xs[0], ...) into an expression in x[t]."""
    import sympy as sp

    values = {a: xs[int(a.indices[0]) - 1] for a in expr.atoms(sp.Indexed)
              if a.indices[0].is_Integer and 1 <= int(a.indices[0]) <= len(xs)}
    return sp.simplify(expr.subs(values))


def judge_closed_form(value: Any) -> tuple[bool, str]:
    """Verify a claimed h_2N: equal to the simulation for N = 1..6, then base case and step by induction."""
    import sympy as sp

    from course_utils.q2.recurrence import check_induction, hidden_step, simulate

    claim = _as_claim(value)
    x = sp.IndexedBase("x")
    rng = random.Random(3)
    for n in range(1, _MAX_CHECKED_N + 1):
        xs = [rng.randint(-20, 20) for _ in range(2 * n)]
        got = _on_sequence(sp.sympify(claim(n)).doit(), xs)
        if got != simulate(xs)[0][-1]:
            return False, f"your form gives a different h_{2 * n} than the network for N = {n} on a test sequence. "
    N = sp.Symbol("N", integer=True, nonnegative=True)
    proof = check_induction(claim, lambda h, n: hidden_step(hidden_step(h, x[2 * n + 1]), x[2 * n + 2]), N,
                            index=lambda n: 2 * n)
    if proof.base_residual != 0:
        return False, "the base case fails: at N = 0 your form must equal h_0 = 0. "
    if proof.step_residual != 0:
        return False, ("your form matches the network for N = 1..6, but sympy cannot verify the step with a "
                       "symbolic N; write it as one sp.Sum over k from 1 to N. ")
    return True, ""


_OUTPUT_HINT = ("Run the recurrence over the four inputs to get h_4 first, then apply the output unit with the "
                "weight on its edge and no bias; give the value to at least 2 decimals.")
register("q2.final_hidden", Spec("expr", "Unroll the recurrence from h_0 = 0 for four steps, one step at a time; "
                                 "keep track of the sign each input carries at the end.", n_vars=4))
register("q2.tie_output", Spec("float", _OUTPUT_HINT, precision=PRECISION))
register("q2.even_larger_output", Spec("float", _OUTPUT_HINT, precision=PRECISION))
register("q2.step", Spec("judge", "One step takes h_{t-1} and x_t and returns (h_t, y_t), with the weights read "
                         "off the figure and no bias.", judge=judge_step))
register("q2.closed_form", Spec("judge", "Your h_2N must satisfy h_0 = 0 and survive two steps of the recurrence: "
                                "h_{2N+2} from h_2N.", judge=judge_closed_form))
