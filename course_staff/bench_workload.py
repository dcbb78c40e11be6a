"""The work ``course-utils bench`` measures: synthetic IMDB-length reviews on a random BERT, or real ones.

Synthetic: ``--reviews`` texts whose lengths in BERT tokens follow a log-normal with median 230 and
sigma 0.73, cut at 512 (see ``bench``'s docstring for where the numbers come from), made of words
``w<id>`` that a WordPiece tokenizer with bert-base-uncased's special ids reads as one token each.
Real: ``--reviews`` reviews drawn (seeded) from an aclImdb folder's train split, read by a pre-trained
encoder and its own tokenizer.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import torch
from transformers import BertConfig, BertModel, PreTrainedModel, PreTrainedTokenizerBase

from course_utils.errors import CourseError
from course_utils.lab import text
from course_utils.lab.data import load_split
from course_utils.lab.model import TINY_BERT, load_bert

MODELS = {  # BertConfig overrides; "base" is bert-base-uncased's shape (random weights, no download)
    "base": {},
    "small": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024),
    "tiny": TINY_BERT,
}
MEDIAN_TOKENS, SIGMA, MAX_TOKENS = 230, 0.73, 512


def review_lengths(n: int, generator: torch.Generator) -> list[int]:
    """n review lengths in BERT tokens (with [CLS]/[SEP]): log-normal(ln 230, 0.73), cut to [3, 512]."""
    draws = torch.empty(n).log_normal_(float(torch.tensor(MEDIAN_TOKENS).log()), SIGMA, generator=generator)
    return draws.round().clamp(3, MAX_TOKENS).long().tolist()


def synthetic_workload(n: int, vocab_size: int, seed: int) -> tuple[list[str], list[int], PreTrainedTokenizerBase]:
    """(texts, labels, tokenizer): n texts of words ``w<id>`` whose token counts follow ``review_lengths``.

    The tokenizer is a WordPiece ``BertTokenizer`` with bert-base-uncased's special ids and one
    whole-word entry per other id, so a text of L - 2 words is L tokens.
    """
    words = text.tiny_vocabulary()[:104]  # ids 0..103 as in bert-base-uncased
    words += [f"w{i}" for i in range(104, vocab_size)]
    g = torch.Generator().manual_seed(seed)
    texts = [" ".join(f"w{i}" for i in torch.randint(104, vocab_size, (length - 2,), generator=g).tolist())
             for length in review_lengths(n, g)]
    labels = torch.randint(0, 2, (n,), generator=g).tolist()
    return texts, labels, text.tokenizer_from_vocabulary(words)


def real_workload(data_dir: str | Path, n: int, seed: int) -> tuple[list[str], list[int]]:
    """(texts, labels) of n reviews drawn without replacement (seeded) from ``data_dir/train``."""
    reviews = load_split(Path(data_dir), "train")
    if n > len(reviews):
        raise CourseError(f"--reviews {n} but {data_dir}/train has only {len(reviews)} reviews")
    chosen = random.Random(seed).sample(range(len(reviews)), n)
    return [reviews.texts[i] for i in chosen], [reviews.labels[i] for i in chosen]


def workload(args: argparse.Namespace) -> tuple[list[str], list[int], PreTrainedTokenizerBase,
                                                BertModel | PreTrainedModel, str]:
    """(texts, labels, tokenizer, BERT, description) for ``bench``'s options: real (``--bert`` and
    ``--data-dir``) or synthetic (``--model``, random weights)."""
    if args.bert is not None:
        tokenizer, bert = text.load_tokenizer(False, args.bert), load_bert(False, name=args.bert)
        texts, labels = real_workload(args.data_dir, args.reviews, args.seed)
        shape = f"{bert.config.num_hidden_layers} x {bert.config.hidden_size}, pre-trained"
        return texts, labels, tokenizer, bert, f"bert={args.bert} ({shape}), real reviews from {args.data_dir}"
    config = BertConfig(**MODELS[args.model])
    texts, labels, tokenizer = synthetic_workload(args.reviews, config.vocab_size, args.seed)
    shape = f"{config.num_hidden_layers} x {config.hidden_size}, random weights"
    return texts, labels, tokenizer, BertModel(config), f"model={args.model} ({shape}), synthetic reviews"
