"""The tiny mode's BERT encoder in plain PyTorch: ``transformers.BertModel``'s modules, parameters and math.

``TinyBert(config)`` has the parameters of ``BertModel(config)`` under the same names (its
``state_dict`` loads into a ``BertModel`` and back), draws its initial weights as ``BertModel`` does
(``initializer_range`` normal weights, zero biases, unit LayerNorms, a zero padding row) and computes
the same encoder: embeddings (word + position + token type 0) and LayerNorm, then per layer multi-head
self-attention over the unmasked keys, residual and LayerNorm, a GELU feed-forward, residual and
LayerNorm; the pooler (tanh of a dense layer on [CLS]). ``tests/test_tiny_bert.py`` checks it against
``BertModel`` with the same weights.

Why it exists: importing ``BertModel`` pulls in most of ``transformers``' model machinery
(``modeling_utils``, ``torch._dynamo``, ``torch.distributed.tensor``, ``scipy.optimize``), 2.2-2.4 s of
every graded tiny lab on a 2-core machine, for an encoder of 2 layers and width 32 with random
weights. Full mode loads a pre-trained ``BertModel`` through ``transformers`` (``encoder``); the lab's
code above the encoder (``BERTGRUSentiment``, features, training, checkpoints) is the same in both.
Only what the lab uses is supported: an encoder (no decoder, cache or cross-attention) with
``hidden_act="gelu"``.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import BertConfig
from transformers.modeling_outputs import BaseModelOutputWithPoolingAndCrossAttentions

__all__ = ["TinyBert"]


class BertEmbeddings(nn.Module):
    """Word + position + token-type embeddings, LayerNorm, dropout. input_ids: (B, T) -> (B, T, E)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.register_buffer("position_ids", torch.arange(config.max_position_embeddings).expand((1, -1)),
                             persistent=False)
        self.register_buffer("token_type_ids", torch.zeros(self.position_ids.size(), dtype=torch.long),
                             persistent=False)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """input_ids, token_type_ids (default zeros): (B, T) -> (B, T, E)."""
        length = input_ids.shape[1]
        if length > self.position_ids.shape[1]:
            raise ValueError(f"input of {length} tokens is longer than the encoder's "
                             f"{self.position_ids.shape[1]} positions")
        position_ids = self.position_ids[:, :length]
        if token_type_ids is None:
            token_type_ids = self.token_type_ids[:, :length].expand(input_ids.shape[0], length)
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class BertSelfAttention(nn.Module):
    """Multi-head scaled dot-product attention. x: (B, T, E), mask: (B, 1, 1, T) bool (True: attend)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        if config.hidden_size % config.num_attention_heads:
            raise ValueError(f"hidden_size {config.hidden_size} is not a multiple of "
                             f"num_attention_heads {config.num_attention_heads}")
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.hidden_size // config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """x: (B, T, E); mask: None or (B, 1, 1, T) bool -> (B, T, E)."""
        shape = (*x.shape[:-1], self.num_attention_heads, self.attention_head_size)  # (B, T, heads, d)
        q, k, v = (layer(x).view(shape).transpose(1, 2) for layer in (self.query, self.key, self.value))
        out = nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout.p if self.training else 0.0,
            scale=self.attention_head_size ** -0.5)  # (B, heads, T, d)
        return out.transpose(1, 2).reshape(x.shape)


class BertOutput(nn.Module):
    """Dense to E, dropout, LayerNorm of (that + the block's input): the output of the attention block
    (``in_size`` E, ``BertSelfOutput``) and of the feed-forward block (``in_size`` I, ``BertOutput``).
    hidden: (B, T, in_size); residual: (B, T, E) -> (B, T, E)."""

    def __init__(self, config: BertConfig, in_size: int) -> None:
        super().__init__()
        self.dense = nn.Linear(in_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """hidden: (B, T, in_size); residual: (B, T, E) -> (B, T, E)."""
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class BertAttention(nn.Module):
    """Self-attention and its output block. x: (B, T, E) -> (B, T, E)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertOutput(config, config.hidden_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """x: (B, T, E); mask: None or (B, 1, 1, T) bool -> (B, T, E)."""
        return self.output(self.self(x, mask), x)


class BertIntermediate(nn.Module):
    """Dense to the intermediate size, then GELU (exact, erf). (B, T, E) -> (B, T, I)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, T, E) -> (B, T, I)."""
        return nn.functional.gelu(self.dense(hidden))


class BertLayer(nn.Module):
    """One transformer layer: attention block, then feed-forward block. x: (B, T, E) -> (B, T, E)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config, config.intermediate_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """x: (B, T, E); mask: None or (B, 1, 1, T) bool -> (B, T, E)."""
        attended = self.attention(x, mask)
        return self.output(self.intermediate(attended), attended)


class BertEncoder(nn.Module):
    """``num_hidden_layers`` ``BertLayer``s in turn. x: (B, T, E) -> (B, T, E)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """x: (B, T, E); mask: None or (B, 1, 1, T) bool -> (B, T, E)."""
        for layer in self.layer:
            x = layer(x, mask)
        return x


class BertPooler(nn.Module):
    """tanh(dense(hidden state of the first token)). (B, T, E) -> (B, E)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, T, E) -> (B, E)."""
        return self.activation(self.dense(hidden[:, 0]))


class TinyBert(nn.Module):
    """``BertModel(config)`` as an encoder, in plain PyTorch (see the module's docstring).

    ``forward(input_ids, attention_mask)``: (B, T) ids and (B, T) 0/1 mask (default all ones) -> an
    output with ``last_hidden_state`` (B, T, E) and ``pooler_output`` (B, E), as ``BertModel`` returns.
    """

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True) -> None:
        super().__init__()
        if config.is_decoder or config.add_cross_attention or config.hidden_act != "gelu":
            raise ValueError("TinyBert is an encoder with hidden_act='gelu' (no decoder, no cross-attention); "
                             "use transformers.BertModel for other configurations")
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        """``BertPreTrainedModel._init_weights``: N(0, initializer_range) weights, zero biases and padding row,
        unit LayerNorms."""
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def get_input_embeddings(self) -> nn.Embedding:
        """The word embeddings (vocab_size, E)."""
        return self.embeddings.word_embeddings

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None) -> BaseModelOutputWithPoolingAndCrossAttentions:
        """input_ids: (B, T) long; attention_mask: (B, T), 1 for real tokens, 0 for padding (default: all 1);
        token_type_ids: (B, T) (default 0). Returns ``last_hidden_state`` (B, T, E), ``pooler_output`` (B, E)."""
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must be (batch, tokens), got shape {tuple(input_ids.shape)}")
        mask = None
        if attention_mask is not None and not bool(attention_mask.all()):
            mask = attention_mask.to(torch.bool)[:, None, None, :]  # (B, 1, 1, T): which keys each query sees
        hidden = self.encoder(self.embeddings(input_ids, token_type_ids), mask)
        pooled = self.pooler(hidden) if self.pooler is not None else None
        return BaseModelOutputWithPoolingAndCrossAttentions(last_hidden_state=hidden, pooler_output=pooled)
