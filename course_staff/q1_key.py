"""Q1's key: the grader's judges of the student's parameter counts (hidden sizes, PyTorch as the oracle)."""

from __future__ import annotations

import random

from course_staff.judging import Judge


def _counted(module) -> int:
    return sum(p.numel() for p in module.parameters())


def conv_count(case: list) -> int:
    """Parameters of ``nn.Conv2d(c_in, c_out, k)`` for ``case = [c_in, c_out, k]``, counted by PyTorch."""
    from torch import nn

    return _counted(nn.Conv2d(*case))


def gru_count(case: list) -> int:
    """Parameters of ``nn.GRU(width, hidden)`` for ``case = [width, hidden]``, counted by PyTorch."""
    from torch import nn

    return _counted(nn.GRU(*case))


def _conv_cases(rng: random.Random) -> list:
    return [[rng.randint(1, 12), rng.randint(1, 12), rng.choice([1, 2, 3, 5, 7])] for _ in range(6)]


def _gru_cases(rng: random.Random) -> list:
    return [[rng.randint(1, 40), rng.randint(1, 40)] for _ in range(5)]


JUDGES = {
    "q1.conv_parameters": Judge(_conv_cases, conv_count, mistakes=(
        (lambda c: c[0] * c[1] * c[2] ** 2, "each output channel also has a bias. "),
        (lambda c: c[0] * c[1] * c[2] + c[1], "a k x k filter has a weight for every one of its k * k positions. "),
        (lambda c: c[1] * c[2] ** 2 + c[1], "each output channel has a k x k filter for every input channel. "))),
    "q1.gru_parameters": Judge(_gru_cases, gru_count, mistakes=(
        (lambda c: 4 * (c[1] * c[0] + c[1] ** 2 + 2 * c[1]), "that is an LSTM's count: a GRU has three gates. "),
        (lambda c: 3 * (c[1] * c[0] + c[1] ** 2 + c[1]),
         "PyTorch gives every gate two bias vectors, one on the input side and one on the state side. "),
        (lambda c: 3 * (c[1] * c[0] + 2 * c[1]), "each gate also reads the previous hidden state, through an h x h matrix. "))),
}
