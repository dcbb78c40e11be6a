"""The lab's judged self-checks: binary_accuracy, train_epoch and evaluate as students write them.

Right answers in several styles must pass; the known wrong ones (a threshold at 0.5 on logits, a
percentage, a count, the loss on rounded probabilities, a plain mean of batch means, no zero_grad, no
model.train()/eval(), no torch.no_grad()) must fail with a hint naming the slip. The oracle for the
accuracy is a hand count; for the loops it is a hand-written loop here, not the package's.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils.checks import verify
from course_utils.sentiment.loop_checks import toy_batches
from course_utils.sentiment.train import batch_logits
from tests.check_tables import table_tests


# ---- binary_accuracy -------------------------------------------------------------------------------

def acc_compare(logits, labels):
    return ((logits > 0).float() == labels).float().mean().item()


def acc_sigmoid_round(logits, labels):
    return (torch.round(torch.sigmoid(logits)) == labels).sum().item() / len(labels)


def acc_numpy(logits, labels):
    return float(np.mean((logits.numpy() > 0) == (labels.numpy() > 0.5)))


def acc_tensor(logits, labels):  # a 0-d tensor is a number too
    return ((torch.sigmoid(logits) > 0.5) == labels.bool()).float().mean()


def acc_loop(logits, labels):
    right = sum(int((z > 0) == (y == 1)) for z, y in zip(logits.tolist(), labels.tolist()))
    return right / len(labels)


def acc_threshold_logits(logits, labels):  # treats logits as probabilities
    return ((logits > 0.5).float() == labels).float().mean().item()


def acc_percentage(logits, labels):
    return 100 * acc_compare(logits, labels)


def acc_count(logits, labels):
    return ((logits > 0).float() == labels).float().sum().item()


def acc_seed(logits, labels):  # the submitted lab: raw logits compared with labels, as a percentage
    return (logits == labels).sum().item() / len(labels) * 100


def acc_raw(logits, labels):
    return (logits == labels).float().mean().item()


def acc_blank(logits, labels):
    ...


@pytest.mark.parametrize("function", [acc_compare, acc_sigmoid_round, acc_numpy, acc_tensor, acc_loop])
def test_binary_accuracy_right(function):
    assert verify("lab.binary_accuracy", function).message == "lab.binary_accuracy: correct."


@pytest.mark.parametrize(("function", "hint"), [
    (acc_threshold_logits, "logits are not probabilities"),
    (acc_percentage, "percentage"),
    (acc_count, "count"),
    (acc_seed, "0/1 predictions"),  # scores 0 on the first case, whatever the scale
    (acc_raw, "0/1 predictions"),
    (lambda logits, labels: 0.75, "differs"),
    (lambda logits: 1.0, "TypeError"),
    (0.75, "pass your function itself"),
])
def test_binary_accuracy_wrong(function, hint):
    result = verify("lab.binary_accuracy", function)
    assert not result.ok and "not yet. Hint:" in result.message and hint in result.message


def test_binary_accuracy_blank():
    for value in (acc_blank, ...):
        result = verify("lab.binary_accuracy", value)
        assert not result.ok and "no answer yet" in result.message


def test_binary_accuracy_cases_separate_thresholds():
    """The hidden cases hold logits in (0, 0.5), so a threshold at 0.5 gets a different fraction."""
    from course_utils.sentiment.checks import ACCURACY_CASES

    logits = torch.tensor([z for case, _ in ACCURACY_CASES for z in case])
    assert ((logits > 0) != (logits > 0.5)).any()


# ---- train_epoch and evaluate -------------------------------------------------------------------------

def _mean_over_reviews(values_and_sizes):
    total = sum(v * n for v, n in values_and_sizes)
    return total / sum(n for _, n in values_and_sizes)


def train_right(model, batches, optimizer, criterion):
    model.train()
    losses, accs = [], []
    for batch in batches:
        logits = batch_logits(model, batch)
        labels = batch.labels.float()
        loss = criterion(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append((loss.item(), len(labels)))
        accs.append((acc_compare(logits.detach(), labels), len(labels)))
    return _mean_over_reviews(losses), _mean_over_reviews(accs)


def train_zero_grad_last(model, batches, optimizer, criterion):
    model.train()
    total_loss, correct, seen = torch.tensor(0.0), 0, 0
    for batch in batches:
        logits = batch_logits(model, batch)
        loss = criterion(logits, batch.labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        total_loss += loss.detach() * len(batch.labels)
        correct += ((logits > 0).float() == batch.labels).sum().item()
        seen += len(batch.labels)
    return total_loss / seen, correct / seen  # a tensor loss is fine


def _train_variant(*, zero_grad=True, step=True, train_mode=True, weighted=True, percent=False, loss_input=None):
    def loop(model, batches, optimizer, criterion):
        if train_mode:
            model.train()
        losses, accs = [], []
        for batch in batches:
            logits = batch_logits(model, batch)
            labels = batch.labels.float()
            loss = criterion(loss_input(logits) if loss_input else logits, labels)
            if zero_grad:
                optimizer.zero_grad()
            loss.backward()
            if step:
                optimizer.step()
            n = len(labels) if weighted else 1
            losses.append((loss.item(), n))
            accs.append((acc_compare(logits.detach(), labels) * (100 if percent else 1), n))
        return _mean_over_reviews(losses), _mean_over_reviews(accs)
    return loop


def train_direct_model_call(model, batches, optimizer, criterion):
    model.train()
    for batch in batches:
        model(batch.input_ids, batch.attention_mask)
    return 0.0, 0.0


def train_blank(model, batches, optimizer, criterion):
    ...


@pytest.mark.parametrize("loop", [train_right, train_zero_grad_last])
def test_train_epoch_right(loop):
    assert verify("lab.train_epoch", loop).message == "lab.train_epoch: correct."


@pytest.mark.parametrize(("loop", "hint"), [
    (_train_variant(zero_grad=False), "optimizer.zero_grad()"),
    (_train_variant(step=False), "optimizer step"),
    (_train_variant(train_mode=False), "model.train()"),
    (_train_variant(weighted=False), "plain mean of the batch losses"),
    (_train_variant(percent=True), "not a percentage"),
    (_train_variant(loss_input=lambda z: torch.round(torch.sigmoid(z))), "rounded probabilities"),
    (_train_variant(loss_input=torch.sigmoid), "logits themselves"),
    (train_direct_model_call, "batch_logits(model, batch)"),
    (lambda model, batches, optimizer, criterion: (0.5, 0.5), "never ran the model"),
    (lambda model, batches, criterion: (0.5, 0.5), "TypeError"),
])
def test_train_epoch_wrong(loop, hint):
    result = verify("lab.train_epoch", loop)
    assert not result.ok and "not yet. Hint:" in result.message and hint in result.message, result.message


def test_train_epoch_blank():
    for value in (train_blank, ...):
        assert "no answer yet" in verify("lab.train_epoch", value).message


def evaluate_right(model, batches, criterion):
    model.eval()
    losses, accs = [], []
    with torch.no_grad():
        for batch in batches:
            logits = batch_logits(model, batch)
            losses.append((criterion(logits, batch.labels).item(), len(batch.labels)))
            accs.append((acc_compare(logits, batch.labels), len(batch.labels)))
    return _mean_over_reviews(losses), _mean_over_reviews(accs)


@torch.no_grad()
def evaluate_decorated(model, batches, criterion):
    model.train(False)
    total = correct = 0.0
    n = 0
    for batch in batches:
        logits = batch_logits(model, batch)
        total += criterion(logits, batch.labels).item() * len(logits)
        correct += ((logits > 0) == (batch.labels > 0.5)).sum().item()
        n += len(logits)
    return total / n, correct / n


def _evaluate_variant(*, eval_mode=True, no_grad=True, weighted=True, percent=False, loss_input=None):
    def loop(model, batches, criterion):
        if eval_mode:
            model.eval()
        losses, accs = [], []
        with torch.set_grad_enabled(not no_grad):
            for batch in batches:
                logits = batch_logits(model, batch)
                n = len(batch.labels) if weighted else 1
                loss = criterion(loss_input(logits) if loss_input else logits, batch.labels)
                losses.append((loss.item(), n))
                accs.append((acc_compare(logits.detach(), batch.labels) * (100 if percent else 1), n))
        return _mean_over_reviews(losses), _mean_over_reviews(accs)
    return loop


@pytest.mark.parametrize("loop", [evaluate_right, evaluate_decorated])
def test_evaluate_right(loop):
    assert verify("lab.evaluate", loop).message == "lab.evaluate: correct."


@pytest.mark.parametrize(("loop", "hint"), [
    (_evaluate_variant(eval_mode=False), "model.eval()"),
    (_evaluate_variant(no_grad=False), "torch.no_grad()"),
    (_evaluate_variant(weighted=False), "plain mean of the batch losses"),
    (_evaluate_variant(percent=True), "not a percentage"),
    (_evaluate_variant(loss_input=lambda z: torch.round(torch.sigmoid(z))), "rounded probabilities"),
    (train_right, "TypeError"),
])
def test_evaluate_wrong(loop, hint):
    result = verify("lab.evaluate", loop)
    assert not result.ok and "not yet. Hint:" in result.message and hint in result.message, result.message


def test_evaluate_blank():
    assert "no answer yet" in verify("lab.evaluate", lambda model, batches, criterion: None).message


def test_toy_batches_differ_in_size_and_kind():
    """The judges' batches must separate a weighted mean from a plain one and test both batch kinds."""
    batches = toy_batches()
    sizes = [len(b.labels) for b in batches]
    assert len(set(sizes)) == len(sizes)
    assert hasattr(batches[0], "features") and hasattr(batches[-1], "input_ids")


def test_the_course_loops_pass_their_own_checks():
    from course_utils.sentiment.train import evaluate, train_epoch

    assert verify("lab.train_epoch", lambda m, b, o, c: train_epoch(m, b, o, c, progress=False)).ok
    assert verify("lab.evaluate", lambda m, b, c: evaluate(m, b, c, progress=False)).ok


WEIRD = [None, "0.75", 3, lambda *args: "x", lambda *args: (float("nan"), float("nan")), lambda *args: 1 / 0]
_, _, test_weird_input_never_raises_and_a_blank_is_no_answer = table_tests(
    {"lab.binary_accuracy": [acc_compare], "lab.train_epoch": [train_right], "lab.evaluate": [evaluate_right]}, {}, WEIRD)
