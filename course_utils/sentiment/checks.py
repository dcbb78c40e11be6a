"""Self-checks of the lab (BERT + GRU sentiment): vocabulary, tokens, splits, counts, and the student's
``binary_accuracy``, ``train_epoch`` and ``evaluate`` (judged against the package's own on hidden inputs)."""

from __future__ import annotations

from typing import Any

from course_utils.checks import NoAnswer, Spec, _forms, register
from course_utils.sentiment import loop_checks as _loops

SAMPLE_SENTENCE = "Hello WORLD how ARE you?"
SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[PAD]", "[UNK]")
# Logits between 0 and 0.5 (and just below 0) separate a threshold at 0 from one at 0.5.
ACCURACY_CASES = (
    ((0.3, -0.2, 0.4, 2.0, -1.5, 0.1, -0.05, 3.0), (1, 0, 0, 1, 0, 1, 1, 0)),
    ((0.2, 0.45, -0.3), (1, 1, 0)),
    ((-2.0, 1.0), (1, 0)),
    ((0.7,), (1,)),
)


def _accuracy_mistake(value: float, logits: Any, labels: Any) -> str:
    """A hint naming the likely slip behind a wrong accuracy on one case."""
    n = len(labels)
    right = ((logits > 0).float() == labels).float().mean().item()
    if abs(value - 100 * right) < 1e-6 and right > 0:
        return "that looks like a percentage: return a fraction between 0 and 1. "
    if abs(value - n * right) < 1e-6 and n > 1:
        return "that looks like a count of right predictions: divide by the number of reviews. "
    if abs(value - ((logits > 0.5).float() == labels).float().mean().item()) < 1e-6:
        return ("logits are not probabilities: a logit z means P(positive) = sigmoid(z), so find the threshold on z "
                "that matches sigmoid(z) > 0.5. ")
    if abs(value - (logits == labels).float().mean().item()) < 1e-6:
        return "turn the logits into 0/1 predictions before comparing them with the labels. "
    return ""


def judge_binary_accuracy(function: Any) -> tuple[bool, str]:
    """Run the student's ``binary_accuracy(logits, labels)`` on hidden batches against ``train.binary_accuracy``."""
    import torch

    from course_utils.sentiment.train import binary_accuracy

    if not callable(function):
        return False, "pass your function itself (its name, without calling it). "
    for raw_logits, raw_labels in ACCURACY_CASES:
        logits, labels = torch.tensor(raw_logits), torch.tensor(raw_labels, dtype=torch.float32)
        result = _forms.call_quietly(function, logits.clone(), labels.clone())
        if result is None:
            raise NoAnswer("your function returns nothing yet: write its body in place of the ... and return the fraction.")
        value = _forms.as_float(result)
        if abs(value - binary_accuracy(logits, labels)) > 1e-6:
            return False, _accuracy_mistake(value, logits, labels) or "on a test batch your fraction differs from the right one. "
    return True, ""


register("lab.vocab_size", Spec("int", "Ask the tokenizer itself: len(tokenizer) or tokenizer.vocab_size."))
register("lab.token_ids", Spec("ints", "tokenizer.tokenize lower-cases the sentence; then convert_tokens_to_ids."))
register("lab.special_ids", Spec("ints", "Pass the ids of [CLS], [SEP], [PAD], [UNK], in that order."))
register("lab.split_sizes", Spec("ints", "Pass (train, valid, test): 70% of the training reviews train, the rest "
                                 "validate; the test set is separate."))
register("lab.label_vocab", Spec("mapping", "Read a few reviews next to their labels: which number do the positive "
                                 "ones carry?"))
register("lab.n_params", Spec("int", "Count every parameter, BERT's included: each parameter tensor adds its "
                              "number of elements."))
register("lab.n_trainable", Spec("int", "Freeze every parameter of model.bert first, then count only the "
                                 "parameters that still require gradients."))
register("lab.binary_accuracy", Spec("judge", "Predict positive when the logit is above the threshold that matches "
                                     "a probability of 0.5, compare with the labels, return the fraction right "
                                     "as a float in [0, 1].", judge=judge_binary_accuracy))
register("lab.train_epoch", Spec("judge", "Per batch: logits, loss on the logits, zero_grad, backward, step; "
                                 "return the means over reviews.", judge=_loops.judge_train_epoch))
register("lab.evaluate", Spec("judge", "Evaluation mode, no gradients, the same means over reviews as in training.",
                              judge=_loops.judge_evaluate))
