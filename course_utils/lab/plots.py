"""Figures of the lab: training curves and a confusion matrix (pyplot figures, shown inline in notebooks)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_history(history: dict[str, list]) -> "Figure":
    """Loss and accuracy per epoch, training vs validation, from ``fit``'s history."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), constrained_layout=True)
    epochs = history["epoch"]
    for ax, key, title in zip(axes, ("loss", "acc"), ("loss (BCE on logits)", "accuracy")):
        ax.plot(epochs, history[f"train_{key}"], "o-", label="train")
        ax.plot(epochs, history[f"valid_{key}"], "s--", label="validation")
        ax.set(xlabel="epoch", title=title, xticks=epochs)
        ax.grid(alpha=0.3)
        ax.legend()
    return fig


def confusion_matrix(probs: torch.Tensor, labels: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Counts (2, 2): rows = true class (neg, pos), columns = predicted class. probs, labels: (N,)."""
    truth = (labels > 0.5).long()
    predicted = (probs > threshold).long()
    return torch.bincount(truth * 2 + predicted, minlength=4).reshape(2, 2)


def plot_confusion(probs: torch.Tensor, labels: torch.Tensor, threshold: float = 0.5) -> "Figure":
    """The confusion matrix as an annotated image, with the accuracy in the title."""
    import matplotlib.pyplot as plt

    counts = confusion_matrix(probs, labels, threshold)
    fig, ax = plt.subplots(figsize=(4, 3.6), constrained_layout=True)
    ax.imshow(counts.numpy(), cmap="Blues")
    for (i, j), n in zip([(0, 0), (0, 1), (1, 0), (1, 1)], counts.flatten().tolist()):
        ax.text(j, i, f"{n}", ha="center", va="center",
                color="white" if n > counts.max().item() / 2 else "black", fontsize=12)
    names = ["neg", "pos"]
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=names, yticklabels=names,
           xlabel="predicted", ylabel="true",
           title=f"test accuracy {counts.trace().item() / counts.sum().item():.2%}")
    return fig
