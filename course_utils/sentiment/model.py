"""Frozen BERT under a (bidirectional) GRU and a linear layer: the lab's sentiment model."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence
from transformers import BertConfig, BertModel

from course_utils.sentiment.text import tiny_vocabulary

# The tiny BERT: every size different, so that a swapped axis fails loudly.
TINY_BERT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                 max_position_embeddings=512, type_vocab_size=2)


class BERTGRUSentiment(nn.Module):
    """BERT's last hidden states read by a GRU; the top layer's last hidden state(s) -> linear -> logits.

    bert: a ``transformers.BertModel`` (embedding size E = ``bert.config.hidden_size``);
    hidden_dim: GRU hidden size H; output_dim: logits per review; n_layers: stacked GRU layers;
    bidirectional: read forwards and backwards; dropout: between GRU layers and before the linear layer.
    BERT is a fixed feature extractor: it runs under ``no_grad`` and stays in eval mode.
    """

    def __init__(self, bert: BertModel, hidden_dim: int, output_dim: int, n_layers: int,
                 bidirectional: bool, dropout: float) -> None:
        super().__init__()
        self.bert = bert
        embedding_dim = bert.config.hidden_size
        self.rnn = nn.GRU(embedding_dim, hidden_dim, num_layers=n_layers, bidirectional=bidirectional,
                          batch_first=True, dropout=dropout if n_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_dim * (2 if bidirectional else 1), output_dim)

    def train(self, mode: bool = True) -> "BERTGRUSentiment":
        """Set train/eval mode of the GRU head; BERT always stays in eval mode (no dropout in features)."""
        super().train(mode)
        self.bert.eval()
        return self

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """BERT's last hidden state. input_ids, attention_mask: (B, T) -> (B, T, E), no gradient."""
        with torch.no_grad():
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def classify(self, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits from token features. embedded: (B, T, E); lengths: (B,) real tokens -> (B, output_dim).

        The GRU reads a packed sequence, so it never sees the padding after ``lengths[i]``.
        """
        packed = pack_padded_sequence(embedded, lengths.cpu().long(), batch_first=True, enforce_sorted=False)
        _, hidden = self.rnn(packed)  # (n_layers * n_directions, B, H), in the batch's order
        if self.rnn.bidirectional:
            top = torch.cat((hidden[-2], hidden[-1]), dim=1)  # (B, 2H): forward and backward
        else:
            top = hidden[-1]  # (B, H)
        return self.out(self.dropout(top))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """input_ids, attention_mask: (B, T) -> logits (B, output_dim); lengths come from the mask."""
        return self.classify(self.embed(input_ids, attention_mask), attention_mask.sum(dim=1))


def freeze_bert(model: BERTGRUSentiment) -> BERTGRUSentiment:
    """Stop gradients for every BERT parameter (``requires_grad = False``); returns ``model``."""
    for param in model.bert.parameters():
        param.requires_grad = False
    return model


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``model`` (only those with ``requires_grad`` if ``trainable_only``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def tiny_bert_config(vocab_size: int) -> BertConfig:
    """The tiny mode's ``BertConfig`` (sizes in ``TINY_BERT``) for a vocabulary of ``vocab_size``."""
    return BertConfig(vocab_size=vocab_size, **TINY_BERT)


def load_bert(tiny: bool, vocab_size: int | None = None, seed: int = 0,
              name: str = "bert-base-uncased") -> BertModel:
    """The lab's BERT: random tiny weights (seeded, tiny mode) or ``BertModel.from_pretrained(name)``.

    vocab_size: the tiny tokenizer's vocabulary size (tiny mode only; default: that of
    ``text.tiny_vocabulary()``). The tiny weights depend only on ``seed`` and ``vocab_size``; the
    global random state is left as it was.
    """
    if not tiny:
        return BertModel.from_pretrained(name)
    if vocab_size is None:
        vocab_size = len(tiny_vocabulary())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return BertModel(tiny_bert_config(vocab_size)).eval()


def build_model(bert: BertModel, hidden_dim: int = 256, output_dim: int = 1, n_layers: int = 2,
                bidirectional: bool = True, dropout: float = 0.25, seed: int | None = None) -> BERTGRUSentiment:
    """``BERTGRUSentiment`` with BERT frozen; the head's initial weights depend on ``seed`` if given."""
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        model = BERTGRUSentiment(bert, hidden_dim, output_dim, n_layers, bidirectional, dropout)
    return freeze_bert(model)
