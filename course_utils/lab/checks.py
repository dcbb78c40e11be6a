"""Self-checks of the lab (BERT + GRU sentiment): vocabulary, tokens, splits, the model, counts, and the
student's ``binary_accuracy``, ``train_epoch`` and ``evaluate``.

The three functions are *probe* checks (``course_utils.lab.probes``): each runs on the public
cases below, on the lab's device, and its outputs are compared with hashes of the instructor's; the
grader runs it on hidden cases against the instructor's oracle (``course_staff.keys.lab``).
"""

from __future__ import annotations

from course_utils.checks import Spec, register
from course_utils.lab import probes

SAMPLE_SENTENCE = "Hello WORLD how ARE you?"
SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[PAD]", "[UNK]")
# Logits between 0 and 0.5 (and just below 0) separate a threshold at 0 from one at 0.5.
ACCURACY_CASES = (
    {"logits": [0.3, -0.2, 0.4, 2.0, -1.5, 0.1, -0.05, 3.0], "labels": [1, 0, 0, 1, 0, 1, 1, 0]},
    {"logits": [0.2, 0.45, -0.3], "labels": [1, 1, 0]},
    {"logits": [-2.0, 1.0], "labels": [1, 0]},
    {"logits": [0.7], "labels": [1]},
)
LOOP_CASES = ({"seed": 7, "sizes": [5, 3, 2]}, {"seed": 11, "sizes": [2, 6, 1, 4]})  # unequal sizes
PRECISION = 4

register("lab.vocab_size", Spec("int", "The tokenizer knows the size of its own vocabulary: look among its "
                                "attributes, or count its entries."))
register("lab.token_ids", Spec("ints", "Two steps: the word pieces first (mind the letter case), then one id per "
                               "piece, without the special tokens."))
register("lab.special_ids", Spec("ints", "Pass the ids of [CLS], [SEP], [PAD], [UNK], in that order."))
register("lab.split_sizes", Spec("ints", "Pass (train, valid, test): your share of the training reviews trains "
                                 "(config.train_fraction, printed at the top), the rest validates; the test set is "
                                 "separate."))
register("lab.label_vocab", Spec("mapping", "Read a few reviews next to their labels: which number do the positive "
                                 "ones carry?"))
register("lab.model", Spec("custom", "Build BERTGRUSentiment on the loaded bert and take every size from config, in "
                           "the order the constructor lists them.", forms=probes.model_forms))
register("lab.n_params", Spec("int", "Count every parameter, BERT's included: each parameter tensor adds its "
                              "number of elements."))
register("lab.n_trainable", Spec("int", "Freeze every parameter of model.bert first, then count only the "
                                 "parameters that still require gradients."))
register("lab.binary_accuracy", Spec("probe", "A prediction is a class, 0 or 1, read off the logit; the answer is "
                                     "the fraction of reviews whose class matches the label, a float in [0, 1].",
                                     probe=probes.probe_accuracy, public_cases=ACCURACY_CASES, precision=PRECISION))
register("lab.train_epoch", Spec("probe", "Per batch: logits, the loss on them, old gradients cleared, backward, "
                                 "one step; return the means over reviews.", probe=probes.probe_train_epoch,
                                 public_cases=LOOP_CASES, precision=PRECISION))
register("lab.evaluate", Spec("probe", "Measure without training: the right mode, no gradients, the same means "
                              "over reviews as in training.", probe=probes.probe_evaluate,
                              public_cases=LOOP_CASES, precision=PRECISION))
