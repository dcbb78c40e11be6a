"""Q2's answer key (instructor-only): the network's exact simulation, the unrolled h_T, closed forms,
their induction proofs, the rule, and the grader's judges of the step and the closed form.

The weights are the current variant's (``course_utils.q2.variants``, read at call time through
:func:`weights`): w_in > 0, w_rec = -1, w_out, no bias, so h_t = w_in x_t - h_{t-1} and for an even length 2N,
h_2N = w_in [(x_2 + x_4 + ... + x_2N) - (x_1 + x_3 + ... + x_2N-1)]; y_2N = sigmoid(w_out h_2N) compares the two
sums (a negative w_out swaps which one gives 1). Variant 0 is w_in = 1, w_rec = -1, w_out = 1000. The notebook's
key cells and the grader call these; the student release does not contain this module.
"""

from __future__ import annotations

import itertools
import math
import operator
import random
from dataclasses import dataclass
from typing import Any, Sequence

import sympy as sp

from course_staff.keys import Judge, close
from course_utils import variants
from course_utils.q2.checks import CANNOT_FOLLOW
from course_utils.q2.recurrence import InductionProof, check_induction, step_difference

_X = sp.IndexedBase("x")  # x[t]: the input at step t, for statements about every length
_T, _N, _t, _k = sp.symbols("T N t k", integer=True, nonnegative=True)

SEQUENCE_A = (3, 1, 2, 4)  # the two sequences whose last outputs the handout asks for (q2.output_a, _b)
SEQUENCE_B = (5, 2000, 1, 3)
#: sigmoid(z) is exactly 1.0 in float64 from z = 37 on, and sigmoid(-z) = 1 - sigmoid(z) is then below 2^-53: the
#: smallest |w_out h| at which y reads as 1 or 0 (to every decimal a check compares).
SATURATES = 37


def weights() -> tuple[int, int, int]:
    """(w_in, w_rec, w_out) of the current variant of Q2 (``course_utils.variants.params("q2")``)."""
    numbers = variants.params("q2")
    return numbers["w_in"], numbers["w_rec"], numbers["w_out"]


def _exact_int(value: object, what: str) -> int:
    """``value`` as a Python int (numpy and sympy integers accepted), else a TypeError."""
    if isinstance(value, bool):
        raise TypeError(f"{what} = {value!r} is a bool; pass the integer 0 or 1 instead.")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what} = {value!r} is not an integer: the question's inputs are integers and the "
                        "hidden states are exact only for integers; pass int(v) for whole numbers.") from None


def _validated(xs: Sequence[int]) -> list[int]:
    """``xs`` as a non-empty list of exact Python ints, else a ValueError/TypeError saying why."""
    xs = [_exact_int(x, f"x_{i}") for i, x in enumerate(xs, start=1)]
    if not xs:
        raise ValueError("xs is empty: there is no final output y_T without at least one input x_1 "
                         "(the question uses an even length 2N >= 2).")
    return xs


def hidden_step(h_prev: sp.Expr | int, x: sp.Expr | int, w_in: sp.Expr | int | None = None,
                w_rec: sp.Expr | int | None = None) -> sp.Expr | int:
    """One hidden update w_in x + w_rec h_prev, for ints and sympy expressions alike (a weight left out: the
    current variant's)."""
    w_in = weights()[0] if w_in is None else w_in
    w_rec = weights()[1] if w_rec is None else w_rec
    return w_in * x + w_rec * h_prev


def sigmoid(z: float) -> float:
    """Numerically stable logistic function 1 / (1 + e^-z) for any real or (huge) int ``z``.

    Never overflows or warns; exact at z = 0; returns 1.0 for z >= 37 (1 - sigma(z) is then below
    half of float64's spacing just under 1, 2^-53) and 0.0 for z <= -746 (below the smallest float).
    """
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-min(z, 1000)))
    e = math.exp(max(z, -1000))
    return e / (1.0 + e)


