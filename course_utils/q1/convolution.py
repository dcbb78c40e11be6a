"""What one convolution sees and what it preserves (Q1 demos).

- ``rows_seen``, ``layers_to_reach``: the receptive field of one conv layer vs one GRU layer, and
  how many layers a stack needs (from a rows-per-stack function the caller gives);
- ``shift``, ``shift_error``, ``rotation_error``, ``logit_change_under_shift``: what a shift or a
  rotation of the input does to a layer's output and to a whole model's logits;
- ``stream_cnn``, ``feature_rows_seen``: a CNN computed while the rows arrive.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn


def rows_seen(model: str, height: int, width: int = 8, kernel_size: int = 3) -> int:
    """Input rows that influence one output of a single layer, found from the gradient.

    model="conv": the centre pixel of one Conv2d(1, 1, kernel_size) layer's output;
    model="gru": the last hidden state of one GRU layer reading the rows. Returns a count in [1, height].
    """
    x = torch.randn(1, 1, height, width, dtype=torch.float64, requires_grad=True)
    if model == "conv":
        conv = nn.Conv2d(1, 1, kernel_size, padding=kernel_size // 2).double()
        conv(x)[0, 0, height // 2, width // 2].backward()
    elif model == "gru":
        _, last = nn.GRU(width, 4, batch_first=True).double()(x[:, 0])
        last.sum().backward()
    else:
        raise ValueError(f'model={model!r}: use "conv" or "gru"')
    return int((x.grad[0, 0].abs().sum(dim=1) > 0).sum())


def layers_to_reach(rows_of_stack: Callable[[int, int], int], height: int, kernel_size: int = 3,
                    most: int = 10_000) -> int:
    """The fewest stacked layers for which ``rows_of_stack(n_layers, kernel_size)`` reaches ``height`` rows.

    rows_of_stack: a function (n_layers, k) -> rows one output depends on (the notebook passes the
    student's own); it is called for 1, 2, ... layers. ValueError if ``most`` layers do not reach ``height``.
    """
    for n_layers in range(1, most + 1):
        if rows_of_stack(n_layers, kernel_size) >= height:
            return n_layers
    raise ValueError(f"{most} layers of your stack do not reach {height} rows: check its growth")


def shift(x: torch.Tensor, k: int, dim: int = -1) -> torch.Tensor:
    """Translate ``x`` by ``k`` positions along ``dim`` (positive: towards higher index), filling with zeros."""
    out = torch.zeros_like(x)
    n = x.shape[dim]
    if abs(k) < n:
        src = x.narrow(dim, max(0, -k), n - abs(k))
        out.narrow(dim, max(0, k), n - abs(k)).copy_(src)
    return out


def _interior(x: torch.Tensor, margin: int) -> torch.Tensor:
    return x[..., margin : x.shape[-2] - margin, margin : x.shape[-1] - margin]


def shift_error(layer: nn.Module, x: torch.Tensor, k: int, stride: int = 1, margin: int | None = None) -> float:
    """max |shift(layer(x), k / stride) - layer(shift(x, k))| over the interior, shifting along width.

    x: (N, C, H, W); stride: the layer's total downsampling (2 after one 2x2 pooling). When k is not
    a multiple of stride, no output shift matches exactly: the smaller error of the two nearest
    whole output shifts is returned. margin: output pixels dropped at each border before comparing
    (default |k| // stride + 2; 0 compares everything, borders included).
    """
    margin = abs(k) // stride + 2 if margin is None else margin
    with torch.no_grad():
        y, y_of_shifted = layer(x), layer(shift(x, k))
    if min(y.shape[-2:]) <= 2 * margin:
        raise ValueError(f"a {tuple(y.shape[-2:])} output has no interior beyond margin={margin}: use larger images")
    candidates = {math.floor(k / stride), math.ceil(k / stride)}
    return min(_interior(shift(y, s) - y_of_shifted, margin).abs().max().item() for s in candidates)


def logit_change_under_shift(model: nn.Module, images: torch.Tensor, shifts: tuple[int, ...],
                             margin: int = 8) -> list[float]:
    """max |model(T_k x) - model(x)| over all logits, for each shift ``k`` in ``shifts`` (pixels, along the width).

    images: (N, 1, H, W). Each image is first placed in a zero canvas with ``margin`` empty columns
    on its left and ``max(shifts) + margin`` on its right, so that no shift pushes content out of
    the canvas or near its border (``margin``: at least the features' receptive field, a multiple of
    the model's total stride): what remains is the model's own response to the shift.
    """
    if min(shifts) < 0:
        raise ValueError("shifts are counted to the right, from 0")
    canvas = F.pad(images, (margin, max(shifts) + margin))
    with torch.no_grad():
        reference = model(canvas)
        return [(model(shift(canvas, k)) - reference).abs().max().item() for k in shifts]


def rotation_error(conv: nn.Conv2d, x: torch.Tensor, rotate_kernel: bool = False) -> float:
    """Relative error ||rot90(conv(x)) - conv'(rot90(x))|| / ||conv(x)||, bias removed.

    conv' is ``conv`` itself, or with its kernel rotated by 90 degrees too if ``rotate_kernel``.
    x: (N, C, H, W) with H == W. A large value means convolution is not rotation-equivariant.
    """
    weight = conv.weight.detach()
    pad = conv.padding
    with torch.no_grad():
        y = F.conv2d(x, weight, padding=pad)
        rotated_weight = torch.rot90(weight, 1, dims=(-2, -1)) if rotate_kernel else weight
        y_rot = F.conv2d(torch.rot90(x, 1, dims=(-2, -1)), rotated_weight, padding=pad)
        return ((torch.rot90(y, 1, dims=(-2, -1)) - y_rot).norm() / y.norm()).item()


def _feature_row_span(cnn: nn.Module) -> tuple[int, int, int]:
    """(stride, rows above, rows below) of SmallCNN's feature rows: row j reads input rows
    stride*j - above .. stride*j + stride - 1 + below (two k x k convs with 2x2 pools between)."""
    convs = [m for m in cnn.features if isinstance(m, nn.Conv2d)]
    pools = [m for m in cnn.features if isinstance(m, nn.MaxPool2d)]
    if len(convs) != 2 or len(pools) != 2 or not isinstance(cnn.head[0], nn.AdaptiveMaxPool2d):
        raise TypeError("stream_cnn streams SmallCNN with its global-pooling head (head='pool')")
    pad = convs[0].padding[0]  # both convs: k x k with padding k // 2
    return 4, 3 * pad, 3 * pad  # conv1 adds pad rows each side; conv2, after one 2x2 pool, 2 * pad


def stream_cnn(cnn: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, int]:
    """SmallCNN's logits computed while the rows arrive, keeping a buffer of rows and a running max.

    images: (N, 1, H, W), H >= 4. Each feature row of the CNN (after both pools) depends on a band
    of input rows (its receptive field); as soon as a band has arrived, the
    feature row is computed from the buffer and folded into a running max over positions, which is
    exactly what the global max-pooling head takes. The whole image is never held. The buffer is
    the band rounded up so that the pooling windows line up with the whole-image pass.
    Returns (logits (N, n_classes), the buffer's depth in rows).
    """
    stride, above, below = _feature_row_span(cnn)
    lead = stride * -(-above // stride)  # rows kept above a feature row's band, a multiple of the stride
    depth = lead + stride + below  # the buffer: the band, aligned so that the pooling windows match
    rows = images[:, 0]
    height = rows.shape[1]
    if height < 4:
        raise ValueError(f"an image of {height} rows has no feature row: SmallCNN needs at least 4")
    buffer: list[torch.Tensor] = []  # the last `depth` rows read, rows first .. t
    running = None  # (N, channels): max over the feature rows computed so far
    j, n_feature_rows = 0, height // stride
    with torch.no_grad():
        for t in range(height):
            buffer = (buffer + [rows[:, t]])[-depth:]
            first = t + 1 - len(buffer)  # index of buffer[0] in the image
            while j < n_feature_rows and (t >= stride * j + stride - 1 + below or t == height - 1):
                start, stop = max(0, stride * j - lead), min(height, stride * j + stride + below)
                window = torch.stack(buffer[start - first : stop - first], dim=1)[:, None]  # (N, 1, rows, W)
                feature_row = cnn.features(window)[:, :, j - start // stride]  # (N, channels, W')
                row_max = feature_row.amax(dim=-1)
                running = row_max if running is None else torch.maximum(running, row_max)
                j += 1
        return cnn.head[-1](running), depth


def feature_rows_seen(cnn: nn.Module, height: int, width: int = 16) -> int:
    """Input rows that influence one feature row in the middle of SmallCNN's map (by the gradient)."""
    x = torch.randn(1, 1, height, width, requires_grad=True)
    features = cnn.features(x)
    features[:, :, features.shape[2] // 2].sum().backward()
    return int((x.grad[0, 0].abs().sum(dim=1) > 0).sum())
