"""Frozen BERT under a (bidirectional) GRU and a linear layer: the lab's sentiment model."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import torch
from torch import nn
from transformers import BertConfig

from course_utils.lab import encoder
from course_utils.lab.text import tiny_vocabulary
from course_utils.lab.tiny_bert import TinyBert

if TYPE_CHECKING:  # importing them costs 2.2-2.4 s (transformers' model machinery); full mode loads them lazily
    from transformers import BertModel, PreTrainedModel

# The tiny BERT: every size different, so that a swapped axis fails loudly.
TINY_BERT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                 max_position_embeddings=512, type_vocab_size=2)


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The half precision BERT runs in on ``device``: bf16 on CUDA from Ampere (8.x) on, fp16 before
    (e.g. a T4, 7.5); None (full fp32) elsewhere."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.get_device_capability(device)[0] >= 8 else torch.float16


def bert_autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """The autocast every BERT pass of the lab runs under (cached features, BERT on the fly, inference):
    ``autocast_dtype(device)`` on CUDA; a no-op context elsewhere."""
    dtype = autocast_dtype(device)
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


class BERTGRUSentiment(nn.Module):
    """BERT's last hidden states read by a GRU; the top layer's last hidden state(s) -> linear -> logits.

    bert: a ``transformers.BertModel`` or the tiny mode's ``TinyBert`` (embedding size E = ``bert.config.hidden_size``);
    hidden_dim: GRU hidden size H; output_dim: logits per review; n_layers: stacked GRU layers;
    bidirectional: read forwards and backwards; dropout: between GRU layers and before the linear layer.
    BERT is a fixed feature extractor: it runs under ``no_grad`` and stays in eval mode, under
    ``bert_autocast`` (fp16/bf16 on CUDA, as the cached features are computed); the GRU head runs in fp32.
    """

    def __init__(self, bert: BertModel | TinyBert, hidden_dim: int, output_dim: int, n_layers: int,
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
        """BERT's last hidden state. input_ids, attention_mask: (B, T) -> (B, T, E) float32, no gradient.

        Under ``bert_autocast``: on CUDA BERT's matrix products run in half precision (4-8x faster on a T4
        than fp32), the same computation whether the features are cached or computed on the fly.
        """
        with torch.no_grad(), bert_autocast(input_ids.device):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return hidden.float()

    def classify(self, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits from token features. embedded: (B, T, E); lengths: (B,) real tokens -> (B, output_dim).

        The GRU never reads the padding after ``lengths[i]``, yet runs unpacked (``gru_final_states``):
        the result equals ``self.rnn`` on a ``pack_padded_sequence``.
        """
        return self.out(self.dropout(gru_final_states(self.rnn, embedded, lengths)))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """input_ids, attention_mask: (B, T) -> logits (B, output_dim); lengths come from the mask."""
        return self.classify(self.embed(input_ids, attention_mask), attention_mask.sum(dim=1))


