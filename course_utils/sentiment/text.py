"""Tokenizers (``bert-base-uncased``, or a tiny offline one) and batch encoding."""

from __future__ import annotations

from transformers import BertTokenizer, PreTrainedTokenizerBase

from course_utils.sentiment import synthetic

MAX_BERT_LENGTH = 512
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
    """A lower-casing WordPiece ``BertTokenizer`` over ``words`` (id = position), no download."""
    return BertTokenizer(vocab={w: i for i, w in enumerate(words)}, model_max_length=MAX_BERT_LENGTH)


def load_tokenizer(tiny: bool, name: str = "bert-base-uncased") -> PreTrainedTokenizerBase:
    """The lab's tokenizer: the tiny offline one, or ``BertTokenizer.from_pretrained(name)`` (downloads once)."""
    if tiny:
        return tokenizer_from_vocabulary(tiny_vocabulary())
    return BertTokenizer.from_pretrained(name)


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
