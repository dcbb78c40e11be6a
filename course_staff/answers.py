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
