"""The lab's workflow in a few calls: data, model, training, test, reload.

Each function does one step of the original lab, so that a notebook cell or the
``course-utils lab`` command is a single call.

Features (``FEATURES``): BERT is frozen and in eval mode, so its output for a review is the same in
every epoch. "cache" runs BERT once per review (``features.extract_features``) and trains and
evaluates the GRU head on the stored features; "on-the-fly" runs BERT inside the model in every
epoch, as the original lab did; "auto" (the default) caches when the features fit (GPU, RAM or
disk, see ``features.choose_storage``) and runs on the fly otherwise. Both give the same model up
to the half-precision rounding of the stored features. The cache lives in memory (or a temporary
file) for one call: a run resumed after an interruption extracts the features again (one more
BERT pass per review).
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import torch
from torch import nn
from torch.utils.data import DataLoader
from transformers import PreTrainedTokenizerBase

from course_utils.mode import deterministic_cudnn, set_seed
from course_utils.lab.batching import EncodedReviews, bucket_loader
from course_utils.lab.checkpoint import CheckpointError, epochs_left, load_checkpoint, load_model_state
from course_utils.lab.config import FEATURES, LabConfig, default_cache_dir
from course_utils.lab.data import ReviewSet, fetch_imdb, load_split, split_train_valid, synthetic_imdb
from course_utils.lab.features import (DEFAULT_HEADROOM, CachedFeatures, FeatureBatches, extract_features,
                                             release_features)
from course_utils.lab.model import BERTGRUSentiment, build_model, load_bert
from course_utils.lab.text import encode, load_tokenizer, tokenizer_from_vocabulary, vocabulary_of
from course_utils.lab.train import BEST_NAME, fit, trained_by


@dataclass
class LabData:
    """The three review sets, the tokenizer, and a bucketed loader of ``TokenBatch`` for each set."""

    tokenizer: PreTrainedTokenizerBase
    train: ReviewSet
    valid: ReviewSet
    test: ReviewSet
    train_batches: DataLoader
    valid_batches: DataLoader
    test_batches: DataLoader


def device() -> torch.device:
    """CUDA if available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def start(config: LabConfig) -> torch.device:
    """Seed Python, NumPy and torch with ``config.seed``; returns the device. Nothing else changes."""
    set_seed(config.seed)
    return device()


@contextlib.contextmanager
def compute_settings(config: LabConfig) -> Iterator[None]:
    """For the lab's heavy steps: deterministic cuDNN and, for the tiny lab on a CPU, one torch thread
    (a tiny model gains nothing from more and loses a lot on a shared machine). Both are restored after."""
    threads = torch.get_num_threads()
    try:
        with deterministic_cudnn():
            if config.tiny_mode and device().type == "cpu":
                torch.set_num_threads(1)
            yield
    finally:
        torch.set_num_threads(threads)


DRIVE = Path("/content/drive/MyDrive")  # where Colab mounts Google Drive (drive.mount("/content/drive"))


def default_out_dir(config: LabConfig, drive: Path = DRIVE) -> Path:
    """Where the notebook keeps checkpoints, so that a rerun after a disconnect resumes there.

    Full mode: ``<drive>/course_utils/lab`` when Google Drive is mounted (it survives a recycled
    Colab runtime), else ``runs/lab`` (lost with the runtime). Tiny mode: a fresh temporary folder
    (every run trains from scratch).
    """
    if config.tiny_mode:
        return Path(tempfile.mkdtemp(prefix="course-utils-lab-"))
    if drive.is_dir():
        return drive / "course_utils" / "lab"
    return Path("runs/lab")


def locate_data(config: LabConfig, data_dir: Path | None = None, cache_dir: Path | None = None,
                progress: bool = True) -> Path:
    """The ``aclImdb`` folder: ``data_dir`` if given, else the synthetic set (tiny) or the downloaded archive."""
    if data_dir is not None:
        return Path(data_dir)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if config.tiny_mode:
        return synthetic_imdb(cache, config.n_synthetic, config.synthetic_seed, config.n_synthetic_test or None)
    return fetch_imdb(cache, progress=progress)