def simulate(
    xs: Sequence[int], w_in: int | None = None, w_rec: int | None = None, w_out: float | None = None,
    b_out: float = 0,
) -> tuple[list[int], list[float]]:
    """Run the network over ``xs`` from h_0 = 0: the oracle of the Q2 checks.

    xs: (T,) integers, T >= 1 (numpy/sympy integers are converted to exact Python ints).
    A weight left out is the current variant's (:func:`weights`).
    w_in, w_rec: integer weights, so hidden states stay exact at any magnitude (10**30 too).
    w_out, b_out: output weight and bias, y_t = sigmoid(w_out h_t + b_out).
    Returns (hidden, outputs): ``hidden`` a list of T ints h_1..h_T, ``outputs`` a list of
    T floats y_1..y_T in [0, 1].
    """
    xs = _validated(xs)
    default_in, default_rec, default_out = weights()
    w_in = _exact_int(default_in if w_in is None else w_in, "w_in")
    w_rec = _exact_int(default_rec if w_rec is None else w_rec, "w_rec")
    w_out = default_out if w_out is None else w_out
    hidden = list(itertools.accumulate(xs, lambda h, x: hidden_step(h, x, w_in, w_rec), initial=0))[1:]
    return hidden, [sigmoid(_logit(w_out, h, b_out)) for h in hidden]


def _logit(w_out: float, h: int, b_out: float) -> float:
    """w_out h + b_out; a product too large for a float saturates to +-inf (b_out is negligible)."""
    try:
        return w_out * h + b_out
    except OverflowError:  # float w_out times an int beyond 1.8e308
        return math.copysign(math.inf, w_out) * (1 if h > 0 else -1)


def input_symbols(n_steps: int) -> tuple[sp.Symbol, ...]:
    """The integer sympy symbols x_1..x_n (n = ``n_steps`` >= 1)."""
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps = {n_steps!r}: pass a positive int, the sequence length T.")
    return sp.symbols(f"x_1:{n_steps + 1}", integer=True)


def final_hidden(n_steps: int, w_in: sp.Expr | int | None = None, w_rec: sp.Expr | int | None = None) -> sp.Expr:
    """h_T in the symbols x_1..x_T, by unrolling the recurrence T = ``n_steps`` times.

    w_in, w_rec: numbers or sympy symbols (left out: the current variant's). Returns an expanded sympy expression.
    """
    h = sp.Integer(0)
    for x in input_symbols(n_steps):
        h = sp.expand(hidden_step(h, x, w_in, w_rec))
    return h


def closed_form_sum(T: sp.Expr | int = _T, w_in: sp.Expr | int | None = None,
                    w_rec: sp.Expr | int | None = None) -> sp.Sum:
    """The claimed closed form h_T = sum_{t=1}^{T} w_in w_rec^(T-t) x[t], as a sympy Sum.

    T: a symbol (any length) or an int; the inputs are the indexed symbols x[t]; a weight left out is the
    current variant's.
    """
    w_in = weights()[0] if w_in is None else w_in
    w_rec = weights()[1] if w_rec is None else w_rec
    return sp.Sum(w_in * w_rec ** (T - _t) * _X[_t], (_t, 1, T))


def closed_form(n_steps: int, w_in: sp.Expr | int | None = None, w_rec: sp.Expr | int | None = None) -> sp.Expr:
    """``closed_form_sum`` evaluated for a concrete length, in the symbols x_1..x_T."""
    xs = input_symbols(n_steps)
    total = closed_form_sum(n_steps, w_in, w_rec).doit()
    return sp.expand(total.subs({_X[i]: xs[i - 1] for i in range(1, n_steps + 1)}))


def even_length_sum(N: sp.Expr | int = _N, w_in: sp.Expr | int | None = None) -> sp.Expr:
    """The specialised claim h_2N = w_in sum_{k=1}^{N} (x[2k] - x[2k-1]) for w_rec = -1 (w_in left out: the
    current variant's; for w_in = 1 it is the Sum itself)."""
    w_in = weights()[0] if w_in is None else w_in
    return w_in * sp.Sum(_X[2 * _k] - _X[2 * _k - 1], (_k, 1, N))


def prove_closed_form(w_in: sp.Expr | None = None, w_rec: sp.Expr | None = None) -> InductionProof:
    """Induction proof that h_T = sum_t w_in w_rec^(T-t) x_t for every T (symbolic weights by default)."""
    w_in = sp.Symbol("w_in") if w_in is None else w_in
    w_rec = sp.Symbol("w_rec") if w_rec is None else w_rec
    return check_induction(
        lambda T: closed_form_sum(T, w_in, w_rec),
        lambda h, T: hidden_step(h, _X[T + 1], w_in, w_rec),
        _T,
    )


