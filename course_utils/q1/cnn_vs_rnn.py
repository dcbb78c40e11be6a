"""Q1 demos: a small CNN and a row-by-row GRU classifying the same synthetic images.

The GRU reads an image of shape (1, H, W) as a sequence of H rows, each a vector of W pixels.
Each function below backs one claim of the Q1 answer:

- ``make_images``, ``plot_examples``: the shared task (seeded, balanced, no downloads);
- ``SmallCNN`` / ``RowGRU``, ``train_classifier``, ``accuracy``: both models solve it;
- ``parameter_counts``, ``sequential_steps``: cost and parallelism (timings: ``course_utils.q1.latency``);
- ``RowGRU.stream``, ``forward_or_error``, ``peak_activation`` (``leaf_calls``): variable-height, streaming input;
- ``accuracy_after_each_row``, ``plot_accuracy_by_rows``: a prediction from a partial image.

The receptive field, streaming CNN and translation-equivariance demos are in ``course_utils.q1.convolution``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.adam import adam as adam_update  # torch.optim.Adam's functional form (see _adam_update)


CLASS_NAMES = ("horizontal bar", "vertical bar", "box", "diagonal")
N_CLASSES = len(CLASS_NAMES)
MIN_SIDE = 6  # the smallest image that fits every shape


def _draw(canvas: torch.Tensor, label: int, gen: torch.Generator) -> None:
    """Draw one shape of class ``label`` in place. canvas: (H, W)."""
    height, width = canvas.shape

    def randint(low: int, high: int) -> int:  # inclusive bounds
        return int(torch.randint(low, high + 1, (1,), generator=gen))

    length = randint(4, min(height, width) - 2)
    top, left = randint(0, height - length), randint(0, width - length)
    if label == 0:
        canvas[top, left : left + length] = 1.0
    elif label == 1:
        canvas[top : top + length, left] = 1.0
    elif label == 2:
        canvas[top : top + length, left : left + length] = 1.0
        canvas[top + 1 : top + length - 1, left + 1 : left + length - 1] = 0.0
    else:
        steps = torch.arange(length)
        canvas[top + steps, left + steps] = 1.0


def make_images(
    n: int, height: int = 16, width: int = 16, seed: int = 0, noise: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded, balanced images of one shape each (see ``CLASS_NAMES``) plus Gaussian noise.

    n: number of images; height, width: pixels (at least ``MIN_SIDE``); noise: pixel std.
    Returns images: (n, 1, height, width) float32 and labels: (n,) int64 in [0, N_CLASSES);
    each class appears n // N_CLASSES or that plus one times. Uses its own generator, so the
    global random state is neither read nor changed.
    """
    if n < 1:
        raise ValueError(f"n={n}: ask for at least one image")
    if min(height, width) < MIN_SIDE:
        raise ValueError(f"height={height}, width={width}: both must be at least {MIN_SIDE} pixels")
    gen = torch.Generator().manual_seed(seed)
    labels = (torch.arange(n) % N_CLASSES)[torch.randperm(n, generator=gen)]
    images = torch.zeros(n, 1, height, width)
    for canvas, label in zip(images[:, 0], labels.tolist()):
        _draw(canvas, label, gen)
    images += noise * torch.randn(images.shape, generator=gen)
    return images, labels