def prepare_data(config: LabConfig, data_dir: Path | None = None, cache_dir: Path | None = None,
                 progress: bool = True) -> LabData:
    """Load, split (seeded), tokenize and batch the reviews as ``config`` says."""
    root = locate_data(config, data_dir, cache_dir, progress)
    tokenizer = load_tokenizer(config.tiny_mode, config.bert_name)
    train_full, test = load_split(root, "train"), load_split(root, "test")
    train, valid = split_train_valid(train_full, config.train_fraction, config.seed)

    def loader(reviews: ReviewSet, shuffle: bool) -> DataLoader:
        ids = encode(tokenizer, reviews.texts, config.max_length)
        return bucket_loader(EncodedReviews(ids, reviews.labels), config.batch_size, shuffle,
                             seed=config.seed, pad_id=tokenizer.pad_token_id)

    return LabData(tokenizer, train, valid, test, loader(train, True), loader(valid, False), loader(test, False))


def build_lab_model(config: LabConfig, tokenizer: PreTrainedTokenizerBase) -> BERTGRUSentiment:
    """BERT (tiny or pre-trained) under the configured GRU head, on ``device()`` (to reload a checkpoint)."""
    bert = load_bert(config.tiny_mode, vocab_size=len(tokenizer), seed=config.seed, name=config.bert_name)
    model = build_model(bert, hidden_dim=config.hidden_dim, output_dim=config.output_dim, n_layers=config.n_layers,
                        bidirectional=config.bidirectional, dropout=config.dropout, seed=config.seed)
    return model.to(device())


def run_meta(config: LabConfig, tokenizer: PreTrainedTokenizerBase) -> dict[str, Any]:
    """What a checkpoint stores to rebuild the model: the config (less ``epochs``, so a run can be
    extended) and, in tiny mode, the tokenizer's vocabulary."""
    values = {k: v for k, v in config.to_dict().items() if k != "epochs"}
    return {"config": values, "vocabulary": vocabulary_of(tokenizer) if config.builtin_bert else None}


def lab_batches(model: BERTGRUSentiment, loader: DataLoader, features: str = "auto", name: str = "",
                progress: bool = True, log: Callable[[str], None] = print,
                dtype: torch.dtype = torch.float16, headroom: float = DEFAULT_HEADROOM) -> Iterable:
    """The batches of one split as ``features`` says: ``loader`` itself (token batches, BERT in every
    pass) or ``FeatureBatches`` over features extracted now, one BERT pass per review.

    loader: a ``prepare_data`` loader (its reviews, batch size, shuffle and seed are kept); features:
    one of ``FEATURES``; name: the split, printed before the storage line (e.g. "train features: ...");
    dtype: of the stored features (half precision halves the memory; float32 reproduces "on-the-fly");
    headroom: the fraction of available RAM or free disk the cache may fill (``LabConfig.feature_headroom``;
    on the GPU it leaves ``features.GPU_RESERVE`` free).
    """
    if features not in FEATURES:
        raise ValueError(f"features={features!r}: choose one of {', '.join(FEATURES)}")
    if features == "on-the-fly":
        return loader
    reviews, sampler = loader.dataset, loader.batch_sampler
    source = extract_features(model, reviews.ids, batch_size=sampler.batch_size,
                              device=next(model.parameters()).device, dtype=dtype, pad_id=loader.collate_fn.pad_id,
                              allow_none=features != "cache", headroom=headroom,
                              log=lambda line: log(f"{name} {line}".strip()),
                              progress=progress)
    if not isinstance(source, CachedFeatures):
        return loader  # "auto" found no room: BERT runs inside the model, as "on-the-fly"
    return FeatureBatches(source, reviews.labels, sampler.batch_size, shuffle=sampler.shuffle, seed=sampler.seed)


