"""Q1 timings: SmallCNN vs RowGRU latency by image size, and where the CNN's time goes, layer by layer.

- ``measure_latency``, ``plot_latency``: median forward latency of both models, one image or a batch;
- ``profile_layers``: median time of every layer of a model on the inputs it really receives;
- ``batched_vs_one_by_one``: one layer on a whole batch against the same layer image by image;
- ``time_by_input_shape``: one layer on inputs of several shapes, time per output float;
- ``multiply_adds``: the arithmetic of one forward pass, counted from the layers' own weights.

Every timing is a median over ``n_repeats`` calls after a warm-up call: ``REPEATS`` (9) in full mode.
In tiny mode, which CI and grading use (the timings are printed, never checked), it is up to
``TINY_REPEATS`` (3) calls, stopping once the timed calls add up to ``TINY_BUDGET_MS`` (10 ms): a call
that long is timed once or twice. A median guards against a preemption or a cache miss landing in one
call, and such noise is a smaller share of a longer call; nearly all of the tiny notebook's timing time
is in its few long calls. Timings depend on the machine and its load: print them, never compare them exactly.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from course_utils import mode
from course_utils.q1.cnn_vs_rnn import RowGRU, SmallCNN, leaf_calls

REPEATS = 9  # timed calls per median in full mode
TINY_REPEATS = 3  # in tiny mode, at most
TINY_BUDGET_MS = 10.0  # in tiny mode, no further timed call once the timed calls add up to this


def default_repeats() -> int:
    """Timed calls per median in the current mode (``REPEATS``; in tiny mode at most ``TINY_REPEATS``)."""
    return TINY_REPEATS if mode.is_tiny() else REPEATS


@dataclass
class Latency:
    """Median forward latencies: sizes (S,) in pixels per side; cnn_ms, gru_ms: (S,) in milliseconds."""

    sizes: list[int]
    cnn_ms: list[float]
    gru_ms: list[float]
    batch_size: int
    threads: int

    def ratio_at_largest(self) -> float:
        """CNN median latency / GRU median latency at the largest size (< 1: the CNN is faster)."""
        return self.cnn_ms[-1] / self.gru_ms[-1]


def median_ms(run: Callable[[], object], n_repeats: int | None = None) -> float:
    """Median wall time of ``run()`` in milliseconds over ``n_repeats`` timed calls, after one warm-up call.

    ``n_repeats`` given: exactly that many. Default: ``REPEATS`` in full mode; in tiny mode up to
    ``TINY_REPEATS``, stopping as soon as the timed calls add up to ``TINY_BUDGET_MS``.
    """
    budget_ms = TINY_BUDGET_MS if n_repeats is None and mode.is_tiny() else math.inf
    n_repeats = default_repeats() if n_repeats is None else n_repeats
    if n_repeats < 1:
        raise ValueError("n_repeats must be >= 1 (or None for the mode's default)")
    run()  # warm-up: first-call allocations and kernel selection
    times: list[float] = []
    while len(times) < n_repeats and sum(times) < budget_ms:
        start = time.perf_counter()
        run()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


class _Threads:
    """Context manager: ``threads`` intra-op threads inside, the previous setting restored after."""

    def __init__(self, threads: int) -> None:
        self.threads, self.previous = threads, torch.get_num_threads()

    def __enter__(self) -> None:
        torch.set_num_threads(self.threads)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.previous)


def measure_latency(
    sizes: tuple[int, ...] = (16, 32, 64, 128, 256), batch_size: int = 1, n_repeats: int | None = None, threads: int = 1
) -> Latency:
    """Median forward latency of SmallCNN and RowGRU on square images of each size, same process.

    Both models run under ``torch.inference_mode`` with ``threads`` intra-op threads (restored
    afterwards), alternating CNN and GRU at each size so that machine noise hits both alike.
    """
    if min(sizes) < 4 or (n_repeats is not None and n_repeats < 1) or batch_size < 1 or threads < 1:
        raise ValueError("sizes must be >= 4 pixels; n_repeats, batch_size and threads >= 1")
    cnn_ms, gru_ms = [], []
    with _Threads(threads), torch.inference_mode():
        for size in sizes:
            images = torch.zeros(batch_size, 1, size, size)
            cnn, gru = SmallCNN().eval(), RowGRU(width=size).eval()
            cnn_ms.append(median_ms(lambda: cnn(images), n_repeats))
            gru_ms.append(median_ms(lambda: gru(images), n_repeats))
    return Latency(list(sizes), cnn_ms, gru_ms, batch_size, threads)


def plot_latency(*results: Latency):
    """Log-log plots of median latency vs image side, one panel per result; returns the Figure."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import LogFormatter

    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.6), squeeze=False)
    for ax, result in zip(axes[0], results):
        ax.loglog(result.sizes, result.cnn_ms, "o-", label="SmallCNN (fixed depth)")
        ax.loglog(result.sizes, result.gru_ms, "s-", label="RowGRU (H sequential steps)")
        ax.set_xticks(result.sizes, [str(s) for s in result.sizes])
        ax.minorticks_off()
        ax.yaxis.set_major_formatter(LogFormatter())  # "10", "100": the default "$10^{2}$" builds mathtext's parser
        ax.set_xlabel("image side H = W (pixels)")
        ax.set_ylabel("median forward latency (ms)")
        ax.set_title(f"batch {result.batch_size}, {result.threads} thread(s)")
        ax.legend()
    fig.tight_layout()
    return fig


