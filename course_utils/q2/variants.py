"""Q2's variants: the weights of the network on the edges of each student's figure.

What varies: the input weight ``w_in`` (a positive integer, 1 to 6) and the output weight ``w_out`` (+-1000, +-500
or +-100). Every pair (w_in, sign of w_out) occurs exactly once, so no two variants share every answer: h_4 is
``w_in`` times the alternating sum of the inputs, and a negative ``w_out`` swaps which sum makes y_2N say 1.

What does not vary, and why the lesson does not:

- the recurrent weight stays -1: it is what makes h_2N = w_in * ((even-position sum) - (odd-position sum)); any
  other value weighs the inputs by powers of w_rec and the output no longer compares two sums
  (``course_staff.keys.q2.premise`` refuses such a variant);
- |w_in * w_out| >= 100 >= 37, so for integer inputs whose sums differ the sigmoid's argument is at least 37 in
  size and y_2N is exactly 1.0 or 0.0 in float64: y_2N still reads as a comparator of the two sums, with 0.5
  exactly for a tie;
- the length stays even (2N), and the two sequences whose last outputs the handout asks for stay
  (3, 1, 2, 4), a tie, and (5, 2000, 1, 3), whose even-position sum is much larger.

Variant 0 is the handout as it has always been (w_in = 1, w_rec = -1, w_out = 1000). The numbers are public (the
figure shows them); no file of the student package holds what they make the network compute.
"""

from __future__ import annotations

#: (w_in, w_out) of each variant, variant 0 first; w_rec is -1 in all of them.
_WEIGHTS = ((1, 1000), (2, -500), (3, 100), (4, -1000), (5, 500), (6, -100),
            (1, -500), (2, 1000), (3, -100), (4, 500), (5, -1000), (6, 100))

VARIANTS: tuple[dict, ...] = tuple({"w_in": w_in, "w_rec": -1, "w_out": w_out} for w_in, w_out in _WEIGHTS)