def _two_steps(h: sp.Expr, N: sp.Expr) -> sp.Expr:
    """h_{2N+2} from h_{2N}: two steps of the current variant's recurrence (inputs x[2N+1], x[2N+2])."""
    w_in, w_rec, _ = weights()
    return hidden_step(hidden_step(h, _X[2 * N + 1], w_in, w_rec), _X[2 * N + 2], w_in, w_rec)


def prove_even_length_rule() -> InductionProof:
    """Induction over N (two steps at a time) that h_2N = w_in sum_k (x_2k - x_2k-1) for this variant's network."""
    return check_induction(even_length_sum, _two_steps, _N, index=lambda N: 2 * N)


def premise() -> tuple[bool, str]:
    """Q2's premise as code, for the current variant: (ok, why not).

    The network's h_2N is w_in times (the even-position inputs' sum minus the odd ones') for every N (sympy
    induction, two steps at a time), with w_in > 0; |w_in w_out| >= 37, so for integer inputs whose sums differ
    y_2N = sigmoid(w_out h_2N) is exactly 1.0 or 0.0 in float64 (0.5 for a tie): y_2N reads as a comparator of
    the two sums. And the handout's sequence A is a tie, B is not."""
    w_in, w_rec, w_out = weights()
    if not (isinstance(w_in, int) and not isinstance(w_in, bool) and w_in > 0):
        return False, (f"w_in = {w_in!r} is not a positive integer: the variants keep the input weight positive, so "
                       "that the sign of the output weight alone decides which sum makes y_2N say 1")
    if not isinstance(w_rec, int) or isinstance(w_rec, bool):
        return False, f"w_rec = {w_rec!r} is not an integer: the hidden states are no longer exact"
    proof = prove_even_length_rule()
    if not proof.holds:
        return False, (f"h_2N is not w_in = {w_in} times the even-position sum minus the odd-position sum for every "
                       f"N with w_rec = {w_rec} ({proof}): the output no longer compares the two sums; derive the "
                       "question's reading again")
    # the smallest nonzero |h_2N| is w_in (sums of integers differ by at least 1): the argument is then >= 37
    smallest = abs(w_out * w_in)
    if not smallest >= SATURATES or sigmoid(smallest) != 1.0 or not sigmoid(-smallest) < 2.0**-53:
        return False, (f"|w_out * w_in| = {smallest} is below {SATURATES}: for sums that differ by 1, y_2N = "
                       f"sigmoid({w_out * w_in}) is not saturated, so y_2N no longer reads as a comparator")
    tie, apart = (sum(s[1::2]) - sum(s[0::2]) for s in (SEQUENCE_A, SEQUENCE_B))
    if tie != 0 or apart == 0:
        return False, "sequence A must be a tie of the two sums and sequence B not"
    return True, ""


def describe_final_output(n_steps: int) -> str:
    """In words: what y_T = sigmoid(w_out h_T) computes for a sequence of length ``n_steps`` (current variant)."""
    input_symbols(n_steps)  # validates n_steps
    w_in, _, w_out = weights()
    big, small = ("even", "odd") if n_steps % 2 == 0 else ("odd", "even")
    difference = f"(sum of {big}-position inputs) - (sum of {small}-position inputs)"
    one, zero = ("larger", "smaller") if w_out > 0 else ("smaller", "larger")
    return (
        f"T = {n_steps} ({'even' if n_steps % 2 == 0 else 'odd'}): "
        f"h_T = {difference if w_in == 1 else f'{w_in} * [{difference}]'}. "
        f"y_T is ~1 when the {big}-position sum is {one}, ~0 when it is {zero}, "
        f"and exactly 0.5 when the two sums are equal."
    )


def rule_output(xs: Sequence[int]) -> float:
    """The saturated output the parity rule predicts for integer ``xs``: 1.0, 0.0 or 0.5.

    xs: (T,) integers, T >= 1. Compares the even- and odd-position sums (positions from 1).
    """
    xs = _validated(xs)
    diff = sum(xs[1::2]) - sum(xs[0::2])
    diff = diff if len(xs) % 2 == 0 else -diff
    diff = diff if weights()[2] > 0 else -diff  # a negative w_out swaps which sum gives 1
    return 0.5 if diff == 0 else float(diff > 0)


