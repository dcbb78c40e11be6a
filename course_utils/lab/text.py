"""Tokenizers (a pre-trained encoder's, or a tiny offline one) and batch encoding."""

from __future__ import annotations

import tempfile
from pathlib import Path

from transformers import BertTokenizerFast, PreTrainedTokenizerBase

from course_utils.lab import encoder, synthetic
from course_utils.lab.config import MAX_BERT_LENGTH
# bert-base-uncased's special ids, kept in the tiny vocabulary by filling 1..99 with [unusedN].
SPECIAL_IDS = {"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103}


def tiny_vocabulary() -> list[str]:
    """The tiny tokenizer's vocabulary, id = position.

    [PAD]=0, [unused0..98]=1..99, [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103 (the ids of
    bert-base-uncased), then the synthetic reviews' words in sorted order.
    """
    specials = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    return specials + synthetic.vocabulary()


def tokenizer_from_vocabulary(words: list[str]) -> PreTrainedTokenizerBase:
    """A lower-casing fast WordPiece tokenizer over ``words`` (id = position), no download.

    Built from a ``vocab.txt`` written to a temporary folder and passed positionally: transformers
    4.x names that argument ``vocab_file``, 5.x ``vocab``; both read the file when constructing.
    """
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vocab.txt"
        path.write_text("".join(f"{w}\n" for w in words), encoding="utf-8")
        tokenizer = BertTokenizerFast(str(path), model_max_length=MAX_BERT_LENGTH)
    if len(tokenizer) != len(words):
        raise ValueError(f"the tokenizer kept {len(tokenizer)} of {len(words)} words: are some words repeated?")
    return tokenizer


def load_tokenizer(tiny: bool, name: str | None = None) -> PreTrainedTokenizerBase:
    """The lab's tokenizer: the tiny offline one, or a pre-trained encoder's fast tokenizer (downloads once).

    name: ``"tiny-bert"``, a model-hub name or a checkpoint folder (see ``encoder``); None means the
    tiny one in tiny mode and ``bert-base-uncased`` in full mode.
    """
    if encoder.is_builtin(tiny, name):
        return tokenizer_from_vocabulary(tiny_vocabulary())
    return encoder.pretrained_tokenizer(name or encoder.DEFAULT_BERT)


def vocabulary_of(tokenizer: PreTrainedTokenizerBase) -> list[str]:
    """The tokenizer's vocabulary as a list, id = position (what a checkpoint stores in tiny mode)."""
    vocab = tokenizer.get_vocab()
    words = sorted(vocab, key=vocab.__getitem__)
    if [vocab[w] for w in words] != list(range(len(words))):
        raise ValueError("the tokenizer's ids are not 0..n-1; cannot store its vocabulary as a list")
    return words


def max_length(tokenizer: PreTrainedTokenizerBase, limit: int = MAX_BERT_LENGTH) -> int:
    """Tokens per review including [CLS] and [SEP]: ``tokenizer.model_max_length`` capped at ``limit`` (512)."""
    return min(int(tokenizer.model_max_length), limit)


def encode(tokenizer: PreTrainedTokenizerBase, texts: list[str], limit: int = MAX_BERT_LENGTH) -> list[list[int]]:
    """Token ids of each text, ``[CLS] ... [SEP]``, cut to ``max_length`` (510 word pieces + 2 specials).

    texts: n strings. Returns n lists of ints, encoded in one batched call of the fast tokenizer.
    """
    return tokenizer(
        list(texts), truncation=True, max_length=max_length(tokenizer, limit), return_attention_mask=False,
        return_token_type_ids=False,
    )["input_ids"]
