"""Every hash-checked answer, computed by the package itself (instructor-only).

One function per part; ``solutions(tiny)`` merges them for the registry builder. Judged checks
(functions run on test inputs) have no entry here: their reference is the package's oracle.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any


def q2_answers() -> dict[str, Any]:
    """Q2: h_4 and the last outputs of the two sequences the handout names."""
    from course_staff import q2_key

    return {
        "q2.final_hidden": q2_key.final_hidden(4),
        "q2.output_a": q2_key.simulate(q2_key.SEQUENCE_A)[1][-1],
        "q2.output_b": q2_key.simulate(q2_key.SEQUENCE_B)[1][-1],
    }


def q3_answers() -> dict[str, Any]:
    """Q3: norms at beta = 3, weights at beta = 1, the copied tokens, the error's decay."""
    from course_utils.q3 import attention
    from course_utils.q3 import checks as q3
    from course_staff import q3_key

    X_norms = attention.orthogonal_tokens(q3.NORMS_BETA)[1]
    X_weights = attention.orthogonal_tokens(q3.WEIGHTS_BETA)[1]
    X_large = attention.orthogonal_tokens(5.0)[1]
    return {
        "q3.norms": X_norms.norm(dim=1),
        "q3.weights": q3_key.self_attention(X_weights)[1],
        "q3.copies": [j + 1 for j in q3_key.nearest_tokens(q3_key.self_attention(X_large)[0], X_large)],
        "q3.error_order": lambda beta: float(q3_key.predicted_copy_error([beta])[0].max()),
    }


def lab_answers(tiny: bool) -> dict[str, Any]:
    """The lab's counts, ids, sizes and model for tiny or full mode (offline: full-mode BERT on the meta device,
    and, for the model check, a one-layer BERT of bert-base's width: the head is what is checked).

    The pinned full-mode answers (``registry.PINNED``) are not in here.
    """
    import torch
    from transformers import BertConfig, BertModel

    from course_staff import lab_key
    from course_utils.sentiment import checks as lab
    from course_utils.sentiment import config, data, model, text

    tokenizer = text.load_tokenizer(tiny=True)
    cfg = config.LabConfig.for_mode(tiny)
    sizes = (cfg.hidden_dim, cfg.output_dim, cfg.n_layers, cfg.bidirectional, cfg.dropout)
    with torch.random.fork_rng(devices=[]):
        if tiny:
            bert = model.load_bert(tiny=True, vocab_size=len(tokenizer))
            head_bert = bert
        else:
            with torch.device("meta"):
                bert = BertModel(BertConfig())
            head_bert = BertModel(BertConfig(num_hidden_layers=1, vocab_size=8, intermediate_size=8))
        net = model.BERTGRUSentiment(bert, *sizes)
        built = model.BERTGRUSentiment(head_bert, *sizes)
    answers = {
        "lab.special_ids": tokenizer.convert_tokens_to_ids(list(lab.SPECIAL_TOKENS)),
        "lab.label_vocab": dict(lab_key.LABEL_VOCAB),
        "lab.vocab_size": len(tokenizer) if tiny else BertConfig().vocab_size,
        "lab.model": built,
        "lab.n_params": lab_key.count_parameters(net),
        "lab.n_trainable": lab_key.count_parameters(lab_key.freeze_bert(net), trainable_only=True),
    }
    if tiny:
        answers["lab.token_ids"] = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(lab.SAMPLE_SENTENCE))
        with tempfile.TemporaryDirectory() as tmp:
            root = data.synthetic_imdb(Path(tmp), cfg.n_synthetic, cfg.seed, cfg.n_synthetic_test or None)
            train_set, valid_set = data.split_train_valid(data.load_split(root, "train"), cfg.train_fraction, cfg.seed)
            answers["lab.split_sizes"] = [len(train_set), len(valid_set), len(data.load_split(root, "test"))]
    return answers


def solutions(tiny: bool) -> dict[str, Any]:
    """Every hash-checked answer for tiny or full mode, by check id."""
    return {**q2_answers(), **q3_answers(), **lab_answers(tiny)}


# ---- known mistakes of the hash-checked answers: (wrong value, hint), so a self-check can name the slip ------
# A hint names the slip and where to look; it never states the answer. Fingerprints are stored as slow salted
# hashes like the answers themselves (``course_utils.checks.named_mistake``).