@dataclass(frozen=True)
class BruteForceReport:
    """Counts from ``brute_force_check``."""

    n_sequences: int
    n_hidden_match: int
    n_output_match: int
    n_ties: int
    max_abs_input: int


def brute_force_check(
    n_sequences: int = 10_000, max_pairs: int = 10, seed: int = 0
) -> BruteForceReport:
    """Random even-length integer sequences: simulation vs closed form and vs the parity rule.

    Lengths 2..2*max_pairs; magnitudes from 1 to 10**30 (small ranges make ties common).
    """
    rng = random.Random(seed)  # local generator: no global state touched
    evaluate = {2 * p: sp.lambdify(input_symbols(2 * p), closed_form(2 * p), "math")
                for p in range(1, max_pairs + 1)}
    hidden_ok = output_ok = ties = biggest = 0
    for _ in range(n_sequences):
        bound = rng.choice([1, 3, 10, 10**3, 10**9, 10**30])
        xs = [rng.randint(-bound, bound) for _ in range(2 * rng.randint(1, max_pairs))]
        hidden, outputs = simulate(xs)
        expected = rule_output(xs)
        hidden_ok += hidden[-1] == evaluate[len(xs)](*xs)
        output_ok += abs(outputs[-1] - expected) < 2.0**-53  # exactly equal where |w_in w_out| >= 746 (variant 0)
        ties += expected == 0.5
        biggest = max(biggest, *map(abs, xs))
    return BruteForceReport(n_sequences, hidden_ok, output_ok, ties, biggest)


def biased_output_summary(n_steps: int = 4, max_abs: int = 3) -> tuple[int, int, int]:
    """The seed's mistake y = sigmoid(w_out - h_T) (weight -1, bias w_out; 1000 in variant 0) on every small
    sequence.

    Runs all integer sequences of length ``n_steps`` with entries in [-max_abs, max_abs].
    Returns (n_sequences, n_where_it_says_1, n_where_it_differs_from_the_correct_y_T).
    """
    total = says_one = wrong = 0
    for xs in itertools.product(range(-max_abs, max_abs + 1), repeat=n_steps):
        biased = simulate(xs, w_out=-1, b_out=weights()[2])[1][-1]
        total, says_one = total + 1, says_one + (biased > 0.5)
        wrong += biased != simulate(xs)[1][-1]
    return total, says_one, wrong




# --- the grader's judges: hidden sequences, the simulation as oracle, named mistakes -------------------
# Every oracle and mistake reads the current variant's weights when it is called (the registry builder pins each
# variant in turn; the grader runs as the submission's owner), so a hint names the same slip in every variant.

def _step_rows(xs: Sequence[int], w_out: float | None = None, b_out: float = 0, w_rec: int | None = None,
               w_in: int | None = None) -> list[list[float]]:
    """[[h_t, y_t], ...] of the network (or of a mistaken one) over ``xs``: what ``probe_step`` returns."""
    hidden, outputs = simulate(xs, w_in=w_in, w_rec=w_rec, w_out=w_out, b_out=b_out)
    return [[float(h), y] for h, y in zip(hidden, outputs)]


def _swapped_rows(xs: Sequence[int]) -> list[list[float]]:
    """What ``probe_step`` sees from a step that returns (y, h): the output comes back as the next state."""
    w_in, w_rec, w_out = weights()
    rows, h_prev = [], 0.0
    for x in xs:
        h = w_in * x + w_rec * h_prev
        y = sigmoid(w_out * h)
        rows.append([float(y), float(h)])
        h_prev = y
    return rows


def _step_cases(rng: random.Random) -> list:
    """Integer sequences that separate right from wrong steps: signs, ties, zeros, a large value."""
    cases = [[rng.choice([0, 1, -1])], [rng.randint(-9, 9)] * 2, [rng.randint(1, 9), rng.randint(1000, 5000), -2, 0]]
    return cases + [[rng.randint(-9, 9) for _ in range(rng.randint(1, 9))] for _ in range(9)]


def _claim_cases(rng: random.Random) -> list:
    """Fresh even-length sequences for N = 0..6 and one symbolic case (proved by induction)."""
    return [[rng.randint(-20, 20) for _ in range(2 * n)] for n in range(7)] + [{"symbolic": True}]


