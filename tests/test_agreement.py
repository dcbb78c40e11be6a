"""One verdict per answer, one mistake per check: the self-check and the grader's judge agree on every form.

Each table row is an answer as a student writes it, run through the self-check (``checks.verify``) and
through the grader's path (the spec's probe on hidden cases, judged outside: ``tests.check_tables.graded``).
They must agree, except where the row is marked ``hidden_only``: the grader's hidden cases catch what no
public case can (a lookup table of the public cases).
"""

from __future__ import annotations

import pytest
import sympy as sp
import torch

from course_utils.checks import verify
from course_utils.q2 import recurrence as rec
from tests.check_tables import graded

x = sp.IndexedBase("x")
k, t = sp.symbols("k t", integer=True)
j = sp.Symbol("j", integer=True, positive=True)
N = sp.Symbol("N", integer=True, nonnegative=True)
PAIRS = sp.Sum(x[2 * k] - x[2 * k - 1], (k, 1, N))

# (name, answer, right?, the words the self-check's hint must contain when wrong)
CLOSED_FORMS = [
    ("one sum over the N pairs", PAIRS, True, ""),
    ("two sums over k", sp.Sum(x[2 * k], (k, 1, N)) - sp.Sum(x[2 * k - 1], (k, 1, N)), True, ""),
    ("one sum over the 2N inputs", sp.Sum((-1) ** j * x[j], (j, 1, 2 * N)), True, ""),
    ("one sum over the 2N inputs, sign (-1)^(2N-t)", sp.Sum((-1) ** (2 * N - t) * x[t], (t, 1, 2 * N)), True, ""),
    ("a text", "Sum(x[2*k] - x[2*k-1], (k, 1, N))", True, ""),
    ("a function of N", lambda n: sp.Sum(x[2 * k] - x[2 * k - 1], (k, 1, n)), True, ""),
    ("signs swapped", sp.Sum(x[2 * k - 1] - x[2 * k], (k, 1, N)), False, "sign of every input"),
    ("sum from k = 0", sp.Sum(x[2 * k] - x[2 * k - 1], (k, 0, N)), False, "one pair too many"),
    ("sum to N - 1", sp.Sum(x[2 * k] - x[2 * k - 1], (k, 1, N - 1)), False, "one pair short"),
    ("only the even inputs", sp.Sum(x[2 * k], (k, 1, N)), False, ""),
    ("the last pair only", x[2 * N] - x[2 * N - 1], False, ""),
    ("a sum over a length sympy cannot step (N^2 terms)", sp.Sum((-1) ** j * x[j], (j, 1, 2 * N ** 2))
     - sp.Sum((-1) ** j * x[j], (j, 2 * N + 1, 2 * N ** 2)), True, "cannot follow"),
]


@pytest.mark.parametrize(("name", "answer", "right", "hint"), CLOSED_FORMS, ids=[row[0] for row in CLOSED_FORMS])
def test_closed_form_self_check_and_grader_agree(name, answer, right, hint):
    mine, grader = verify("q2.closed_form", answer), graded("q2.closed_form", answer)
    if hint == "cannot follow":  # right in value, but no proof sympy can follow: both say so, in the same words
        assert not mine.ok and not grader[0] and "cannot follow" in mine.message and "cannot follow" in grader[1]
        return
    assert (mine.ok, grader[0]) == (right, right), (mine.message, grader)
    assert hint in mine.message


def test_the_handouts_induction_helper_proves_a_sum_over_the_2n_inputs():
    def two_steps(h, n):
        return x[2 * n + 2] - (x[2 * n + 1] - h)

    for claim in (PAIRS, sp.Sum((-1) ** j * x[j], (j, 1, 2 * N))):
        proof = rec.check_induction(lambda n: claim.subs(N, n), two_steps, N, index=lambda n: 2 * n)
        assert proof.holds, str(proof)
    wrong = rec.check_induction(lambda n: sp.Sum(x[2 * k], (k, 1, n)), two_steps, N, index=lambda n: 2 * n)
    assert not wrong.holds


# ---- the lab: loops that call the notebook's binary_accuracy are judged on their own work ------------------

