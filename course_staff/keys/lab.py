"""The lab's key: the instructor's answers to the lab's blanks, and the grader's judges of the student's functions.

What a blank asks, done the course's way (instructor-only, never in the student release): the label map,
freezing BERT and counting parameters (Q2b, Q2c), ``binary_accuracy``, ``train_epoch`` and ``evaluate``
(Q3a-c). ``JUDGES`` holds, per function check, hidden cases, the oracle (these functions run on the same
toy model and batches the release's probe builds from a case, ``course_utils.lab.probes``) and the
known mistakes whose fingerprints let a self-check name the slip. The staff-side ``course-utils lab`` and
``bench`` train with these loops (``course_staff.lab_run``).
"""

from __future__ import annotations

import functools
import random
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from torch import nn

from course_staff.keys import Judge, close
from course_utils.lab import probes
from course_utils.lab.train import batch_logits

LABEL_VOCAB = {"neg": 0, "pos": 1}  # the answer to lab.label_vocab (the loader's folder order)

# Full-mode facts that need the real archive or vocabulary (registry.PINNED): variant 0's answers are pinned in
# the registry from a machine that has them; the tests check these values against those pinned hashes, and
# the registry hashes the other variants' answers from them (registry.PINNED_VARIANTS -> ``pinned_full``).
IMDB_TRAIN_REVIEWS = 25_000  # aclImdb/train: 12,500 per class
IMDB_TEST_REVIEWS = 25_000  # aclImdb/test: 12,500 per class
FULL_TOKEN_IDS = [7592, 2088, 2129, 2024, 2017, 1029]  # bert-base-uncased: hello world how are you ?