def plot_examples(images: torch.Tensor, labels: torch.Tensor, per_class: int = 4, gap: int = 2):
    """The first ``per_class`` images of each class, one row per class, as one mosaic; returns the Figure.

    images: (N, 1, H, W), labels: (N,). The images are tiled into one picture, ``gap`` white pixels
    apart (one Axes: 16 Axes of their own took 0.3-0.5 s to build and lay out, on every run of Q1).
    """
    import matplotlib.pyplot as plt

    height, width = images.shape[-2:]
    step_y, step_x = height + gap, width + gap
    canvas = torch.full((N_CLASSES * step_y - gap, per_class * step_x - gap), float("nan"))  # NaN: white
    for label in range(N_CLASSES):
        for col, image in enumerate(images[labels == label][:per_class, 0]):
            canvas[label * step_y : label * step_y + height, col * step_x : col * step_x + width] = image
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * per_class, 0.2 + 1.1 * N_CLASSES))
    ax.imshow(canvas.numpy(), cmap=plt.get_cmap("gray_r").with_extremes(bad="white"))
    ax.set_xticks([])
    ax.set_yticks([label * step_y + (height - 1) / 2 for label in range(N_CLASSES)], CLASS_NAMES)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.subplots_adjust(left=1.2 / (1.2 + 1.1 * per_class), right=0.99, top=0.99, bottom=0.01)
    return fig


