"""Self-checks of Q1 (CNNs vs RNNs): the student's parameter counts and receptive field, as closed forms.

The counts are *probe* checks: the student's formula runs on public sizes here and on hidden ones
at grading, where ``course_staff.q1_key`` compares it with PyTorch's own layers."""

from __future__ import annotations

from typing import Any, Callable

from course_utils.checks import NoAnswer, Spec, _forms, register

CONV_CASES = ((1, 4, 3), (3, 5, 5), (2, 7, 1), (6, 2, 3))  # public (c_in, c_out, k)
GRU_CASES = ((16, 32), (5, 7), (64, 3))  # public (width, hidden)
STACK_CASES = ((1, 3), (2, 3), (4, 3), (2, 5), (3, 7))  # (n_layers, k)


def _counted(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


def _ask(function: Any, *args: int) -> int:
    """The student's function on ``args`` as an int; NoAnswer while its body is still ``...``."""
    if not callable(function):
        raise ValueError("pass your function itself (its name, without calling it)")
    result = _forms.call_quietly(function, *args)
    if result is None:
        raise NoAnswer("your function returns nothing yet: write its body in place of the ... and return the number.")
    return _forms.as_int(result)


def _judge(function: Any, cases: tuple, truth: Callable[..., int], mistakes: Callable[..., dict[int, str]]) -> tuple[bool, str]:
    for args in cases:
        got, want = _ask(function, *args), truth(*args)
        if got != want:
            return False, mistakes(*args).get(got, f"for the sizes {args} your count differs from PyTorch's. ")
    return True, ""


def probe_count(function: Any, case: Any) -> int:
    """The student's count for the sizes ``case`` (a list of ints), as an int: the probe of both counts."""
    return _ask(function, *case)


def rows_seen_by_stack(n_layers: int, k: int) -> int:
    """Input rows with a nonzero gradient for the centre output of n_layers stride-1 k x k convolutions."""
    import torch
    from torch import nn

    height = 2 * n_layers * k + 5
    layers = nn.Sequential(*[nn.Conv2d(1, 1, k, padding=k // 2) for _ in range(n_layers)]).double()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for layer in layers:
            nn.init.uniform_(layer.weight, 0.5, 1.0)  # positive weights: no accidental zero gradient
        x = torch.randn(1, 1, height, 3, dtype=torch.float64, requires_grad=True)
    layers(x)[0, 0, height // 2, 1].backward()
    return int((x.grad[0, 0].abs().sum(dim=1) > 0).sum())


def judge_stack_rows_seen(function: Any) -> tuple[bool, str]:
    """``stack_rows_seen(n_layers, k)`` against the gradient of a real stack of convolutions."""

    def mistakes(n: int, k: int) -> dict[int, str]:
        return {n * k: "neighbouring windows overlap: count how many *new* rows each extra layer adds. ",
                k ** n: "the view grows by a fixed number of rows per layer, not by a factor. "}

    return _judge(function, STACK_CASES, rows_seen_by_stack, mistakes)


register("q1.conv_parameters", Spec("probe", "Print the shapes of the parameters of a small nn.Conv2d "
                                    "(named_parameters()) and build your formula from them.", probe=probe_count,
                                    public_cases=CONV_CASES))
register("q1.gru_parameters", Spec("probe", "Print the shapes of the parameters of a small nn.GRU "
                                   "(named_parameters()) and build your formula from them.", probe=probe_count,
                                   public_cases=GRU_CASES))
register("q1.stack_rows_seen", Spec("judge", "Draw one output and the window it reads, then the windows of the "
                                    "layer below, row by row.", judge=judge_stack_rows_seen))