def freeze_bert(model: nn.Module) -> nn.Module:
    """Q2c: stop gradients for every BERT parameter (``requires_grad = False``); returns ``model``."""
    for param in model.bert.parameters():
        param.requires_grad = False
    return model


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Q2b, Q2c: elements of every parameter tensor (only those that require gradients if ``trainable_only``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def binary_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Q3a: fraction in [0, 1] of reviews whose predicted class (logit > 0) equals the label.

    logits: (B,) or (B, 1); labels: (B,) in {0, 1}.
    """
    predicted = logits.reshape(-1) > 0
    return (predicted == (labels.reshape(-1).to(predicted.device) > 0.5)).float().mean().item()


def _run_epoch(model: nn.Module, batches: Iterable, criterion: nn.Module,
               optimizer: torch.optim.Optimizer | None) -> tuple[float, float]:
    """Mean loss and accuracy over all reviews (each batch weighted by its size); trains if ``optimizer``."""
    total_loss = total_correct = 0.0
    count = 0
    for batch in batches:
        logits = batch_logits(model, batch)
        labels = batch.labels.to(logits.device).float()
        loss = criterion(logits, labels)
        if optimizer is not None:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        n = len(labels)
        total_loss += loss.item() * n
        total_correct += binary_accuracy(logits.detach(), labels) * n
        count += n
    if count == 0:
        raise ValueError("no batches; is the data set empty?")
    return total_loss / count, total_correct / count


def train_epoch(model: nn.Module, batches: Iterable, optimizer: torch.optim.Optimizer,
                criterion: nn.Module) -> tuple[float, float]:
    """Q3b: one pass of training over ``batches``; returns (mean loss on logits, accuracy in [0, 1])."""
    model.train()
    return _run_epoch(model, batches, criterion, optimizer)


def evaluate(model: nn.Module, batches: Iterable, criterion: nn.Module) -> tuple[float, float]:
    """Q3c: loss (on logits) and accuracy of ``model`` over ``batches``, in eval mode, without gradients."""
    model.eval()
    with torch.no_grad():
        return _run_epoch(model, batches, criterion, None)


# ---- known mistakes (the seed's and the classic ones), as functions of a probe case ---------------------

def _accuracy_with(rule: Callable[[torch.Tensor, torch.Tensor], float]) -> Callable[[Any], Any]:
    return lambda case: probes.observe_accuracy(rule, case, torch.device("cpu"))


ACCURACY_MISTAKES = (
    (_accuracy_with(lambda z, y: ((z > 0.5).float() == y).float().mean().item()),
     "logits are not probabilities: a logit z means P(positive) = sigmoid(z); which z gives 0.5? "),
    (_accuracy_with(lambda z, y: 100 * binary_accuracy(z, y)), "that looks like a percentage: return a fraction. "),
    (_accuracy_with(lambda z, y: binary_accuracy(z, y) * len(y)),
     "that looks like a count of right predictions, not a fraction of the reviews. "),
    (_accuracy_with(lambda z, y: (z == y).float().mean().item()),
     "compare predicted classes (0 or 1) with the labels, not the raw logits. "),
    (_accuracy_with(lambda z, y: 100 * (z == y).float().mean().item()),
     "compare predicted classes (0 or 1) with the labels, not the raw logits. "),
)


def _loop(*, training: bool, zero_grad: bool = True, step: bool = True, set_mode: bool = True,
          no_grad: bool = True, weighted: bool = True, percent: bool = False,
          loss_on: Callable[[torch.Tensor], torch.Tensor] | None = None,
          accuracy_on: Callable[[torch.Tensor], torch.Tensor] | None = None) -> Callable:
    """A loop like the course's with one slip switched on (the default switches give the course's loop)."""

    def run(model: nn.Module, batches: Iterable, *rest: Any) -> tuple[float, float]:
        optimizer, criterion = rest if training else (None, rest[0])
        if set_mode:
            model.train(training)
        losses, accs, sizes = [], [], []
        with torch.set_grad_enabled(training or not no_grad):
            for batch in batches:
                logits = batch_logits(model, batch)
                labels = batch.labels.to(logits.device).float()
                loss = criterion(loss_on(logits) if loss_on else logits, labels)
                if training:
                    if zero_grad:
                        optimizer.zero_grad()
                    loss.backward()
                    if step:
                        optimizer.step()
                losses.append(loss.item())
                given = accuracy_on(logits.detach()) if accuracy_on else logits.detach()
                accs.append(binary_accuracy(given, labels) * (100 if percent else 1))
                sizes.append(len(labels) if weighted else 1)
        return (sum(v * n for v, n in zip(losses, sizes)) / sum(sizes),
                sum(v * n for v, n in zip(accs, sizes)) / sum(sizes))

    return run


def _observed(loop: Callable, training: bool, stand_in: bool = True) -> Callable[[Any], Any]:
    return lambda case: probes.observe_loop(loop, case, training, torch.device("cpu"), stand_in)


_PLAIN_MEAN = ("the batches differ in size: weight each batch's loss and accuracy by its number of reviews, and "
               "divide by the number of reviews. ")
_ROUNDED = "a loss on rounded probabilities ignores how sure the model is (and gives no useful gradient): use the logits. "
_MODE_TRAIN = "dropout must be on while training: which mode does the model have to be in? "
_MODE_EVAL = "dropout must be off when measuring: which mode does the model have to be in? "
# The loops are probed with a stand-in for binary_accuracy (probes.AccuracyStandIn): these two hints are about
# what the loop does with binary_accuracy, never about binary_accuracy itself (that is its own check).
_RESCALED = ("your loop changes the scale of what binary_accuracy gives (a percentage?): average its values over "
             "the reviews as they are. ")
_ACCURACY_INPUTS = "give binary_accuracy the batch's logits, as the model returned them, and the batch's labels. "
_LOOP_SLIPS_TRAIN = (
    (dict(zero_grad=False), "the weights after the epoch differ: gradients add up from one backward pass to the next "
                            "unless cleared. "),
    (dict(step=False), "the weights did not change: each batch needs a backward pass and an optimizer step. "),
    (dict(set_mode=False), _MODE_TRAIN),
    (dict(weighted=False), _PLAIN_MEAN),
    (dict(accuracy_on=torch.sigmoid), _ACCURACY_INPUTS),
    (dict(loss_on=lambda z: torch.round(torch.sigmoid(z))), _ROUNDED),
    (dict(loss_on=torch.sigmoid), "BCEWithLogitsLoss applies the sigmoid itself: give it the logits. "),
)
_LOOP_SLIPS_EVALUATE = (
    (dict(set_mode=False), _MODE_EVAL),
    (dict(no_grad=False), "measuring needs no gradients: switch them off around the loop. "),
    (dict(weighted=False), _PLAIN_MEAN),
    (dict(accuracy_on=torch.sigmoid), _ACCURACY_INPUTS),
    (dict(loss_on=lambda z: torch.round(torch.sigmoid(z))), _ROUNDED),
    (dict(loss_on=torch.sigmoid), "BCEWithLogitsLoss applies the sigmoid itself: give it the logits. "),
)


def _loop_mistakes(slips: tuple, training: bool) -> tuple:
    """Each slip observed as the probe sees it, both with the binary_accuracy stand-in (a loop that calls it)
    and without (a loop that computes its accuracy itself), so a self-check names the slip either way; then
    every two slips together, whose hint names both (one slip must not hide another's hint)."""
    rescaled = ((_observed(_loop(training=training, percent=True), training), _RESCALED),
                (_observed(_loop(training=training, percent=True), training, stand_in=False),
                 "return the accuracy as a fraction of the reviews, not a percentage. "))
    single = rescaled + tuple((_observed(_loop(training=training, **slip), training, stand_in), hint)
                              for stand_in in (True, False) for slip, hint in slips)
    both = ((dict(percent=True), _RESCALED),) + slips
    pairs = tuple((_observed(_loop(training=training, **first, **second), training, stand_in), f"{hint1}Also: {hint2}")
                  for stand_in in (True, False) for i, (first, hint1) in enumerate(both)
                  for second, hint2 in both[i + 1:] if not set(first) & set(second) and hint1 != hint2)
    return single + pairs


TRAIN_MISTAKES = _loop_mistakes(_LOOP_SLIPS_TRAIN, True)
EVALUATE_MISTAKES = _loop_mistakes(_LOOP_SLIPS_EVALUATE, False)


# ---- hidden cases ------------------------------------------------------------------------------------

def _accuracy_cases(rng: random.Random) -> list:
    cases = []
    for _ in range(6):
        n = rng.randint(2, 12)
        logits = [round(rng.choice([rng.uniform(0.01, 0.49), rng.uniform(-3, 3), -rng.uniform(0.01, 0.3)]), 3)
                  for _ in range(n)]
        cases.append({"logits": logits, "labels": [rng.randint(0, 1) for _ in range(n)]})
    return cases


def _loop_cases(rng: random.Random) -> list:
    cases = []
    for _ in range(3):
        sizes = rng.sample(range(1, 9), rng.randint(3, 4))  # distinct sizes: a plain mean of batch means differs
        cases.append({"seed": rng.randrange(10_000), "sizes": sizes})
    return cases


def _loop_compare(got: Any, want: Any, case: Any = None) -> tuple[bool, str]:
    """Loss, accuracy and weights within float32 round-off (another device rounds differently); flags exact."""
    return close(got, want, case, rtol=1e-4, atol=1e-5)


JUDGES = {
    "lab.binary_accuracy": Judge(_accuracy_cases, _accuracy_with(binary_accuracy), compare=_loop_compare,
                                 mistakes=ACCURACY_MISTAKES),
    # A loop that calls binary_accuracy is judged with the stand-in's values; one that computes the accuracy
    # itself (also_right), with the key's accuracy.
    "lab.train_epoch": Judge(_loop_cases, _observed(train_epoch, True), compare=_loop_compare, mistakes=TRAIN_MISTAKES,
                             also_right=(_observed(train_epoch, True, stand_in=False),)),
    "lab.evaluate": Judge(_loop_cases, _observed(evaluate, False), compare=_loop_compare, mistakes=EVALUATE_MISTAKES,
                          also_right=(_observed(evaluate, False, stand_in=False),)),
}


# ---- the hash-checked answers and their known mistakes: the registry is built from these -----------------
# A mistake's hint names the slip and where to look, never the answer; its fingerprint is stored as a slow
# salted hash like the answer's (``course_utils.checks.named_mistake``). Every number that varies per student
# (``course_utils.lab.variants``) is read from ``LabConfig.for_mode`` when a function runs.

def split_sizes(train_fraction: float, n_train: int, n_test: int) -> list[int]:
    """Q1b: (train, valid, test) of ``n_train`` training reviews split as ``data.split_train_valid`` does."""
    kept = round(train_fraction * n_train)
    return [kept, n_train - kept, n_test]


def full_split_sizes() -> list[int]:
    """Q1b in full mode, in this process's variant: the archive's training reviews split by its fraction."""
    from course_utils.lab import config

    return split_sizes(config.LabConfig.for_mode(False).train_fraction, IMDB_TRAIN_REVIEWS, IMDB_TEST_REVIEWS)


def tiny_split_sizes(train_fraction: float | None = None) -> list[int]:
    """Q1b in tiny mode, in this process's variant (or for ``train_fraction``): counted on the synthetic set."""
    from course_utils.lab import config, data

    cfg = config.LabConfig.for_mode(True)
    fraction = cfg.train_fraction if train_fraction is None else train_fraction
    reviews, n_test = _synthetic_set(cfg.n_synthetic, cfg.synthetic_seed, cfg.n_synthetic_test or None)
    train_set, valid_set = data.split_train_valid(reviews, fraction, cfg.seed)
    return [len(train_set), len(valid_set), n_test]


@functools.lru_cache(maxsize=2)
def _synthetic_set(n_per_class: int, seed: int, n_test_per_class: int | None) -> tuple[Any, int]:
    """(the training reviews, the number of test reviews) of tiny mode's synthetic set, written once per process
    (the same in every variant: ``LabConfig.synthetic_seed``)."""
    from course_utils.lab import data

    with tempfile.TemporaryDirectory() as tmp:
        root = data.synthetic_imdb(Path(tmp), n_per_class, seed, n_test_per_class)
        return data.load_split(root, "train"), len(data.load_split(root, "test"))


def pinned_full(question: str, mode_name: str) -> Any:
    """A pinned full-mode answer (``registry.PINNED``) in this process's variant, for ``registry.PINNED_VARIANTS``:
    the split sizes of the variant's fraction, the sentence's ids (the same in every variant); None in tiny mode,
    whose answers ``answers`` computes."""
    if mode_name != "full":
        return None
    return {"lab.split_sizes": full_split_sizes, "lab.token_ids": lambda: list(FULL_TOKEN_IDS)}[question]()


def _berts(tiny: bool) -> tuple[nn.Module, nn.Module]:
    """(the mode's BERT, the BERT the model check is built on): tiny mode's own twice; in full mode bert-base on
    the meta device (counts only) and a one-layer BERT of bert-base's width (the head is what is checked)."""
    from transformers import BertConfig, BertModel

    from course_utils.lab import model, text

    if tiny:
        bert = model.load_bert(tiny=True, vocab_size=len(text.load_tokenizer(tiny=True)))
        return bert, bert
    with torch.device("meta"):
        bert = BertModel(BertConfig())
    return bert, BertModel(BertConfig(num_hidden_layers=1, vocab_size=8, intermediate_size=8))


def _sizes(cfg: Any, **changes: Any) -> dict[str, Any]:
    sizes = dict(hidden_dim=cfg.hidden_dim, output_dim=cfg.output_dim, n_layers=cfg.n_layers,
                 bidirectional=cfg.bidirectional, dropout=cfg.dropout)
    return {**sizes, **changes}


def counts(tiny: bool, hidden_dim: int | None = None) -> tuple[int, int]:
    """Q2b, Q2c: (all parameters, trainable ones once BERT is frozen) of the mode's model in this process's
    variant, or with the GRU's ``hidden_dim`` instead of the variant's."""
    from course_utils.lab import config, model

    cfg = config.LabConfig.for_mode(tiny)
    sizes = _sizes(cfg, **({} if hidden_dim is None else {"hidden_dim": hidden_dim}))
    with torch.random.fork_rng(devices=[]):
        net = model.BERTGRUSentiment(_berts(tiny)[0], **sizes)
    n_params = count_parameters(net)
    return n_params, count_parameters(freeze_bert(net), trainable_only=True)


def _other_variants(key: str) -> list[Any]:
    """The values of ``key`` in the lab's other variants (in table order, each once, none equal to this one's)."""
    from course_utils import variants

    mine = variants.params("lab").get(key)
    found: list[Any] = []
    for numbers in variants.table("lab"):
        value = numbers.get(key)
        if value is not None and value != mine and value not in found:
            found.append(value)
    return found


def premise() -> tuple[bool, str]:
    """The lab's premise in this process's variant, as code: (ok, why not). In both modes the validation fraction
    leaves a training set larger than a non-empty validation set; the model builds on the mode's BERT as a
    2-layer bidirectional GRU of the variant's hidden size (tiny mode's smaller than full mode's) under one
    logit; freezing BERT leaves exactly the GRU and the linear layer trainable, and their count is the GRU's."""
    from course_utils.lab import config, model

    for tiny in (True, False):
        cfg = config.LabConfig.for_mode(tiny)
        name = "tiny" if tiny else "full"
        n_train = 2 * cfg.n_synthetic if tiny else IMDB_TRAIN_REVIEWS
        if not 0.0 < cfg.train_fraction < 1.0:
            return False, f"{name} mode: the training fraction {cfg.train_fraction} leaves no validation set"
        train, valid, _ = split_sizes(cfg.train_fraction, n_train, 1)
        if not 0 < valid < train:
            return False, f"{name} mode: a {train}/{valid} split is not a training set with a smaller validation set"
        if not (cfg.n_layers == 2 and cfg.bidirectional and cfg.output_dim == 1 and 0 < cfg.dropout < 1):
            return False, f"{name} mode: the head is not a 2-layer bidirectional GRU with dropout under one logit"
        if not isinstance(cfg.hidden_dim, int) or cfg.hidden_dim < 8:
            return False, f"{name} mode: hidden size {cfg.hidden_dim!r} is no GRU's"
        with torch.random.fork_rng(devices=[]):
            net = model.BERTGRUSentiment(_berts(tiny)[1], **_sizes(cfg))
        rnn = net.rnn
        if (rnn.num_layers, rnn.bidirectional, rnn.hidden_size, net.out.in_features) != (2, True, cfg.hidden_dim,
                                                                                           2 * cfg.hidden_dim):
            return False, (f"{name} mode: the model built is not the 2-layer bidirectional GRU of hidden size "
                           f"{cfg.hidden_dim}")
        freeze_bert(net)
        if any(p.requires_grad for p in net.bert.parameters()):
            return False, f"{name} mode: BERT keeps trainable parameters after freezing"
        trainable = {n for n, p in net.named_parameters() if p.requires_grad}
        if not trainable or any(not n.startswith(("rnn.", "out.")) for n in trainable):
            return False, f"{name} mode: after freezing BERT the trainable parameters are {sorted(trainable)}"
    tiny_h, full_h = config.LabConfig.for_mode(True).hidden_dim, config.LabConfig.for_mode(False).hidden_dim
    if not tiny_h < full_h:
        return False, f"tiny mode's hidden size {tiny_h} is not smaller than full mode's {full_h}"
    return True, ""


def answers(tiny: bool) -> dict[str, Any]:
    """The lab's counts, ids, sizes and model for tiny or full mode in this process's variant (offline: full-mode
    BERT on the meta device, and, for the model check, a one-layer BERT of bert-base's width: the head is what is
    checked).

    The pinned full-mode answers (``registry.PINNED``) are not in here (``pinned_full`` gives them per variant).
    """
    from transformers import BertConfig

    from course_utils.lab import checks as lab
    from course_utils.lab import config, model, text

    tokenizer = text.load_tokenizer(tiny=True)
    cfg = config.LabConfig.for_mode(tiny)
    with torch.random.fork_rng(devices=[]):
        built = model.BERTGRUSentiment(_berts(tiny)[1], **_sizes(cfg))
    n_params, n_trainable = counts(tiny)
    found = {
        "lab.special_ids": tokenizer.convert_tokens_to_ids(list(lab.SPECIAL_TOKENS)),
        "lab.label_vocab": dict(LABEL_VOCAB),
        "lab.vocab_size": len(tokenizer) if tiny else BertConfig().vocab_size,
        "lab.model": built,
        "lab.n_params": n_params,
        "lab.n_trainable": n_trainable,
    }
    if tiny:
        found["lab.token_ids"] = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(lab.SAMPLE_SENTENCE))
        found["lab.split_sizes"] = tiny_split_sizes()
    return found


