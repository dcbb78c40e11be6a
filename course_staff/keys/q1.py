"""Q1's key: the grader's judges of the student's parameter counts and receptive field.

Hidden sizes are drawn here for every grading run; the oracles are PyTorch itself: the parameters of
a layer built on the ``meta`` device (no memory, so sizes far too large to build count too), and the
gradient through a real stack of convolutions.

The public sizes differ per variant (``course_utils/q1/variants.py``); the judges do not need to: the answers
are formulas, right in every variant. :func:`premise` checks that the current variant's sizes still carry the
lesson.
"""

from __future__ import annotations

import random

from course_staff.keys import Judge


def _counted(module) -> int:
    return sum(p.numel() for p in module.parameters())


def conv_count(case: list) -> int:
    """Parameters of ``nn.Conv2d(c_in, c_out, k)`` for ``case = [c_in, c_out, k]``, counted by PyTorch."""
    from torch import nn

    return _counted(nn.Conv2d(*case, device="meta"))


def gru_count(case: list) -> int:
    """Parameters of ``nn.GRU(width, hidden)`` for ``case = [width, hidden]``, counted by PyTorch."""
    from torch import nn

    return _counted(nn.GRU(*case, device="meta"))


def rows_seen_by_stack(case: list) -> int:
    """Input rows with a nonzero gradient for the centre output of ``n_layers`` stride-1 k x k convolutions.

    case = [n_layers, k], k odd (padding k // 2 keeps the height).
    """
    import torch
    from torch import nn

    n_layers, k = case
    height = 2 * n_layers * k + 5
    layers = nn.Sequential(*[nn.Conv2d(1, 1, k, padding=k // 2) for _ in range(n_layers)]).double()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for layer in layers:
            nn.init.uniform_(layer.weight, 0.5, 1.0)  # positive weights: no accidental zero gradient
        x = torch.randn(1, 1, height, 3, dtype=torch.float64, requires_grad=True)
    layers(x)[0, 0, height // 2, 1].backward()
    return int((x.grad[0, 0].abs().sum(dim=1) > 0).sum())


def _conv_cases(rng: random.Random) -> list:
    small = [[rng.randint(1, 12), rng.randint(1, 12), rng.choice([1, 2, 3, 5, 7])] for _ in range(5)]
    return small + [[rng.randint(2000, 9000), rng.randint(40000, 90000), rng.choice([7, 9, 11])]]  # unbuildable


def _gru_cases(rng: random.Random) -> list:
    small = [[rng.randint(1, 40), rng.randint(1, 40)] for _ in range(4)]
    return small + [[rng.randint(50000, 99000), rng.randint(200000, 500000)]]  # unbuildable


def _stack_cases(rng: random.Random) -> list:
    return [[rng.randint(1, 12), rng.choice([1, 3, 5, 7, 9, 11])] for _ in range(6)]


JUDGES = {
    "q1.conv_parameters": Judge(_conv_cases, conv_count, mistakes=(
        (lambda c: c[0] * c[1] * c[2] ** 2, "each output channel also has a bias. "),
        (lambda c: c[0] * c[1] * c[2] + c[1], "a k x k filter has a weight for every one of its k * k positions. "),
        (lambda c: c[1] * c[2] ** 2 + c[1], "each output channel has a k x k filter for every input channel. "))),
    "q1.gru_parameters": Judge(_gru_cases, gru_count, mistakes=(
        (lambda c: 4 * (c[1] * c[0] + c[1] ** 2 + 2 * c[1]), "that is an LSTM's count: a GRU has three gates. "),
        (lambda c: 3 * (c[1] * c[0] + c[1] ** 2 + c[1]),
         "PyTorch gives every gate two bias vectors, one on the input side and one on the state side. "),
        (lambda c: 3 * (c[1] * c[0] + 2 * c[1]), "each gate also reads the previous hidden state, through an h x h matrix. "),
        (lambda c: c[1] * c[0] + c[1] ** 2 + 2 * c[1], "that is one gate's count: a GRU has three gates. "))),
    "q1.stack_rows_seen": Judge(_stack_cases, rows_seen_by_stack, mistakes=(
        (lambda c: c[0] * c[1], "neighbouring windows overlap: count how many *new* rows each extra layer adds. "),
        (lambda c: c[1] ** c[0], "the view grows by a fixed number of rows per layer, not by a factor. "),
        (lambda c: c[0] * (c[1] - 1), "off by one: try your formula on one layer, which sees exactly k rows. "),
        (lambda c: c[0] * (c[1] - 1) + 2, "off by one: try your formula on one layer, which sees exactly k rows. "),
        (lambda c: c[0] * (c[1] // 2) + 1,
         "each layer widens the view on both sides: k // 2 rows above and k // 2 below. "))),
}


#: The lesson (answer (b2)): one recurrent layer sees every row, while a stack of stride-1 convolutions needs
#: many layers to: at least this many for the tallest image of the receptive-field demo.
DEEP_STACK = 10
#: A public case "too large to build": more parameters than this (over 40 GB of float32).
UNBUILDABLE = 10**10


def _positive_ints(case, length: int) -> bool:
    return (isinstance(case, (list, tuple)) and len(case) == length
            and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in case))


def _odd_kernel(k) -> bool:
    return isinstance(k, int) and not isinstance(k, bool) and k >= 3 and k % 2 == 1


def _fewest_layers(height: int, k: int) -> int:
    """The fewest stacked stride-1 k x k convolutions whose centre output sees ``height`` rows: L(k - 1) + 1 >= height,
    confirmed by the gradient oracle at L and L - 1 (``height`` > k, so L >= 2)."""
    n_layers = -(-(height - 1) // (k - 1))
    if not rows_seen_by_stack([n_layers - 1, k]) < height <= rows_seen_by_stack([n_layers, k]):
        raise AssertionError(f"the oracle disagrees: {n_layers} stacked {k}x{k} convolutions are not the fewest "
                             f"that see {height} rows")
    return n_layers


def premise() -> tuple[bool, str]:
    """(True, "") when the current variant's sizes carry Q1's lesson, else (False, why).

    - every public case of the three checks is valid (positive whole sizes), the stack's and the demos' kernel
      sizes are odd and at least 3, and each check has a public case on which every known mistake of its judge
      differs from the right output (so the self-check can name it);
    - the conv and GRU checks each have a public case too large to build (the blank asks for a formula);
    - the parameter table: its widths increase, and the CNN (whose count does not depend on the width) has fewer
      parameters than the row GRU (whose count grows with it) already at the smallest width (answer (a2));
    - the receptive-field demo: one k x k convolution sees fewer rows than every image has, and a stack needs at
      least :data:`DEEP_STACK` layers to see all rows of the tallest one (answer (b2)), by the gradient oracle.
    """
    from course_utils import variants

    p = variants.params("q1")
    checks = {"q1.conv_parameters": ("conv_cases", 3), "q1.gru_parameters": ("gru_cases", 2),
              "q1.stack_rows_seen": ("stack_cases", 2)}
    for question, (name, length) in checks.items():
        cases = p[name]
        bad = [case for case in cases if not _positive_ints(case, length)]
        if not cases or bad:
            return False, f"{name}: every public case must be {length} positive whole sizes, not {bad or cases}"
        judge = JUDGES[question]
        right = [judge.oracle(list(case)) for case in cases]
        for wrong, hint in judge.mistakes:
            if [wrong(list(case)) for case in cases] == right:
                return False, f"{name}: no public case tells the mistake {hint.strip()!r} from the right output"
        if len(set(right)) < 2:
            return False, f"{name}: every public case has the same right output"
        if name != "stack_cases" and max(right) <= UNBUILDABLE:
            return False, f"{name}: no public case is too large to build (more than {UNBUILDABLE:.0e} parameters)"
    if not all(_odd_kernel(k) for _, k in p["stack_cases"]):
        return False, f"stack_cases {p['stack_cases']}: the stack's kernel sizes must be odd and at least 3"

    c1, c2 = p["cnn_channels"]
    k, hidden, widths = p["cnn_kernel"], p["gru_hidden"], p["table_widths"]
    if not (_positive_ints([c1, c2, hidden], 3) and _odd_kernel(k) and _positive_ints(widths, len(widths))
            and len(widths) >= 2 and list(widths) == sorted(set(widths))):
        return False, (f"the parameter table's sizes (channels {c1}, {c2}, kernel {k}, hidden {hidden}, widths "
                       f"{widths}) must be positive, its kernel odd and at least 3, its widths increasing")
    cnn = conv_count([1, c1, k]) + conv_count([c1, c2, k]) + 4 * (c2 + 1)  # SmallCNN: no layer depends on W
    grus = [gru_count([width, hidden]) + 4 * (hidden + 1) for width in widths]
    if not cnn < grus[0]:
        return False, f"the table's CNN ({cnn:,} parameters) is not smaller than the row GRU at W = {widths[0]} ({grus[0]:,})"

    k, heights = p["rf_kernel"], p["rf_heights"]
    if not (_odd_kernel(k) and _positive_ints(heights, len(heights)) and list(heights) == sorted(set(heights))):
        return False, f"the receptive-field demo's kernel {k} must be odd and at least 3, its heights {heights} increasing"
    seen = rows_seen_by_stack([1, k])
    if seen >= heights[0]:
        return False, f"one {k}x{k} convolution sees {seen} rows: the whole {heights[0]}-row image of the demo"
    layers = _fewest_layers(heights[-1], k)
    if layers < DEEP_STACK:
        return False, (f"{layers} stacked {k}x{k} convolutions already see all {heights[-1]} rows: the lesson needs a "
                       f"deep stack (at least {DEEP_STACK} layers) against one recurrent layer")
    return True, ""