@dataclass
class LayerTime:
    """One layer's median time: its name in the model, its input shape and its output's size."""

    name: str
    input_shape: tuple[int, ...]
    output_floats: int
    ms: float


def profile_layers(model: nn.Module, images: torch.Tensor, n_repeats: int | None = None, threads: int = 1) -> list[LayerTime]:
    """Median time of every leaf layer of ``model``, each run alone on the input it gets in a forward pass.

    images: (N, C, H, W). The inputs are recorded with forward hooks in one pass, then each layer is
    timed on the input it received (so a ReLU is timed over exactly the feature map the convolution made).
    Recurrent layers are refused (their input is a sequence, not timed here).
    """
    if any(isinstance(m, nn.RNNBase) for m in model.modules()):
        raise TypeError("profile_layers times feed-forward layers; time a recurrent model whole with median_ms")
    rows = []
    with _Threads(threads), torch.inference_mode():
        for name, layer, x, n_out in leaf_calls(model, images):
            rows.append(LayerTime(name, tuple(x.shape), n_out, median_ms(lambda: layer(x), n_repeats)))
    return rows


def batched_vs_one_by_one(layer: nn.Module, images: torch.Tensor, n_repeats: int | None = None,
                          threads: int = 1) -> tuple[float, float]:
    """Median ms of ``layer`` on the whole batch, and on its images one at a time (the same work).

    images: (N, C, H, W). Equal times mean the layer's cost is linear in the batch; a batched time
    far above the one-by-one time means the batch sent the layer down a slower code path.
    """
    with _Threads(threads), torch.inference_mode():
        whole = median_ms(lambda: layer(images), n_repeats)
        split = median_ms(lambda: [layer(image) for image in images.split(1)], n_repeats)
    return whole, split


def print_profile(rows: list[LayerTime]) -> None:
    """One line per layer: name, input shape, output size and median time, with its share of the total."""
    total = sum(r.ms for r in rows)
    for r in rows:
        print(f"{r.name:<12} input {str(r.input_shape):<20} output {r.output_floats:>10,d} floats "
              f"{r.ms:8.2f} ms ({r.ms / total:4.0%})")


def time_by_input_shape(layer: nn.Module, shapes: list[tuple[int, ...]], n_repeats: int | None = None,
                        threads: int = 1) -> list[LayerTime]:
    """Median time of ``layer`` on zero inputs of each shape (N, C, H, W); ``LayerTime.name`` is the shape.

    Dividing ``ms`` by ``output_floats`` gives the time per output value: constant if the layer's
    cost only grows with its output, jumping where the output's size sends it down another path.
    """
    rows = []
    with _Threads(threads), torch.inference_mode():
        for shape in shapes:
            x = torch.zeros(shape)
            ms = median_ms(lambda: layer(x), n_repeats)
            rows.append(LayerTime(str(tuple(shape)), tuple(shape), layer(x).numel(), ms))
    return rows


def multiply_adds(model: nn.Module, images: torch.Tensor) -> int:
    """Multiply-adds of one forward pass, per image, counted from the weights each layer really uses.

    images: (N, C, H, W). A convolution uses each of its weights once per output position, a linear
    layer once per input vector, a recurrent layer each of its weight matrices once per time step.
    Biases, activations and pooling are not counted.
    """
    total = 0
    for _, layer, x, n_out in leaf_calls(model, images):
        if isinstance(layer, nn.Conv2d):  # n_out = N * out_channels * output positions
            total += layer.weight.numel() * (n_out // layer.out_channels)
        elif isinstance(layer, nn.Linear):
            total += layer.weight.numel() * (x.numel() // layer.in_features)
        elif isinstance(layer, nn.RNNBase):
            weights = sum(p.numel() for name, p in layer.named_parameters() if name.startswith("weight"))
            total += weights * x.shape[0] * x.shape[1]  # batch * time steps (either layout)
    return total // images.shape[0]