def _claim_value(case: Any) -> Any:
    """The true h_2N on a sequence (the simulation); None for the symbolic case (no value to compare)."""
    return None if isinstance(case, dict) else (simulate(case)[0][-1] if case else 0)


def compare_claim(got: Any, want: Any, case: Any) -> tuple[bool, str]:
    """A claimed h_2N: its value on a sequence, or, for the symbolic case, base and step by induction (two steps
    of the current variant's recurrence)."""
    if not isinstance(case, dict):
        ok = isinstance(got, int) and not isinstance(got, bool) and got == want
        return ok, "" if ok else f"the claimed h_{len(case)} differs from the network's on a hidden sequence. "
    if not isinstance(got, sp.Basic):
        return False, "the claim could not be read as a sympy expression. "
    names = [s for s in got.free_symbols if isinstance(s, sp.Symbol) and s.name == "N"]
    n = names[0] if names else _N
    proof = check_induction(lambda m: got.subs(n, m), _two_steps, n, index=lambda m: 2 * m)
    if proof.base_residual != 0:
        return False, "the base case fails: at N = 0 the claim must equal h_0 = 0. "
    if proof.step_residual != 0:
        if step_difference(lambda m: got.subs(n, m), n).has(sp.Sum):
            return False, CANNOT_FOLLOW  # the self-check's follow-up says the same
        return False, ("the induction step fails: two more steps of the network do not turn the claim at N "
                       "into the claim at N + 1, so it is wrong for some length. ")
    return True, ""


