"""Q1's variants: the sizes each student's handout works with (``course_utils.variants``).

What varies is the set of *shapes* the handout uses, never the lesson:

- the public cases of the three self-checks, the sizes on which a student's ``conv_parameters(c_in, c_out, k)``,
  ``gru_parameters(width, hidden)`` and ``stack_rows_seen(n_layers, k)`` are run (``conv_cases``, ``gru_cases``,
  ``stack_cases``; each has sizes far too large to build a layer of, as the lesson requires);
- the parameter table's two models, built like ``SmallCNN`` and ``RowGRU``: the CNN's channels
  (``cnn_channels``: 1 -> c1 -> c2) and kernel size (``cnn_kernel``), the GRU's hidden size (``gru_hidden``) and
  the image widths W it is counted at (``table_widths``);
- the receptive-field demo's kernel size (``rf_kernel``) and image heights (``rf_heights``): how many rows one
  layer sees, and how many stacked layers the student's formula needs to see every row.

Why the lesson does not change: the answers of Q1's checks are *formulas* in the sizes. A classmate's right
formula is still right in every variant (that is the point of a formula), so a variant cannot make it wrong.
What a variant changes is the numbers: the public cases the self-check runs on and the counts, rows and layers
the student reads off and reasons about in the table and the receptive-field demo. A table of another
variant's outputs (a function that returns what a classmate's self-check accepted) is wrong here, and the
numbers a written answer quotes are this variant's own. In every variant a conv layer's count stays
independent of the image width while the GRU's grows with it, one convolution sees fewer rows than every
image has, and a deep stack (at least ten layers) is needed to see the tallest one: the key's ``premise()``
(``course_staff/keys/q1.py``) checks each of these for every variant.

Variant 0 is the handout as it was before variants: the numbers everyone gets while variants are off.
"""

from __future__ import annotations

#: Every variant's sizes, JSON-ready: lists of [c_in, c_out, k], [width, hidden], [n_layers, k] for the checks'
#: public cases; the parameter table's CNN channels [c1, c2], kernel, GRU hidden size and widths; the
#: receptive-field demo's kernel and heights.
VARIANTS: tuple[dict, ...] = (
    {"conv_cases": [[1, 4, 3], [3, 5, 5], [2, 7, 1], [6, 2, 3], [3000, 70000, 9]],
     "gru_cases": [[16, 32], [5, 7], [64, 3], [90000, 400000]],
     "stack_cases": [[1, 3], [2, 3], [4, 3], [2, 5], [3, 7], [40, 9]],
     "cnn_channels": [4, 8], "cnn_kernel": 3, "gru_hidden": 32, "table_widths": [16, 64, 256],
     "rf_kernel": 3, "rf_heights": [8, 16, 40]},
    {"conv_cases": [[5, 5, 3], [7, 2, 3], [8, 5, 5], [4, 2, 1], [7233, 71670, 11]],
     "gru_cases": [[64, 23], [42, 20], [36, 27], [87919, 249283]],
     "stack_cases": [[1, 5], [3, 3], [6, 5], [2, 7], [3, 11], [42, 9]],
     "cnn_channels": [3, 6], "cnn_kernel": 5, "gru_hidden": 24, "table_widths": [12, 48, 192],
     "rf_kernel": 5, "rf_heights": [10, 24, 60]},
    {"conv_cases": [[1, 7, 5], [6, 5, 3], [3, 3, 1], [1, 11, 3], [7029, 87539, 7]],
     "gru_cases": [[3, 15], [24, 31], [65, 23], [77606, 358133]],
     "stack_cases": [[1, 5], [2, 3], [4, 5], [2, 5], [3, 9], [34, 7]],
     "cnn_channels": [6, 12], "cnn_kernel": 3, "gru_hidden": 40, "table_widths": [20, 80, 320],
     "rf_kernel": 3, "rf_heights": [12, 24, 48]},
    {"conv_cases": [[10, 12, 3], [9, 12, 3], [10, 9, 1], [1, 2, 5], [5568, 59324, 7]],
     "gru_cases": [[69, 20], [49, 23], [63, 29], [85108, 482349]],
     "stack_cases": [[1, 7], [2, 3], [6, 5], [2, 9], [5, 7], [26, 9]],
     "cnn_channels": [5, 10], "cnn_kernel": 3, "gru_hidden": 16, "table_widths": [24, 96, 384],
     "rf_kernel": 7, "rf_heights": [14, 36, 96]},
    {"conv_cases": [[10, 3, 3], [7, 12, 7], [11, 7, 5], [8, 11, 1], [7578, 58315, 11]],
     "gru_cases": [[12, 32], [33, 27], [35, 6], [66430, 213991]],
     "stack_cases": [[1, 7], [2, 3], [4, 3], [2, 5], [4, 9], [25, 7]],
     "cnn_channels": [2, 8], "cnn_kernel": 5, "gru_hidden": 48, "table_widths": [10, 40, 160],
     "rf_kernel": 5, "rf_heights": [9, 20, 56]},
    {"conv_cases": [[8, 5, 5], [10, 12, 3], [5, 2, 1], [7, 6, 7], [2832, 87436, 7]],
     "gru_cases": [[44, 16], [28, 19], [45, 26], [88043, 470894]],
     "stack_cases": [[1, 3], [4, 3], [6, 5], [2, 7], [5, 9], [36, 9]],
     "cnn_channels": [8, 8], "cnn_kernel": 3, "gru_hidden": 20, "table_widths": [28, 112, 448],
     "rf_kernel": 3, "rf_heights": [6, 20, 36]},
    {"conv_cases": [[12, 3, 5], [1, 5, 3], [1, 6, 1], [8, 9, 3], [2435, 41405, 11]],
     "gru_cases": [[2, 10], [60, 26], [15, 3], [53908, 485974]],
     "stack_cases": [[1, 5], [4, 3], [5, 3], [2, 5], [3, 7], [51, 11]],
     "cnn_channels": [3, 9], "cnn_kernel": 3, "gru_hidden": 36, "table_widths": [14, 56, 224],
     "rf_kernel": 7, "rf_heights": [10, 28, 84]},
    {"conv_cases": [[6, 11, 1], [3, 10, 5], [5, 5, 3], [6, 9, 3], [4802, 44446, 7]],
     "gru_cases": [[63, 17], [39, 20], [68, 5], [52289, 243438]],
     "stack_cases": [[1, 7], [3, 3], [6, 5], [2, 5], [5, 11], [30, 5]],
     "cnn_channels": [4, 6], "cnn_kernel": 5, "gru_hidden": 28, "table_widths": [18, 72, 288],
     "rf_kernel": 5, "rf_heights": [12, 32, 72]},
)