_PERCENT = "that looks like a percentage: the sigmoid gives a probability, a number between 0 and 1. "
_SEED_BIAS = ("the output unit in the figure has no bias: it is the sigmoid of the weight on its edge times h_4 "
              "(is your sigmoid's argument 1000 - h?). ")


def q2_mistakes() -> dict[str, list[tuple[Any, str]]]:
    """Q2: the sign slips of the unrolled recurrence, the seed's output bias, percentages."""
    import sympy as sp

    from course_staff import q2_key

    x1, x2, x3, x4 = sp.symbols("x1:5")
    right = q2_key.final_hidden(4)
    a_h, b_h = q2_key.simulate(q2_key.SEQUENCE_A)[0][-1], q2_key.simulate(q2_key.SEQUENCE_B)[0][-1]
    out_a, out_b = (q2_key.simulate(s)[1][-1] for s in (q2_key.SEQUENCE_A, q2_key.SEQUENCE_B))
    return {
        "q2.final_hidden": [
            (-right, "every input carries the opposite sign: which input enters last, and what does the weight on "
                     "the loop do to the earlier ones? "),
            (x4 - x3, "only the last two inputs appear: the earlier ones still reach h_4 through the loop. "),
            (x1 + x2 + x3 + x4, "every input carries the same sign: re-read the weight on the loop. "),
            (x1 * x2, "a linear unit adds weighted inputs and never multiplies them. "),
            (1000 * right, "that is the output unit's input (w_out times h_4); h_4 is the hidden state itself. "),
        ],
        "q2.output_a": [(q2_key.sigmoid(1000 - a_h), _SEED_BIAS), (100 * out_a, _PERCENT),
                        (float(a_h > 0), "a hard threshold is not the sigmoid: work out the sigmoid at this h_4. "),
                        (out_b, "that is the other sequence's output: run the recurrence over this one. ")],
        "q2.output_b": [(q2_key.sigmoid(1000 - b_h), _SEED_BIAS), (100 * out_b, _PERCENT),
                        (out_a, "that would be the output for h_4 = 0: run the recurrence over this sequence. ")],
    }


def q3_mistakes() -> dict[str, list[tuple[Any, str]]]:
    """Q3: norms added directly or squared, the softmax's usual slips, token numbering, the wrong rate."""
    import sympy as sp
    import torch

    from course_utils.q3 import attention
    from course_utils.q3 import checks as q3

    beta = sp.Symbol("beta", positive=True)
    X = attention.orthogonal_tokens(q3.NORMS_BETA)[1]
    base = attention.orthogonal_tokens(q3.NORMS_BETA)[0]
    base_norms = base.norm(dim=1)
    parts = (X @ base.T / base_norms ** 2).round()  # how many of each base vector a token holds
    norms = X.norm(dim=1)
    tokens = attention.orthogonal_tokens(q3.WEIGHTS_BETA)[1]
    scores = tokens @ tokens.T
    weights = torch.softmax(scores, dim=1)
    n = len(norms)
    return {
        "q3.norms": [
            ((parts.abs() @ base_norms), "the norms of orthogonal vectors do not add; their squares do "
                                         "(Pythagoras). "),
            (norms ** 2, "those look like squared norms: the norm is the square root of x . x. "),
            (norms / q3.NORMS_BETA, "the base vectors have norm beta here, not 1. "),
        ],
        "q3.weights": [
            (torch.softmax(scores / dim ** 0.5, dim=1),
             "the definition at the top has no 1/sqrt(d) scaling: use the scores as they are. ")
            for dim in range(len(scores), 9)  # the tokens' dimension, whichever the handout draws them in
        ] + [
            (weights.T, "each row holds one token's weights and sums to 1: you have them by column. "),
            (torch.eye(len(weights)), "a softmax of finite scores is never exactly 0 or 1: at beta = 1 work it "
                                       "out. "),
            (scores, "those are the scores: the weights are their softmax, row by row. "),
        ],
        "q3.copies": [([i for i in range(n)], "number the tokens from 1, as x1, x2, x3. ")]
        + [([i] * n, "look at each row on its own: which weight is the largest in row i? ") for i in range(1, n + 1)],
        "q3.error_order": [
            (sp.exp(-beta), "the scores grow like beta^2 (beta scales both sides of the inner product), so must the "
                            "exponent. "),
            (sp.exp(-sp.sqrt(2) * beta), "the scores grow like beta^2 (beta scales both sides of the inner product), "
                                         "so must the exponent. "),
            (1 / beta ** 2, "the error falls exponentially in beta^2, faster than any power of beta. "),
            (sp.exp(-2 * beta ** 2), "the exponent's factor differs: compare each row's largest score with its next "
                                     "largest. "),
            (sp.exp(-beta ** 2 / 2), "the exponent's factor differs: compare each row's largest score with its next "
                                     "largest. "),
        ],
    }