def reverse_within(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each row's first ``lengths[b]`` steps in reverse order, the padding after them left in place.

    x: (B, T, F); lengths: (B,) in [1, T] on x's device. Its own inverse.
    """
    t = torch.arange(x.shape[1], device=x.device)[None, :]  # (1, T)
    index = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # (B, T)
    return x.gather(1, index[..., None].expand_as(x))


def _direction(rnn: nn.GRU, x: torch.Tensor, layer: int, suffix: str) -> torch.Tensor:
    """One direction of one layer of ``rnn`` over ``x`` (B, T, input) from a zero state -> outputs (B, T, H).

    Runs ``torch.gru``, the function ``nn.GRU.forward`` calls (as ``torch._VF.gru``), with ``rnn``'s own
    weights ``weight_ih_l{layer}{suffix}`` etc. as a 1-layer, 1-direction, batch-first GRU, so gradients
    reach ``rnn``'s parameters. (A 1-layer ``nn.GRU`` on the meta device run by ``functional_call`` did
    the same, but building one took about 0.7 ms, 4 per batch: 0.6 s of the tiny lab's grading run.)
    """
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh") if rnn.bias else ("weight_ih", "weight_hh")
    weights = [getattr(rnn, f"{n}_l{layer}{suffix}") for n in names]
    h0 = x.new_zeros(1, x.shape[0], rnn.hidden_size)
    # (input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first); train=True as
    # before (a 1-layer GRU has no dropout; on CUDA cuDNN then keeps what a backward pass needs, in eval too)
    out, _ = torch.gru(x, h0, weights, rnn.bias, 1, 0.0, True, False, True)
    return out


def gru_final_states(rnn: nn.GRU, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The top layer's final state(s) of ``rnn`` (batch_first) reading only each row's first ``lengths`` steps.

    x: (B, T, E); lengths: (B,) in [1, T] -> (B, H), or (B, 2H) [forward, backward] if bidirectional.
    Equal to ``rnn(pack_padded_sequence(x, lengths, ...))``'s last hidden states, without packing:
    each direction of each layer runs unpacked over the padded batch. The forward direction's output
    at a real step t depends only on steps <= t, so its final state is read at step L-1. The backward
    direction runs forwards over each review reversed within its own length (``reverse_within``), so
    it reads the real tokens first, its final state is at step L-1 too, and its outputs are reversed
    back before the next layer. Between layers, dropout ``rnn.dropout`` in training, as ``nn.GRU`` does.
    """
    lengths_cpu = lengths.detach().to("cpu", torch.long)
    if lengths_cpu.numel() != x.shape[0] or lengths_cpu.min() < 1 or lengths_cpu.max() > x.shape[1]:
        raise ValueError(f"lengths must be {x.shape[0]} values in [1, {x.shape[1]}] (the padded length), "
                         f"got {lengths_cpu.tolist()}")
    lengths = lengths_cpu.to(x.device)
    rows, last = torch.arange(x.shape[0], device=x.device), lengths - 1
    for layer in range(rnn.num_layers):
        outputs, finals = [], []
        for suffix in ("", "_reverse") if rnn.bidirectional else ("",):
            out = _direction(rnn, reverse_within(x, lengths) if suffix else x, layer, suffix)  # (B, T, H)
            finals.append(out[rows, last])
            outputs.append(reverse_within(out, lengths) if suffix else out)
        x = torch.cat(outputs, dim=2)
        if layer < rnn.num_layers - 1:
            x = nn.functional.dropout(x, rnn.dropout, rnn.training)
    return torch.cat(finals, dim=1)


def tiny_bert_config(vocab_size: int) -> BertConfig:
    """The tiny mode's ``BertConfig`` (sizes in ``TINY_BERT``) for a vocabulary of ``vocab_size``."""
    return BertConfig(vocab_size=vocab_size, **TINY_BERT)


def load_bert(tiny: bool, vocab_size: int | None = None, seed: int = 0,
              name: str | None = None) -> TinyBert | PreTrainedModel:
    """The lab's BERT: random tiny weights (seeded) or a pre-trained encoder, in eval mode.

    name: ``"tiny-bert"``, a model-hub name or a checkpoint folder (see ``encoder``); None means the
    tiny one in tiny mode and ``bert-base-uncased`` in full mode. vocab_size: the tiny tokenizer's
    vocabulary size (tiny BERT only; default: that of ``text.tiny_vocabulary()``). The tiny weights
    depend only on ``seed`` and ``vocab_size``; the global random state is left as it was. The tiny one is
    a ``tiny_bert.TinyBert``: ``BertModel``'s parameters, initial weights and outputs, bit for bit, without
    importing ``transformers``' model machinery.
    """
    if not encoder.is_builtin(tiny, name):
        return encoder.pretrained_bert(name or encoder.DEFAULT_BERT)
    if vocab_size is None:
        vocab_size = len(tiny_vocabulary())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TinyBert(tiny_bert_config(vocab_size)).eval()


def build_model(bert: BertModel | TinyBert, *, hidden_dim: int, output_dim: int, n_layers: int, bidirectional: bool,
                dropout: float, seed: int | None = None) -> BERTGRUSentiment:
    """``BERTGRUSentiment``; the head's initial weights depend on ``seed`` if given. BERT is not frozen here
    (BERT runs under ``no_grad`` either way; freezing it is a question of the lab). Every size is required and
    named: defaults would be the full-mode answer of the lab's model blank."""
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        model = BERTGRUSentiment(bert, hidden_dim, output_dim, n_layers, bidirectional, dropout)
    return model
