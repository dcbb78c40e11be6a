"""The lab's function self-checks: binary_accuracy, train_epoch and evaluate as students write them, and the model.

Right answers in several styles (prints and progress bars inside included) must pass; the known wrong
ones (a threshold at 0.5 on logits, a percentage, a count, the loss on rounded probabilities, a plain
mean of batch means, no zero_grad, no model.train()/eval(), no torch.no_grad()) must fail with a hint
naming the slip; weird input never raises. The self-checks compare with hashes of the key's outputs on
public cases; the grader's judge (``course_staff.judging``) runs hidden cases, which a lookup table fitted
to the public ones fails. The loops here are written by hand, not taken from the key.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tqdm import tqdm

from course_staff import judging
from course_utils.checks import specs, verify
from course_utils.lab import checks as lab_checks
from course_utils.lab import workflow as lab, probes
from course_utils.lab.train import batch_logits
from tests.check_tables import table_tests

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def _judged_on_hidden_cases(question: str, function, seed: int = 2024) -> tuple[bool, str]:
    """What the grader decides: the probe on fresh hidden cases, judged against the key's oracle."""
    cases = judging.hidden_cases([question], seed)[question]
    outputs = []
    for case in cases:
        try:
            outputs.append({"output": specs()[question].probe(function, case)})
        except Exception as exc:  # noqa: BLE001 - the sandbox reports an error the same way
            outputs.append({"error": str(exc)})
    return judging.judge_outputs(question, cases, outputs)


# ---- binary_accuracy -------------------------------------------------------------------------------

def acc_compare(logits, labels):
    return ((logits > 0).float() == labels).float().mean().item()


def acc_sigmoid_round(logits, labels):
    return (torch.round(torch.sigmoid(logits)) == labels).sum().item() / len(labels)


def acc_numpy(logits, labels):
    return float(np.mean((logits.cpu().numpy() > 0) == (labels.cpu().numpy() > 0.5)))


def acc_tensor(logits, labels):  # a 0-d tensor is a number too
    return ((torch.sigmoid(logits) > 0.5) == labels.bool()).float().mean()


def acc_loop_printing(logits, labels):
    right = sum(int((z > 0) == (y == 1)) for z, y in zip(logits.tolist(), labels.tolist()))
    print("right:", right, "of", len(labels))
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


ACCURACY_RIGHT = [acc_compare, acc_sigmoid_round, acc_numpy, acc_tensor, acc_loop_printing]


@pytest.mark.parametrize("function", ACCURACY_RIGHT)
def test_binary_accuracy_right(function, capsys):
    assert verify("lab.binary_accuracy", function).message == "lab.binary_accuracy: correct."
    assert capsys.readouterr().out == ""  # the student's prints are swallowed: a check prints one line
    assert _judged_on_hidden_cases("lab.binary_accuracy", function) == (True, "")


ACCURACY_WRONG = [
    (acc_threshold_logits, "logits are not probabilities"),
    (acc_percentage, "percentage"),
    (acc_count, "count"),
    (acc_seed, "not the raw logits"),
    (acc_raw, "not the raw logits"),
    (lambda logits, labels: 0.75, "same output on every public case"),
    (lambda logits: 1.0, "TypeError"),
    (0.75, "pass your function itself"),
]


@pytest.mark.parametrize(("function", "hint"), ACCURACY_WRONG)
def test_binary_accuracy_wrong(function, hint):
    result = verify("lab.binary_accuracy", function)
    assert not result.ok and "not yet. Hint:" in result.message and hint in result.message, result.message


def test_binary_accuracy_blank():
    for value in (acc_blank, ...):
        result = verify("lab.binary_accuracy", value)
        assert not result.ok and "no answer yet" in result.message