_ANOTHER_HIDDEN = ("that is the count for another hidden size of the GRU: build the model with config.hidden_dim "
                   "(your numbers are printed at the top of the notebook). ")


def mistakes(tiny: bool, answers: dict[str, Any]) -> dict[str, list[tuple[Any, str]]]:
    """The lab: BERT left out of a count or left trainable, special tokens kept, labels swapped, a model built
    with a size that is not the config's (each named), and the numbers of another variant (another hidden size,
    another validation fraction: a classmate's answer, or the original lab's in the prompt)."""
    from course_utils.lab import checks as lab
    from course_utils.lab import config, model, text

    n_params, n_trainable = answers["lab.n_params"], answers["lab.n_trainable"]
    bert_only = n_params - n_trainable
    cfg, other = config.LabConfig.for_mode(tiny), config.LabConfig.for_mode(not tiny)
    sizes = _sizes(cfg)
    tokenizer = text.load_tokenizer(tiny=True)
    vocab = answers["lab.vocab_size"]
    labels = answers["lab.label_vocab"]
    hidden_key = "tiny_hidden_dim" if tiny else "hidden_dim"
    other_counts = [counts(tiny, hidden) for hidden in _other_variants(hidden_key)]
    found: dict[str, list[tuple[Any, str]]] = {
        "lab.vocab_size": [(vocab - 1, "one short: count every entry of the vocabulary, the special tokens too. "),
                           (vocab - vocab % 1000, "a round number is a guess: ask the tokenizer for its size. ")],
        "lab.label_vocab": [(dict(zip(labels, reversed(list(labels.values())))),
                             "the labels are the other way round: read a positive review next to its label. ")],
        "lab.n_params": [(n_trainable, "that leaves BERT out: n_params counts every parameter of the model. "),
                         (bert_only, "that is BERT alone: the GRU and the linear layer have parameters too. ")]
                        + [(all_, _ANOTHER_HIDDEN) for all_, _ in other_counts],
        "lab.n_trainable": [(n_params, "BERT's parameters still require gradients: freeze them before counting. "),
                            (n_trainable - 1, "one short: every bias counts, the output layer's too. "),
                            (bert_only, "that counts the frozen parameters: count those that still require "
                                        "gradients. ")]
                           + [(trainable, _ANOTHER_HIDDEN) for _, trainable in other_counts],
    }
    if tiny:
        found["lab.token_ids"] = [(tokenizer.encode(lab.SAMPLE_SENTENCE),
                                   "without the special tokens ([CLS], [SEP]) that encoding adds. ")]
        found["lab.split_sizes"] = [(tiny_split_sizes(fraction), "that is the split of another validation fraction: "
                                     "count the sets that prepare_data made with your config (your fraction is "
                                     "printed at the top of the notebook). ")
                                    for fraction in _other_variants("train_fraction")]
    wrong_sizes = [(dict(hidden_dim=hidden), "the GRU's hidden size is another variant's, not yours: take it from "
                                             "config (your numbers are printed at the top of the notebook). ")
                   for hidden in _other_variants(hidden_key)]
    wrong_sizes += [
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
        head_bert = _berts(tiny)[1]
        found["lab.model"] = [(model.BERTGRUSentiment(head_bert, **{**sizes, **change}), hint)
                              for change, hint in wrong_sizes if any(sizes[k] != v for k, v in change.items())]
    return found