def _seed_claim(case: list) -> int | str:
    """The seed's closed form, w_in (-1)^N (x_1 - x_2 + ... - x_2N + x_1), as ``probe_claim`` reads it
    (at N = 0 it keeps an input that does not exist: ``"x[1]"``, times w_in)."""
    w_in = weights()[0]
    if not case:
        return sp.sstr(w_in * _X[1])
    return w_in * (-1) ** (len(case) // 2) * (sum(case[0::2]) - sum(case[1::2]) + case[0])


def _claim_of(build: Any) -> Any:
    """A mistaken closed form, ``build(w_in)`` an expression in ``_N`` for the current variant's w_in, as
    ``probe_claim`` reports it on a case: its fingerprint is exact."""
    from course_utils.q2.checks import probe_claim

    return lambda case: probe_claim(build(weights()[0]).subs(_N, sp.Symbol("N", integer=True, nonnegative=True)),
                                    case)


def _pairs(lo: Any, hi: Any) -> sp.Sum:
    """sum_{k=lo}^{hi} (x[2k] - x[2k-1])."""
    return sp.Sum(_X[2 * _k] - _X[2 * _k - 1], (_k, lo, hi))


JUDGES = {
    "q2.step": Judge(_step_cases, _step_rows, mistakes=(
        (lambda xs: _step_rows(xs, w_out=-1, b_out=weights()[2]),
         "your hidden states are right but the outputs differ: the sigmoid's argument has a bias the figure "
         "does not have. "),
        (lambda xs: _step_rows(xs, w_rec=1), "your hidden state differs from the network's: re-read the weight on "
                                             "the loop. "),
        (lambda xs: _step_rows(xs, w_out=1), "your hidden states are right but the outputs differ: re-read the "
                                             "weight on the output edge. "),
        (_swapped_rows, "your step returns its two values the other way round: the new hidden state comes first, "
                        "then the output. "),
        # slips that only a variant's weights can show (in variant 0 they give the right output and are left out)
        (lambda xs: _step_rows(xs, w_in=1), "your hidden state differs from the network's: re-read the weight on "
                                            "the input edge. "),
        (lambda xs: _step_rows(xs, w_rec=-weights()[0]),
         "your hidden state differs from the network's: the input edge's weight multiplies the input only, and "
         "the loop has its own weight. "),
        (lambda xs: _step_rows(xs, w_out=abs(weights()[2])),
         "your hidden states are right but the outputs differ: re-read the sign of the weight on the output "
         "edge. "))),
    "q2.closed_form": Judge(_claim_cases, _claim_value, compare=compare_claim, mistakes=(
        (lambda xs: -_claim_value(xs), "your form has the sign of every input the wrong way round. "),
        (_seed_claim, "start from h_0 = 0 and compare your form with a run of N = 1 and N = 2 by hand. "),
        (_claim_of(lambda w_in: w_in * _pairs(0, _N)),
         "your sum counts one pair too many: at N = 1 there is only the pair x_1, x_2 (there is no input before "
         "x_1). "),
        (_claim_of(lambda w_in: w_in * _pairs(1, _N - 1)),
         "your sum stops one pair short: at N = 1 it must already hold x_1 and x_2. "),
        (_claim_of(lambda w_in: w_in * sp.Sum(_X[2 * _k], (_k, 1, _N))),
         "only the even-numbered inputs appear: the odd-numbered ones reach h_2N too. "),
        (_claim_of(lambda w_in: w_in * (_X[2 * _N] - _X[2 * _N - 1])),
         "only the last pair appears: the earlier pairs still reach h_2N through the loop. "),
        (_claim_of(lambda w_in: _pairs(1, _N)), "every input reaches h_2N through the input edge: re-read its weight. "))),
}


# ---- the hash-checked answers and their known mistakes: the registry is built from these -----------------
# A mistake's hint names the slip and where to look, never the answer; its fingerprint is stored as a slow
# salted hash like the answer's (``course_utils.checks.named_mistake``).

def answers(tiny: bool) -> dict[str, Any]:
    """Q2's hash-checked answers in the current variant (the same in both modes): h_4 and the last outputs of the
    two sequences."""
    return {
        "q2.final_hidden": final_hidden(4),
        "q2.output_a": simulate(SEQUENCE_A)[1][-1],
        "q2.output_b": simulate(SEQUENCE_B)[1][-1],
    }


_PERCENT = "that looks like a percentage: the sigmoid gives a probability, a number between 0 and 1. "


def _seed_bias(w_out: float) -> str:
    """The hint for the seed's output bias, sigmoid(w_out - h), naming the variant's output weight."""
    return ("the output unit in the figure has no bias: it is the sigmoid of the weight on its edge times h_4 "
            f"(is your sigmoid's argument {w_out:g} - h?). ")


def mistakes(tiny: bool, answers: dict[str, Any]) -> dict[str, list[tuple[Any, str]]]:
    """Q2, in the current variant: the sign slips of the unrolled recurrence, a forgotten input weight, the seed's
    output bias, a dropped sign of the output weight, percentages (a slip that gives the right answer in this
    variant is left out by the registry builder)."""
    import sympy as sp

    w_in, _, w_out = weights()
    x1, x2, x3, x4 = sp.symbols("x1:5")
    right = final_hidden(4)
    a_h, b_h = simulate(SEQUENCE_A)[0][-1], simulate(SEQUENCE_B)[0][-1]
    out_a, out_b = (simulate(s)[1][-1] for s in (SEQUENCE_A, SEQUENCE_B))
    return {
        "q2.final_hidden": [
            (-right, "every input carries the opposite sign: which input enters last, and what does the weight on "
                     "the loop do to the earlier ones? "),
            (w_in * (x4 - x3), "only the last two inputs appear: the earlier ones still reach h_4 through the loop. "),
            (w_in * (x1 + x2 + x3 + x4), "every input carries the same sign: re-read the weight on the loop. "),
            (x1 * x2, "a linear unit adds weighted inputs and never multiplies them. "),
            (w_out * right, "that is the output unit's input (w_out times h_4); h_4 is the hidden state itself. "),
            (sp.expand(right / w_in), "every input enters through the input edge: re-read the weight on it. "),
        ],
        "q2.output_a": [(sigmoid(w_out - a_h), _seed_bias(w_out)), (100 * out_a, _PERCENT),
                        (float(a_h > 0), "a hard threshold is not the sigmoid: work out the sigmoid at this h_4. "),
                        (out_b, "that is the other sequence's output: run the recurrence over this one. ")],
        "q2.output_b": [(sigmoid(w_out - b_h), _seed_bias(w_out)), (100 * out_b, _PERCENT),
                        (out_a, "that would be the output for h_4 = 0: run the recurrence over this sequence. "),
                        (sigmoid(abs(w_out) * b_h), "re-read the sign of the weight on the output edge. ")],
    }
