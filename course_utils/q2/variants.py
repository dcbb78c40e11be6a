"""Q2's variants: the weights on the edges of each student's network.

What varies: the input weight ``w_in`` (a positive integer, 1 to 6) and the output weight ``w_out`` (+-1000, +-500
or +-100), one variant per pair of w_in and sign of w_out, so that no two variants share every answer. The
recurrent weight stays -1, the length stays even (2N), and the two sequences whose last outputs the handout asks
for stay as they are.

Why the lesson does not vary: what the question asks (read the network off its figure, unroll it, prove a closed
form for every even length, say what the last output computes) is the same for every variant, and the answer key
refuses any variant whose numbers would change the kind of answer (``course_staff.keys.q2.premise``, checked for
each variant before its hashes are made). Variant 0 is the handout as it has always been (w_in = 1, w_rec = -1,
w_out = 1000). The numbers are public (the figure shows them); no file of the student package holds what they
make the network compute.
"""

from __future__ import annotations

#: (w_in, w_out) of each variant, variant 0 first; w_rec is -1 in all of them.
_WEIGHTS = ((1, 1000), (2, -500), (3, 100), (4, -1000), (5, 500), (6, -100),
            (1, -500), (2, 1000), (3, -100), (4, 500), (5, -1000), (6, 100))

VARIANTS: tuple[dict, ...] = tuple({"w_in": w_in, "w_rec": -1, "w_out": w_out} for w_in, w_out in _WEIGHTS)
