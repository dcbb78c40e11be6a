"""One configuration for the BERT-GRU sentiment lab, with a full and a tiny preset."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course_utils import mode, variants

CACHE_ENV = "COURSE_UTILS_CACHE"
FEATURES = ("auto", "cache", "on-the-fly")  # how the lab gets BERT's features: see ``lab``'s docstring
MAX_BERT_LENGTH = 512  # BERT's position limit: tokens per review including [CLS] and [SEP]
DEFAULT_BERT = "bert-base-uncased"  # the original lab's encoder
TINY_BERT_NAME = "tiny-bert"  # the package's own small random BERT (see ``encoder``)


def default_cache_dir() -> Path:
    """Where downloads and generated data live: ``$COURSE_UTILS_CACHE`` or ``~/.cache/course_utils``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "course_utils")


@dataclass(frozen=True)
class LabConfig:
    """Every number of the lab in one place.

    The defaults are the original lab (full mode): ``bert-base-uncased``, a 70/30 split of the
    IMDB training reviews, a 2-layer bidirectional GRU with hidden size 256 and dropout 0.25,
    Adam, 2 epochs, batch 128. ``LabConfig.tiny()`` keeps the same code path at small sizes.
    ``LabConfig.for_mode()`` is the preset of the mode with this student's variant applied (its seed,
    training fraction and hidden size: ``course_utils.lab.variants``); the defaults are variant 0.

    bert_name: the encoder, in either mode: a model-hub name (``"bert-base-uncased"``), a local
    checkpoint folder (e.g. ``LabConfig().replace(bert_name="path/to/all-MiniLM-L6-v2")``; any
    BERT-family encoder that ``AutoModel`` loads), or ``"tiny-bert"``, the package's small random BERT.
    """

    tiny_mode: bool = False
    seed: int = 1234
    train_fraction: float = 0.7  # of the training reviews; the rest is the validation set
    max_length: int = MAX_BERT_LENGTH  # tokens per review including [CLS] and [SEP]
    batch_size: int = 128
    epochs: int = 2
    lr: float = 1e-3  # Adam's default learning rate
    hidden_dim: int = 256
    output_dim: int = 1
    n_layers: int = 2
    bidirectional: bool = True
    dropout: float = 0.25
    bert_name: str = DEFAULT_BERT
    n_synthetic: int = 0  # reviews per class of the synthetic training split (tiny mode only)
    n_synthetic_test: int = 0  # reviews per class of its test split (0: n_synthetic)
    feature_headroom: float = 0.5  # the cache may fill at most this fraction of available RAM or free disk
    synthetic_seed: int = 1234  # of tiny mode's synthetic review set: the same in every variant, like the archive

    @classmethod
    def tiny(cls) -> "LabConfig":
        """The tiny preset: seconds on one CPU core, same code path.

        2,500 synthetic training reviews per class (split 70/30 into train and valid), 600 test reviews
        per class, the tiny random BERT of ``model.TINY_BERT``, a GRU with hidden size 48, batches of 48
        and Adam at 1.5e-2: 146 optimizer steps in 2 epochs, enough to pass 90% test accuracy with the
        lab's seed, while fewer training reviews leave the model near chance after 2 epochs. The test
        split only measures, so it is smaller: 600 reviews of each class put the accuracy within about
        1 point. These are variant 0's numbers; ``for_mode`` applies the student's variant (hidden size 36, 48
        or 60, 20 to 30% of the training reviews to validate, and a seed with which the key's loops pass 90% too;
        ``course_utils.lab.variants``).
        """
        return cls(tiny_mode=True, batch_size=48, lr=1.5e-2, hidden_dim=48, bert_name=TINY_BERT_NAME,
                   n_synthetic=2500, n_synthetic_test=600)

    @classmethod
    def for_mode(cls, tiny: bool | None = None) -> "LabConfig":
        """The preset for ``tiny`` (default: ``course_utils.mode.is_tiny()``, i.e. ``COURSE_TINY``) in this
        process's variant of the lab (``course_utils.variants.params("lab")``, read now): its ``seed``,
        ``train_fraction`` and GRU ``hidden_dim`` (``tiny_hidden_dim`` in tiny mode). Variant 0 is the preset
        itself."""
        tiny = mode.is_tiny() if tiny is None else tiny
        preset = cls.tiny() if tiny else cls()
        numbers = variants.params("lab")
        changes = {"seed": numbers.get("seed"), "train_fraction": numbers.get("train_fraction"),
                   "hidden_dim": numbers.get("tiny_hidden_dim" if tiny else "hidden_dim")}
        return preset.replace(**{name: value for name, value in changes.items() if value is not None})

    @property
    def builtin_bert(self) -> bool:
        """True when the encoder is the package's tiny random BERT (its weights and vocabulary go into
        checkpoints); False for a pre-trained one (checkpoints store its name and rebuild it)."""
        return self.bert_name == TINY_BERT_NAME

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (numbers, strings, bools) for checkpoints."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "LabConfig":
        """Inverse of ``to_dict``; unknown keys are an error naming them."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown LabConfig fields {unknown}: was this checkpoint written by another version?")
        return cls(**values)

    def replace(self, **changes: Any) -> "LabConfig":
        """A copy with some fields changed (e.g. ``epochs`` from the command line)."""
        return dataclasses.replace(self, **changes)
