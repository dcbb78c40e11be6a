"""The tiny lab is as small as keeps what it shows meaningful (issue: grading cost).

Tiny mode is what CI and grading run, so its sizes are the smallest at which each check still separates
right from wrong: the split sizes are told apart from the usual slips, and the smaller test split (1,200
reviews, down from 5,000) still tells a training loop that learns from one that does not. The training
split stays at 2,500 reviews per class: at 1,000 the key's own loops reach only 59% after two epochs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from course_staff.keys import lab as lab_key
from course_utils import checks
from course_utils.lab.config import LabConfig


def test_the_tiny_preset_keeps_the_training_split_and_shrinks_only_the_test_split() -> None:
    cfg = LabConfig.tiny()
    assert (cfg.n_synthetic, cfg.n_synthetic_test, cfg.epochs, cfg.batch_size) == (2500, 600, 2, 48)


def test_the_tiny_split_sizes_separate_the_right_answer_from_the_usual_slips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_TINY", "1")
    train, valid, test = 3500, 1500, 1200
    assert checks.verify("lab.split_sizes", (train, valid, test)).ok
    slips = [(valid, train, test), (test, train, valid), (train + valid, 0, test), (train, valid), (train, valid, 2 * 2500),
             (train + valid, valid, test), (2500, 1500, 1200), (3500, 1500, 600)]
    assert len({tuple(s) for s in slips}) == len(slips)
    assert not any(checks.verify("lab.split_sizes", slip).ok for slip in slips)


@pytest.mark.usefixtures("one_thread")
def test_the_smaller_test_split_tells_a_loop_that_learns_from_one_that_does_not(tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from course_utils.lab.workflow import evaluate_best, prepare_data, start, train_lab, build_lab_model

    monkeypatch.setenv("COURSE_TINY", "1")
    config = LabConfig.tiny()
    accuracy = {}
    for name, train_fn in (("key", lab_key.train_epoch), ("no step", lab_key._loop(training=True, step=False))):
        start(config)
        data = prepare_data(config, cache_dir=tmp_path / "cache", progress=False)
        assert len(data.test) == 1200
        model = lab_key.freeze_bert(build_lab_model(config, data.tokenizer))
        train_lab(model, data, config, tmp_path / name, train_fn, lab_key.evaluate, progress=False, log=lambda _: None,
                  features="cache")
        accuracy[name] = evaluate_best(tmp_path / name, data, lab_key.evaluate, False, "cache", lambda _: None)[2]
    # 1,200 reviews: one standard error is under 1.5 points at any accuracy, so the gap is many of them.
    assert accuracy["key"] >= 0.90 and accuracy["no step"] <= 0.65, accuracy
