"""``course-utils lab`` (staff install): the whole lab from the command line, trained with the key's loops.

The student release has no training loops (they are the lab's blanks), so this command lives here; its
options are the student package's (``course_utils.lab.commands.lab_arguments``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

from course_staff.keys import lab as lab_key
from course_utils import mode
from course_utils.errors import CourseError
from course_utils.lab.commands import lab_arguments  # noqa: F401 (the command's options)
from course_utils.lab.config import MAX_BERT_LENGTH, LabConfig
from course_utils.lab.workflow import build_lab_model, evaluate_best, prepare_data, start, train_lab
from course_utils.lab.train import BEST_NAME


def run_lab(config: LabConfig, out_dir: Path, data_dir: Path | None = None, cache_dir: Path | None = None,
            progress: bool = True, log: Callable[[str], None] = print, features: str = "auto") -> dict[str, Any]:
    """The whole lab: seed, data, model (BERT frozen), training, test of the best model. Returns the numbers.

    features: "auto" | "cache" | "on-the-fly" (see ``course_utils.lab.workflow``).
    """
    start(config)
    data = prepare_data(config, data_dir, cache_dir, progress)
    log(f"Reviews: train {len(data.train)}, valid {len(data.valid)}, test {len(data.test)}")
    model = lab_key.freeze_bert(build_lab_model(config, data.tokenizer))
    history = train_lab(model, data, config, out_dir, lab_key.train_epoch, lab_key.evaluate, progress, log, features)
    _, test_loss, test_acc = evaluate_best(out_dir, data, lab_key.evaluate, progress, features, log)
    log(f"Test Loss: {test_loss:.3f} | Test Acc: {test_acc * 100:.2f}%")
    return {"history": history, "test_loss": test_loss, "test_acc": test_acc,
            "checkpoint": Path(out_dir) / BEST_NAME}


def lab(args: argparse.Namespace) -> int:
    """Train and test the lab's model; prints the mode, one line per epoch and the test metrics.

    Exit status: 0 done; 2 a usage error (a bad number, ``COURSE_TINY`` or ``--bert``); 1 an expected
    failure at run time (a missing data folder, a foreign resume file), printed as one line. Any other
    error is a bug and keeps its traceback.
    """
    from course_utils.lab import encoder

    sizes = (("epochs", args.epochs, 1), ("batch_size", args.batch_size, 1), ("max_length", args.max_length, 3))
    changes = {name: value for name, value, _ in sizes if value is not None}
    try:
        for name, value, least in sizes:
            if value is not None and value < least:
                raise CourseError(f"--{name.replace('_', '-')} must be at least {least}, got {value}")
        if args.max_length is not None and args.max_length > MAX_BERT_LENGTH:
            raise CourseError(f"--max-length must be at most {MAX_BERT_LENGTH} (BERT's limit), got {args.max_length}")
        if args.bert is not None:
            changes["bert_name"] = encoder.resolve(args.bert)
        config = LabConfig.for_mode().replace(**changes)
    except CourseError as err:
        print(f"course-utils lab: {err}", file=sys.stderr)
        return 2
    print(f"Mode: {mode.mode_name()} (COURSE_TINY=1: the offline tiny lab; unset or 0: the full lab)"
          f" | BERT: {config.bert_name}")
    try:
        result = run_lab(config, args.out, data_dir=args.data_dir, cache_dir=args.cache_dir,
                         progress=not args.no_progress, features=args.features)
    except (FileNotFoundError, CourseError) as err:
        print(f"course-utils lab: {err}", file=sys.stderr)
        return 1
    print(f"Best checkpoint: {result['checkpoint']}")
    return 0
