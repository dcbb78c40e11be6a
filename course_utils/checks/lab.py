"""Self-checks of the lab (BERT + GRU sentiment): vocabulary, tokens, splits, counts, accuracy."""

from __future__ import annotations

from typing import Any

from course_utils.checks import Spec, _forms, register

SAMPLE_SENTENCE = "Hello WORLD how ARE you?"
SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[PAD]", "[UNK]")
ACCURACY_LOGITS = (2.0, -1.0, 0.5, -3.0, 1.5, -0.2, 0.1)
ACCURACY_LABELS = (1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0)
ACCURACY_PRECISION = 4


def accuracy_forms(function: Any) -> list[list[str]]:
    """Canonical forms of a binary-accuracy function: its result on fixed logits and labels."""
    import torch

    value = _forms.call_quietly(function, torch.tensor(ACCURACY_LOGITS), torch.tensor(ACCURACY_LABELS))
    return [_forms.float_forms(_forms.as_float(value), ACCURACY_PRECISION)]


register("lab.vocab_size", Spec("int", "Ask the tokenizer itself: len(tokenizer) or tokenizer.vocab_size."))
register("lab.token_ids", Spec("ints", "tokenizer.tokenize lower-cases the sentence; then convert_tokens_to_ids."))
register("lab.special_ids", Spec("ints", "Pass the ids of [CLS], [SEP], [PAD], [UNK], in that order."))
register("lab.split_sizes", Spec("ints", "Pass (train, valid, test): 70% of the training reviews train, the rest "
                                 "validate; the test set is separate."))
register("lab.label_vocab", Spec("mapping", "The label ids are fixed, not ordered by frequency."))
register("lab.n_params", Spec("int", "Count every parameter, BERT's included: "
                              "sum(p.numel() for p in model.parameters())."))
register("lab.n_trainable", Spec("int", "Count only parameters with requires_grad, after freezing BERT."))
register("lab.binary_accuracy", Spec("custom", "Threshold the logits at 0 (probability 0.5), compare with the labels "
                                     "and return the fraction correct, a float in [0, 1].", forms=accuracy_forms))