def train_lab(model: nn.Module, data: LabData, config: LabConfig, out_dir: Path, train_fn: Callable,
              evaluate_fn: Callable, progress: bool = True, log: Callable[[str], None] = print,
              features: str = "auto") -> dict[str, list]:
    """Adam + ``BCEWithLogitsLoss`` for ``config.epochs`` with the given loops; best and resume checkpoints in ``out_dir``.

    train_fn, evaluate_fn: the loops, as in ``train.fit`` (the lab notebook passes the student's own).
    features: "auto" | "cache" | "on-the-fly" (see the module's docstring) for the training and
    validation sets; the storage chosen for each is logged; none is extracted when ``out_dir``'s
    ``resume.pt`` already has every epoch by these loops, and both are released on return or on any
    error, so that a rerun finds the memory free. The optimizer takes the parameters that require
    gradients, so what is frozen is the model's own business.
    """
    with compute_settings(config):
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.lr)
        meta = run_meta(config, data.tokenizer)
        train = valid = ()  # a finished run (resume.pt has every epoch): no features to extract
        try:
            if epochs_left(out_dir, meta, model, optimizer, config.epochs, trained_by(model, train_fn, evaluate_fn)):
                train = lab_batches(model, data.train_batches, features, "train", progress, log,
                                    headroom=config.feature_headroom)
                valid = lab_batches(model, data.valid_batches, features, "valid", progress, log,
                                    headroom=config.feature_headroom)
            return fit(model, train, valid, config.epochs, train_fn, evaluate_fn, optimizer=optimizer,
                       out_dir=out_dir, meta=meta, save_bert=config.builtin_bert, progress=progress, log=log)
        finally:
            release_features(train, valid)  # even if a traceback keeps this frame: GPU memory for the next run


def load_lab_model(path: Path) -> tuple[BERTGRUSentiment, PreTrainedTokenizerBase, LabConfig]:
    """Rebuild (model, tokenizer, config) from a ``best.pt`` written by ``train_lab``; model in eval mode."""
    state = load_checkpoint(path)
    try:
        meta = state["meta"]
        config = LabConfig.from_dict(meta["config"])
        tokenizer = (tokenizer_from_vocabulary(meta["vocabulary"]) if config.builtin_bert
                     else load_tokenizer(config.tiny_mode, config.bert_name))
        model = build_lab_model(config, tokenizer)
        load_model_state(model, state["model_state"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"checkpoint {path} does not hold a lab model: {err}") from err
    return model.eval(), tokenizer, config


def load_best(out_dir: Path, model: nn.Module | None = None) -> nn.Module:
    """The best model that ``train_lab`` saved in ``out_dir`` (``best.pt``), in eval mode: its weights loaded
    into ``model`` (the one that was trained) if given, else into a model rebuilt from the checkpoint."""
    if model is None:
        return load_lab_model(Path(out_dir) / BEST_NAME)[0]
    state = load_checkpoint(Path(out_dir) / BEST_NAME)
    try:
        load_model_state(model, state["model_state"])
    except (KeyError, RuntimeError) as err:
        raise CheckpointError(f"{Path(out_dir) / BEST_NAME} does not hold this model's weights: {err}") from err
    return model.eval()


def evaluate_best(out_dir: Path, data: LabData, evaluate_fn: Callable, progress: bool = True,
                  features: str = "auto", log: Callable[[str], None] = print) -> tuple[nn.Module, float, float]:
    """Reload the best checkpoint from ``out_dir``; (model, test loss, test accuracy in [0, 1]) by ``evaluate_fn``.

    features: as in ``train_lab``, for the test set (one BERT pass per review either way).
    """
    model, _, config = load_lab_model(Path(out_dir) / BEST_NAME)
    with compute_settings(config):
        test = lab_batches(model, data.test_batches, features, "test", progress, log,
                           headroom=config.feature_headroom)
        loss, acc = evaluate_fn(model, test, nn.BCEWithLogitsLoss())
    return model, float(loss), float(acc)