_NOTEBOOK = '''
import torch
from course_utils.lab.train import batch_logits

def binary_accuracy(logits, labels):
    {accuracy}

def train_epoch(model, batches, optimizer, criterion):
    model.train()
    total_loss = total_acc = 0.0
    count = 0
    for batch in batches:
        logits = batch_logits(model, batch)
        labels = batch.labels.to(logits.device).float()
        loss = criterion(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(labels)
        total_acc += float(binary_accuracy(logits.detach(), labels)) * len(labels)
        count += len(labels)
    return total_loss / count, total_acc / count

def evaluate(model, batches, criterion):
    model.eval()
    total_loss = total_acc = 0.0
    count = 0
    with torch.no_grad():
        for batch in batches:
            logits = batch_logits(model, batch)
            labels = batch.labels.to(logits.device).float()
            total_loss += criterion(logits, labels).item() * len(labels)
            total_acc += binary_accuracy(logits, labels){item} * len(labels)
            count += len(labels)
    return total_loss / count, total_acc / count
'''
ACCURACIES = {
    "right": ("return ((logits.reshape(-1) > 0).float() == labels.reshape(-1)).float().mean().item()", True, ""),
    "a percentage": ("return 100 * ((logits.reshape(-1) > 0).float() == labels.reshape(-1)).float().mean().item()",
                     False, "percentage"),
    "a tensor (the seed's form)": ("return ((logits.reshape(-1) > 0).float() == labels.reshape(-1)).float().mean()",
                                   True, ""),
    "threshold 0.5 on logits": ("return ((logits.reshape(-1) > 0.5).float() == labels.reshape(-1)).float().mean().item()",
                                False, "logits are not probabilities"),
}


def _notebook(accuracy: str, item: str = "") -> dict:
    """The three functions as a notebook defines them: one namespace, the loops calling binary_accuracy by name."""
    namespace: dict = {"__name__": "__main__"}
    exec(_NOTEBOOK.format(accuracy=accuracy, item=item), namespace)  # noqa: S102 - the test's own source
    return namespace


@pytest.mark.parametrize("name", sorted(ACCURACIES))
def test_a_wrong_binary_accuracy_costs_only_its_own_check(name):
    body, right, hint = ACCURACIES[name]
    item = ".item()" if "item()" not in body else ""
    namespace = _notebook(body, item)
    before = namespace["binary_accuracy"]
    mine = verify("lab.binary_accuracy", namespace["binary_accuracy"])
    assert mine.ok is right and hint in mine.message, mine.message
    assert graded("lab.binary_accuracy", namespace["binary_accuracy"])[0] is right
    for question in ("lab.train_epoch", "lab.evaluate"):
        result = verify(question, namespace[question.split(".")[1]])
        assert result.ok, (name, result.message)
        assert graded(question, namespace[question.split(".")[1]]) == (True, ""), (name, question)
    assert namespace["binary_accuracy"] is before  # the stand-in is gone once the probe is done


def test_a_loop_that_rescales_binary_accuracy_is_told_about_its_own_slip():
    namespace = _notebook(ACCURACIES["right"][0])
    source = _NOTEBOOK.format(accuracy=ACCURACIES["right"][0], item="")
    exec(source.replace("total_acc / count\n\ndef evaluate", "100 * total_acc / count\n\ndef evaluate"), namespace)
    result = verify("lab.train_epoch", namespace["train_epoch"])
    assert not result.ok and "scale of what binary_accuracy gives" in result.message, result.message
    ok, detail = graded("lab.train_epoch", namespace["train_epoch"])
    assert not ok and "scale of what binary_accuracy gives" in detail


def test_an_evaluate_that_updates_the_weights_is_told_so():
    namespace = _notebook(ACCURACIES["right"][0])

    def evaluate(model, batches, criterion):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        result = namespace["evaluate"](model, batches, criterion)
        model.train()
        for batch in batches[:1]:
            loss = criterion(namespace["batch_logits"](model, batch), batch.labels.to(next(model.parameters()).device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        return result

    result = verify("lab.evaluate", evaluate)
    assert not result.ok and "changed the model's weights" in result.message, result.message
    ok, detail = graded("lab.evaluate", evaluate)
    assert not ok and "changed the model's weights" in detail