class SmallCNN(nn.Module):
    """Two 3x3 conv + ReLU + 2x2 max-pool blocks, then a linear head.

    Its work per pixel does not depend on the image size (``latency.multiply_adds`` counts it).

    head="pool": global max pooling, so any image size of at least 4x4 works;
    head="flatten": flatten the feature map, which fixes the input to ``image_size`` = (H, W).
    """

    def __init__(
        self,
        n_classes: int = N_CLASSES,
        channels: tuple[int, int] = (4, 8),
        kernel_size: int = 3,
        head: str = "pool",
        image_size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        c1, c2 = channels
        pad = kernel_size // 2
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, kernel_size, padding=pad), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, kernel_size, padding=pad), nn.ReLU(), nn.MaxPool2d(2),
        )  # fmt: skip
        if head == "pool":
            self.head = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c2, n_classes))
        elif head == "flatten":
            if image_size is None:
                raise ValueError('head="flatten" needs image_size=(height, width) to size its linear layer')
            h, w = image_size
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(c2 * (h // 4) * (w // 4), n_classes))
        else:
            raise ValueError(f'head={head!r}: use "pool" (any size) or "flatten" (fixed size)')

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: (N, 1, H, W) -> logits: (N, n_classes)."""
        return self.head(self.features(images))


class RowGRU(nn.Module):
    """A one-layer GRU that reads an image row by row (input size W), then a linear head."""

    def __init__(self, width: int = 16, hidden_dim: int = 32, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        self.width, self.hidden_dim = width, hidden_dim
        self.rnn = nn.GRU(width, hidden_dim, batch_first=True)
        self.head = nn.Linear(hidden_dim, n_classes)

    def _rows(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] != 1 or images.shape[3] != self.width:
            raise ValueError(
                f"expected images of shape (N, 1, H, {self.width}), got {tuple(images.shape)}: "
                f"the row width is the GRU's input size; build RowGRU(width={images.shape[-1]}) for this width"
            )
        return images[:, 0]  # (N, H, W): H time steps of W features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: (N, 1, H, W), any H >= 1 -> logits: (N, n_classes) from the last hidden state."""
        _, last = self.rnn(self._rows(images))  # last: (1, N, hidden_dim)
        return self.head(last[0])

    def step(self, row: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """One GRU update with the module's own weights. row: (N, W), state: (N, hidden) -> (N, hidden)."""
        rnn = self.rnn
        i_r, i_z, i_n = F.linear(row, rnn.weight_ih_l0, rnn.bias_ih_l0).chunk(3, dim=-1)
        h_r, h_z, h_n = F.linear(state, rnn.weight_hh_l0, rnn.bias_hh_l0).chunk(3, dim=-1)
        reset, update = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
        candidate = torch.tanh(i_n + reset * h_n)
        return (1 - update) * candidate + update * state

    def stream(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Read rows one at a time, keeping only the state; a prediction after every row.

        images: (N, 1, H, W) -> (logits after each row: (N, H, n_classes), final state: (N, hidden)).
        """
        rows = self._rows(images)
        state = rows.new_zeros(rows.shape[0], self.hidden_dim)
        logits = []
        for t in range(rows.shape[1]):
            state = self.step(rows[:, t], state)
            logits.append(self.head(state))
        return torch.stack(logits, dim=1), state


_CNN_STAGES = (nn.Conv2d, nn.MaxPool2d, nn.AdaptiveMaxPool2d, nn.Linear)


def sequential_steps(model: nn.Module, height: int) -> int:
    """Layer applications that must run one after another to classify one image of ``height`` rows.

    Elementwise activations and reshapes are folded into the stage before them. SmallCNN: its
    conv, pooling and linear stages, the same for every height (each is parallel over pixels).
    RowGRU: ``height`` recurrent steps (step t needs the state of step t - 1) plus the head.
    """
    if isinstance(model, RowGRU):
        return model.rnn.num_layers * height + 1
    if isinstance(model, SmallCNN):
        return sum(isinstance(m, _CNN_STAGES) for m in model.modules())
    raise TypeError(f"sequential_steps knows SmallCNN and RowGRU, not {type(model).__name__}")


def forward_or_error(model: nn.Module, images: torch.Tensor) -> str:
    """Run ``model`` on images: (N, 1, H, W); describe the logits' shape, or the error's type."""
    try:
        with torch.inference_mode():
            return f"logits {tuple(model(images).shape)}"
    except (RuntimeError, ValueError) as err:
        return f"fails with {type(err).__name__}"


def leaf_calls(model: nn.Module, images: torch.Tensor) -> list[tuple[str, nn.Module, torch.Tensor, int]]:
    """Run ``model`` once on images: (N, C, H, W) under inference mode and record, with forward hooks,
    every leaf layer's call: (name, layer, its input tensor, its output's number of floats; a recurrent
    layer's outputs, not its state)."""
    calls: list[tuple[str, nn.Module, torch.Tensor, int]] = []
    def record(name: str, layer: nn.Module, inputs: tuple, out: object) -> None:
        first = out[0] if isinstance(out, tuple) else out  # a recurrent layer returns (outputs, state)
        calls.append((name, layer, inputs[0], first.numel()))

    hooks = [m.register_forward_hook(lambda m, inp, out, name=name: record(name, m, inp, out))
             for name, m in model.named_modules() if not list(m.children())]
    try:
        with torch.inference_mode():
            model(images)
    finally:
        for hook in hooks:
            hook.remove()
    return calls


def peak_activation(model: nn.Module, images: torch.Tensor) -> int:
    """Largest output of any layer of ``model``, in floats per image, measured with forward hooks.

    images: (N, 1, H, W). For SmallCNN this is the first conv's (channels, H, W) feature map.
    Recurrent models are refused: what a streaming RNN holds is its state, (N, hidden_dim).
    """
    if any(isinstance(m, nn.RNNBase) for m in model.modules()):
        raise TypeError("peak_activation measures feed-forward models; a streaming RNN holds (N, hidden_dim)")
    return max(n_out for *_, n_out in leaf_calls(model, images)) // images.shape[0]


def accuracy_after_each_row(model: RowGRU, images: torch.Tensor, labels: torch.Tensor) -> list[float]:
    """Accuracy of the streamed prediction after reading rows 1..H. images: (N, 1, H, W), labels: (N,)."""
    with torch.inference_mode():
        per_row, _ = model.stream(images)  # (N, H, n_classes)
    return [accuracy(per_row[:, t], labels) for t in range(per_row.shape[1])]


class _AdamMoments:
    """``torch.optim.Adam``'s per-parameter state (step count, first and second moments) for ``params``."""

    def __init__(self, params: list[torch.Tensor]) -> None:
        self.exp_avgs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
        self.exp_avg_sqs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
        self.state_steps = [torch.tensor(0.0) for _ in params]  # as Adam keeps them (not capturable)


@torch.no_grad()
def _adam_update(params: list[torch.Tensor], grads: tuple, moments: _AdamMoments, lr: float) -> None:
    """One Adam update (defaults: betas (0.9, 0.999), eps 1e-8, no weight decay) of the parameters whose
    gradient is not None, by ``torch.optim.adam.adam``, the functional form that ``torch.optim.Adam.step``
    itself calls, so the parameters come out bit for bit as ``torch.optim.Adam`` leaves them
    (``tests/test_cnn_vs_rnn.py``). Why not ``torch.optim.Adam`` itself: constructing any
    ``torch.optim.Optimizer`` imports ``torch._dynamo`` (about 1.4 s on a 2-core machine, half as long as
    this notebook's whole training demo); nothing else in Q1 needs it.
    """
    have = [i for i, g in enumerate(grads) if g is not None]
    adam_update(
        [params[i] for i in have], [grads[i] for i in have],
        [moments.exp_avgs[i] for i in have], [moments.exp_avg_sqs[i] for i in have], [],
        [moments.state_steps[i] for i in have], foreach=None, capturable=False, differentiable=False,
        fused=None, grad_scale=None, found_inf=None, has_complex=any(torch.is_complex(params[i]) for i in have),
        amsgrad=False, beta1=0.9, beta2=0.999, lr=lr, weight_decay=0.0, eps=1e-8, maximize=False,
    )


def train_classifier(
    model: SmallCNN | RowGRU, images: torch.Tensor, labels: torch.Tensor,
    epochs: int = 8, batch_size: int = 64, lr: float = 1e-2,
) -> list[float]:  # fmt: skip
    """Train one of Q1's two models (``SmallCNN`` or ``RowGRU``) on Q1's images with Adam and cross-entropy;
    shuffles with the global RNG (seed it with ``mode.set_seed``).

    images: (N, 1, H, W), labels: (N,) -> mean training loss of each epoch, in nats. The gradients come from
    ``torch.autograd.grad`` and go straight into Adam's functional update (``_adam_update``): a demo of
    Q1's models, not a training loop to reuse (the lab's ``train_epoch`` is yours to write).
    """
    if not isinstance(model, (SmallCNN, RowGRU)):
        raise TypeError(f"train_classifier trains Q1's SmallCNN and RowGRU only, not {type(model).__name__}")
    params = [p for p in model.parameters() if p.requires_grad]
    moments = _AdamMoments(params)
    model.train()
    losses = []
    for _ in range(epochs):
        total = 0.0
        for idx in torch.randperm(len(labels)).split(batch_size):
            loss = F.cross_entropy(model(images[idx]), labels[idx])
            _adam_update(params, torch.autograd.grad(loss, params, allow_unused=True), moments, lr)
            total += loss.item() * len(idx)
        losses.append(total / len(labels))
    model.eval()
    return losses


def parameter_counts(width: int, channels: tuple[int, int] = (4, 8), kernel_size: int = 3,
                     hidden: int = 32) -> tuple[int, int]:
    """PyTorch's own parameter counts of Q1's two models for images ``width`` pixels wide:
    (``SmallCNN(channels=channels, kernel_size=kernel_size)``, ``RowGRU(width=width, hidden_dim=hidden)``), heads
    included, read from their flattened parameters. The defaults are the models the notebook trains; the
    parameter table passes the sizes of the student's variant (``course_utils/q1/variants.py``)."""
    from torch.nn.utils import parameters_to_vector

    models = (SmallCNN(channels=tuple(channels), kernel_size=kernel_size), RowGRU(width=width, hidden_dim=hidden))
    return tuple(parameters_to_vector(m.parameters()).numel() for m in models)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction in [0, 1] of correct argmax predictions. logits: (N, C), labels: (N,)."""
    return (logits.argmax(dim=-1) == labels).float().mean().item()


def plot_accuracy_by_rows(accuracies: list[float]):
    """Accuracy (0..1) against the number of rows read so far; returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    rows = range(1, len(accuracies) + 1)
    ax.plot(rows, accuracies, "o-", label="RowGRU, prediction after each row")
    ax.axhline(1 / N_CLASSES, color="gray", linestyle=":", label="chance")
    ax.set_xlabel("rows read so far")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig
