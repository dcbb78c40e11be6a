"""Q3's variants: which base vectors make which tokens, how many, the dimension, the betas the prompts name.

Each variant is a dict (JSON-ready):

- ``bases``: how many orthogonal base vectors a, b, c, ... (each of norm beta) there are (4 to 6);
- ``dim``: the dimension the notebook draws them in (``orthogonal_tokens(beta, dim=...)``);
- ``tokens``: each token as the base vectors it sums, x1 first (variant 0: x1 = d + b, x2 = a, x3 = c + b);
- ``norms_beta``, ``weights_beta``: the beta of part (a)'s norms and of the weights' blank;
- ``sweep``: [start, stop, count] of the betas of the error plot;
- ``query_swaps``: the pairs of base directions the demo's query map exchanges.

What varies is the arithmetic: the norms, the weights, the demo's query map and how fast the outputs settle
follow from the recipe, so a classmate's numbers are wrong for you. The lesson does not vary: every variant passes
the same premise, checked by the instructor's key before a variant is ever issued.

Variant 0 is the question as it has always been. The table is made by the instructor's key from a fixed list of
candidate recipes, keeping those that pass the question's premise (and a test checks that it still is); it is
written out here as plain data.
"""

VARIANTS = (
    {"bases": 4, "dim": 6, "tokens": [["d", "b"], ["a"], ["c", "b"]],
     "norms_beta": 3.0, "weights_beta": 1.0, "sweep": [0.3, 6.5, 32], "query_swaps": [["c", "d"]]},
    {"bases": 4, "dim": 5, "tokens": [["a", "b"], ["c"], ["d"]],
     "norms_beta": 2.0, "weights_beta": 0.8, "sweep": [0.3, 6.0, 30], "query_swaps": [["c", "d"]]},
    {"bases": 4, "dim": 7, "tokens": [["a", "b"], ["c", "d"], ["a", "c"]],
     "norms_beta": 4.0, "weights_beta": 1.2, "sweep": [0.2, 5.5, 28], "query_swaps": [["a", "c"], ["b", "d"]]},
    {"bases": 5, "dim": 5, "tokens": [["a", "b"], ["c"], ["b", "d"], ["e"]],
     "norms_beta": 2.5, "weights_beta": 0.7, "sweep": [0.4, 5.0, 26], "query_swaps": [["a", "d"]]},
    {"bases": 6, "dim": 8, "tokens": [["a", "b"], ["c", "d"], ["e", "f"]],
     "norms_beta": 3.5, "weights_beta": 0.9, "sweep": [0.3, 6.2, 31], "query_swaps": [["a", "c"], ["b", "d"]]},
    {"bases": 5, "dim": 7, "tokens": [["a", "b"], ["c", "d"], ["e"]],
     "norms_beta": 5.0, "weights_beta": 1.1, "sweep": [0.3, 6.5, 32], "query_swaps": [["a", "c"], ["b", "d"]]},
    {"bases": 5, "dim": 6, "tokens": [["a", "b"], ["b", "c"], ["d"], ["e"]],
     "norms_beta": 1.5, "weights_beta": 0.6, "sweep": [0.3, 6.0, 30], "query_swaps": [["a", "c"]]},
    {"bases": 6, "dim": 8, "tokens": [["a", "b", "c"], ["a", "d", "e"], ["b", "d", "f"]],
     "norms_beta": 4.5, "weights_beta": 1.3, "sweep": [0.2, 5.5, 28], "query_swaps": [["a", "b"], ["e", "f"]]},
    {"bases": 4, "dim": 4, "tokens": [["a", "b"], ["a", "c"], ["a", "d"]],
     "norms_beta": 3.0, "weights_beta": 1.0, "sweep": [0.4, 5.0, 26], "query_swaps": [["b", "c"]]},
    {"bases": 5, "dim": 7, "tokens": [["a", "b"], ["a", "c"], ["a", "d"], ["a", "e"]],
     "norms_beta": 2.0, "weights_beta": 0.8, "sweep": [0.3, 6.2, 31], "query_swaps": [["b", "c"]]},
    {"bases": 4, "dim": 6, "tokens": [["a", "b"], ["b", "c"], ["d"]],
     "norms_beta": 4.0, "weights_beta": 1.2, "sweep": [0.3, 6.5, 32], "query_swaps": [["a", "c"]]},
    {"bases": 6, "dim": 7, "tokens": [["a", "b", "c"], ["b", "c", "d"], ["e", "f"]],
     "norms_beta": 2.5, "weights_beta": 0.7, "sweep": [0.3, 6.0, 30], "query_swaps": [["a", "d"]]},
    {"bases": 5, "dim": 8, "tokens": [["a", "b", "c"], ["a", "d"], ["b", "e"]],
     "norms_beta": 3.5, "weights_beta": 0.9, "sweep": [0.2, 5.5, 28], "query_swaps": [["a", "b"], ["d", "e"]]},
    {"bases": 5, "dim": 5, "tokens": [["a", "b"], ["b", "c"], ["c", "d"], ["d", "e"]],
     "norms_beta": 5.0, "weights_beta": 1.1, "sweep": [0.4, 5.0, 26], "query_swaps": [["a", "e"], ["b", "d"]]},
)