def test_binary_accuracy_cases_separate_thresholds():
    """The public cases hold logits in (0, 0.5), so a threshold at 0.5 gets a different fraction."""
    logits = torch.tensor([z for case in lab_checks.ACCURACY_CASES for z in case["logits"]])
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
        labels = batch.labels.to(logits.device).float()
        loss = criterion(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append((loss.item(), len(labels)))
        accs.append((acc_compare(logits.detach(), labels), len(labels)))
    return _mean_over_reviews(losses), _mean_over_reviews(accs)


def train_zero_grad_last_tqdm(model, batches, optimizer, criterion):
    device = next(model.parameters()).device
    model.train()
    total_loss, correct, seen = torch.tensor(0.0, device=device), 0, 0
    for batch in tqdm(batches, desc="training"):
        logits = batch_logits(model, batch)
        labels = batch.labels.to(device)
        loss = criterion(logits, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        total_loss += loss.detach() * len(labels)
        correct += ((logits > 0).float() == labels).sum().item()
        seen += len(labels)
        print(f"batch loss {loss.item():.3f}")
    return total_loss / seen, correct / seen  # a tensor loss is fine


def _train_variant(*, zero_grad=True, step=True, train_mode=True, weighted=True, percent=False, loss_input=None):
    def loop(model, batches, optimizer, criterion):
        if train_mode:
            model.train()
        losses, accs = [], []
        for batch in batches:
            logits = batch_logits(model, batch)
            labels = batch.labels.to(logits.device).float()
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


def train_blank(model, batches, optimizer, criterion):
    ...


TRAIN_RIGHT = [train_right, train_zero_grad_last_tqdm]


@pytest.mark.parametrize("loop", TRAIN_RIGHT)
def test_train_epoch_right(loop, capsys):
    assert verify("lab.train_epoch", loop).message == "lab.train_epoch: correct."
    assert capsys.readouterr() == ("", "")
    assert _judged_on_hidden_cases("lab.train_epoch", loop) == (True, "")


TRAIN_WRONG = [
    (_train_variant(zero_grad=False), "unless cleared"),
    (_train_variant(step=False), "optimizer step"),
    (_train_variant(train_mode=False), "dropout must be on"),
    (_train_variant(weighted=False), "weight each batch"),
    (_train_variant(percent=True), "not a percentage"),
    (_train_variant(loss_input=lambda z: torch.round(torch.sigmoid(z))), "rounded probabilities"),
    (_train_variant(loss_input=lambda z: torch.round(torch.sigmoid(z)).detach()), "no gradient to follow"),
    (_train_variant(loss_input=torch.sigmoid), "give it the logits"),
    (lambda model, batches, optimizer, criterion: (0.5, 0.5), "differs"),
    (lambda model, batches, criterion: (0.5, 0.5), "TypeError"),
]


@pytest.mark.parametrize(("loop", "hint"), TRAIN_WRONG)
def test_train_epoch_wrong(loop, hint):
    result = verify("lab.train_epoch", loop)
    assert not result.ok and "not yet. Hint:" in result.message and hint in result.message, result.message
    assert not _judged_on_hidden_cases("lab.train_epoch", loop)[0]


def test_train_epoch_blank():
    for value in (train_blank, ...):
        assert "no answer yet" in verify("lab.train_epoch", value).message


def evaluate_right(model, batches, criterion):
    model.eval()
    losses, accs = [], []
    with torch.no_grad():
        for batch in batches:
            logits = batch_logits(model, batch)
            labels = batch.labels.to(logits.device)
            losses.append((criterion(logits, labels).item(), len(labels)))
            accs.append((acc_compare(logits, labels), len(labels)))
    return _mean_over_reviews(losses), _mean_over_reviews(accs)


@torch.no_grad()
def evaluate_decorated_tqdm(model, batches, criterion):
    model.train(False)
    total = correct = 0.0
    n = 0
    for batch in tqdm(batches):
        logits = batch_logits(model, batch)
        labels = batch.labels.to(logits.device)
        total += criterion(logits, labels).item() * len(logits)
        correct += ((logits > 0) == (labels > 0.5)).sum().item()
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
                labels = batch.labels.to(logits.device)
                n = len(labels) if weighted else 1
                loss = criterion(loss_input(logits) if loss_input else logits, labels)
                losses.append((loss.item(), n))
                accs.append((acc_compare(logits.detach(), labels) * (100 if percent else 1), n))
        return _mean_over_reviews(losses), _mean_over_reviews(accs)
    return loop


EVALUATE_RIGHT = [evaluate_right, evaluate_decorated_tqdm]


@pytest.mark.parametrize("loop", EVALUATE_RIGHT)
def test_evaluate_right(loop, capsys):
    assert verify("lab.evaluate", loop).message == "lab.evaluate: correct."
    assert capsys.readouterr() == ("", "")
    assert _judged_on_hidden_cases("lab.evaluate", loop) == (True, "")


EVALUATE_WRONG = [
    (_evaluate_variant(eval_mode=False), "dropout must be off"),
    (_evaluate_variant(no_grad=False), "no gradients"),
    (_evaluate_variant(weighted=False), "weight each batch"),
    (_evaluate_variant(percent=True), "not a percentage"),
    (_evaluate_variant(loss_input=lambda z: torch.round(torch.sigmoid(z))), "rounded probabilities"),
    (train_right, "TypeError"),
]


@pytest.mark.parametrize(("loop", "hint"), EVALUATE_WRONG)
def test_evaluate_wrong(loop, hint):
    result = verify("lab.evaluate", loop)
    assert not result.ok and "not yet. Hint:" in result.message and hint in result.message, result.message
    assert not _judged_on_hidden_cases("lab.evaluate", loop)[0]


def test_evaluate_blank():
    assert "no answer yet" in verify("lab.evaluate", lambda model, batches, criterion: None).message


def test_public_cases_have_batches_of_different_sizes_and_both_kinds():
    """The cases must separate a weighted mean from a plain one and test both batch kinds."""
    for case in lab_checks.LOOP_CASES:
        assert len(set(case["sizes"])) == len(case["sizes"])
        _, batches = probes.toy_setup(case, torch.device("cpu"), training=True)
        assert hasattr(batches[0], "features") and hasattr(batches[-1], "input_ids")


# ---- the grader's hidden cases ------------------------------------------------------------------------

def _lookup(question: str, returning):
    """A function fitted to the public cases: the key's outputs there (read off the oracle), a guess elsewhere."""
    oracle = judging.judges()[question].oracle
    table = {repr(case): oracle(case) for case in specs()[question].public_cases}
    return table, returning


def test_a_lookup_table_of_the_public_cases_passes_the_self_check_but_not_the_grader():
    table, _ = _lookup("lab.binary_accuracy", None)

    def looked_up(logits, labels):
        key = repr({"logits": [round(z, 6) for z in logits.tolist()], "labels": [int(y) for y in labels.tolist()]})
        known = {repr({"logits": [round(z, 6) for z in torch.tensor(c["logits"]).tolist()], "labels": c["labels"]}): v
                 for c, v in ((eval(k), v) for k, v in table.items())}  # noqa: S307 - our own reprs
        return known.get(key, 0.5)

    assert verify("lab.binary_accuracy", looked_up).ok
    ok, detail = _judged_on_hidden_cases("lab.binary_accuracy", looked_up)
    assert not ok and detail.startswith("hidden case")

    evaluate_table, _ = _lookup("lab.evaluate", None)
    by_sizes = {tuple(eval(k)["sizes"]): v[:2] for k, v in evaluate_table.items()}  # noqa: S307

    def evaluate_looked_up(model, batches, criterion):
        batches = list(batches)
        evaluate_right(model, batches, criterion)  # the right modes and passes, numbers from the table
        return tuple(by_sizes.get(tuple(len(b.labels) for b in batches), (0.7, 0.5)))

    assert verify("lab.evaluate", evaluate_looked_up).ok
    assert not _judged_on_hidden_cases("lab.evaluate", evaluate_looked_up)[0]


def test_hidden_cases_are_fresh_and_every_judge_accepts_its_own_oracle():
    for question in ("lab.binary_accuracy", "lab.train_epoch", "lab.evaluate"):
        first, second = (judging.hidden_cases([question], seed)[question] for seed in (1, 2))
        assert first != second and not set(map(repr, first)) & set(map(repr, specs()[question].public_cases))
        judge = judging.judges()[question]
        assert judging.judge_outputs(question, first, [{"output": judge.oracle(c)} for c in first]) == (True, "")


# ---- the lab's device (issue 22: right code on a GPU must be judged right) ------------------------------

class _Seen(Exception):
    pass


def test_the_loop_checks_run_the_model_on_the_labs_device_with_batches_from_the_cpu(monkeypatch):
    """A test double for the device: lab.device() says "meta"; the student's loop sees the model there and
    the batches where the lab's loaders leave them, so ``labels.to(device)`` is right as in the notebook."""
    seen = {}

    def spy(model, batches, *rest):
        seen["model"] = next(model.parameters()).device
        seen["batches"] = {b.labels.device for b in batches}
        raise _Seen

    monkeypatch.setattr(lab, "device", lambda: torch.device("meta"))
    for question in ("lab.train_epoch", "lab.evaluate"):
        seen.clear()
        with pytest.raises(_Seen):
            specs()[question].probe(spy, lab_checks.LOOP_CASES[0])
        assert seen == {"model": torch.device("meta"), "batches": {torch.device("cpu")}}


def test_binary_accuracy_gets_tensors_on_the_labs_device(monkeypatch):
    seen = []

    def spy(logits, labels):
        seen.append((logits.device, labels.device))
        raise _Seen

    monkeypatch.setattr(lab, "device", lambda: torch.device("meta"))
    with pytest.raises(_Seen):
        specs()["lab.binary_accuracy"].probe(spy, lab_checks.ACCURACY_CASES[0])
    assert seen == [(torch.device("meta"), torch.device("meta"))]


def test_a_loop_that_moves_labels_to_the_notebooks_device_passes():
    device = lab.device()  # what the notebook calls device (lab.start)

    def train_to_device(model, batches, optimizer, criterion):
        model.train()
        total = right = 0.0
        seen = 0
        for batch in batches:
            logits = batch_logits(model, batch)
            labels = batch.labels.to(device)
            loss = criterion(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(labels)
            right += ((logits > 0).float() == labels).sum().item()
            seen += len(labels)
        return total / seen, right / seen

    assert verify("lab.train_epoch", train_to_device).ok


# ---- Q2a: the model -----------------------------------------------------------------------------------

def _tiny_bert():
    from course_utils.lab.model import load_bert
    from course_utils.lab.text import load_tokenizer

    return load_bert(tiny=True, vocab_size=len(load_tokenizer(tiny=True)), seed=0)


def model_rows() -> tuple[list, list]:
    """(right models, [(wrong model, the words its hint must hold)]) in tiny mode, built by hand from the config."""
    from course_utils.lab.config import LabConfig
    from course_utils.lab.model import BERTGRUSentiment

    c, bert = LabConfig.tiny(), _tiny_bert()
    full = LabConfig()
    right = [BERTGRUSentiment(bert, c.hidden_dim, c.output_dim, c.n_layers, c.bidirectional, c.dropout),
             BERTGRUSentiment(bert=bert, hidden_dim=c.hidden_dim, output_dim=c.output_dim, n_layers=c.n_layers,
                              bidirectional=c.bidirectional, dropout=c.dropout)]
    wrong = [(BERTGRUSentiment(bert, 64, c.output_dim, c.n_layers, c.bidirectional, c.dropout), "hidden size"),
             (BERTGRUSentiment(bert, full.hidden_dim, c.output_dim, c.n_layers, c.bidirectional, c.dropout),
              "hidden size"),
             (BERTGRUSentiment(bert, c.hidden_dim, c.output_dim, c.n_layers, False, c.dropout), "one direction"),
             (BERTGRUSentiment(bert, c.hidden_dim, c.output_dim, 1, c.bidirectional, c.dropout), "one GRU layer"),
             (BERTGRUSentiment(bert, c.hidden_dim, c.output_dim, c.n_layers, c.bidirectional, 0.5), "dropout"),
             (BERTGRUSentiment(bert, c.hidden_dim, 2, c.n_layers, c.bidirectional, c.dropout), "one logit"),
             (BERTGRUSentiment(bert, c.hidden_dim, 2, 1, c.bidirectional, c.dropout), "one logit")]
    return right, wrong


def test_the_model_check_accepts_the_lab_model_in_any_spelling_and_names_a_wrong_size(monkeypatch):
    monkeypatch.setenv("COURSE_TINY", "1")
    right, wrong = model_rows()
    for model in right:
        model.train()
        assert verify("lab.model", model).ok and model.training  # the check leaves the mode as it was
    for model, words in wrong:
        result = verify("lab.model", model)
        assert not result.ok and result.message.endswith(specs()["lab.model"].hint)
        assert words in result.message, result.message


WEIRD = [None, "0.75", 3, lambda *args: "x", lambda *args: (float("nan"), float("nan")), lambda *args: 1 / 0]
_, _, test_weird_input_never_raises_and_a_blank_is_no_answer = table_tests(
    {"lab.binary_accuracy": [acc_compare], "lab.train_epoch": [train_right], "lab.evaluate": [evaluate_right],
     "lab.model": []}, {}, WEIRD)