def lab_mistakes(tiny: bool, answers: dict[str, Any]) -> dict[str, list[tuple[Any, str]]]:
    """The lab: BERT left out of a count or left trainable, special tokens kept, labels swapped, and a model
    built with a size that is not the config's (each named)."""
    import torch
    from transformers import BertConfig, BertModel

    from course_utils.sentiment import checks as lab
    from course_utils.sentiment import config, model, text

    n_params, n_trainable = answers["lab.n_params"], answers["lab.n_trainable"]
    bert_only = n_params - n_trainable
    cfg, other = config.LabConfig.for_mode(tiny), config.LabConfig.for_mode(not tiny)
    sizes = dict(hidden_dim=cfg.hidden_dim, output_dim=cfg.output_dim, n_layers=cfg.n_layers,
                 bidirectional=cfg.bidirectional, dropout=cfg.dropout)
    tokenizer = text.load_tokenizer(tiny=True)
    vocab = answers["lab.vocab_size"]
    labels = answers["lab.label_vocab"]
    found: dict[str, list[tuple[Any, str]]] = {
        "lab.vocab_size": [(vocab - 1, "one short: count every entry of the vocabulary, the special tokens too. "),
                           (vocab - vocab % 1000, "a round number is a guess: ask the tokenizer for its size. ")],
        "lab.label_vocab": [(dict(zip(labels, reversed(list(labels.values())))),
                             "the labels are the other way round: read a positive review next to its label. ")],
        "lab.n_params": [(n_trainable, "that leaves BERT out: n_params counts every parameter of the model. "),
                         (bert_only, "that is BERT alone: the GRU and the linear layer have parameters too. ")],
        "lab.n_trainable": [(n_params, "BERT's parameters still require gradients: freeze them before counting. "),
                            (n_trainable - 1, "one short: every bias counts, the output layer's too. "),
                            (bert_only, "that counts the frozen parameters: count those that still require "
                                        "gradients. ")],
    }
    if tiny:
        found["lab.token_ids"] = [(tokenizer.encode(lab.SAMPLE_SENTENCE),
                                   "without the special tokens ([CLS], [SEP]) that encoding adds. ")]
    wrong_sizes = [
        (dict(hidden_dim=other.hidden_dim), "the GRU's hidden size is not this mode's: take it from config instead "
                                            "of writing a number. "),
        (dict(hidden_dim=64), "the GRU's hidden size is not config's: take every size from config. "),
        (dict(bidirectional=False), "your GRU runs in one direction only: the lab's reads the review both ways. "),
        (dict(n_layers=1), "your model has one GRU layer: take the number of layers from config. "),
        (dict(dropout=0.5), "the dropout differs from config's. "),
        (dict(dropout=0.0), "the dropout differs from config's. "),
        (dict(output_dim=2), "the model gives one logit per review (BCEWithLogitsLoss): take the output size from "
                             "config. "),
    ]
    wrong_sizes += [({**first[0], **second[0]}, f"{first[1]}Also: {second[1]}")
                    for i, first in enumerate(wrong_sizes) for second in wrong_sizes[i + 1:]
                    if not set(first[0]) & set(second[0])]
    with torch.random.fork_rng(devices=[]):
        if tiny:
            head_bert = model.load_bert(tiny=True, vocab_size=len(tokenizer))
        else:
            head_bert = BertModel(BertConfig(num_hidden_layers=1, vocab_size=8, intermediate_size=8))
        found["lab.model"] = [(model.BERTGRUSentiment(head_bert, **{**sizes, **change}), hint)
                              for change, hint in wrong_sizes if any(sizes[k] != v for k, v in change.items())]
    return found


def mistakes(tiny: bool, answers: dict[str, Any]) -> dict[str, list[tuple[Any, str]]]:
    """Every hash-checked answer's known mistakes for tiny or full mode, by check id (``answers``: ``solutions``)."""
    return {**q2_mistakes(), **q3_mistakes(), **lab_mistakes(tiny, answers)}
