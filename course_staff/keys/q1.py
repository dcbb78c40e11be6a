"""Q1's key: the grader's judges of the student's parameter counts and receptive field.

Hidden sizes are drawn here for every grading run; the oracles are PyTorch itself: the parameters of
a layer built on the ``meta`` device (no memory, so sizes far too large to build count too), and the
gradient through a real stack of convolutions.
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
