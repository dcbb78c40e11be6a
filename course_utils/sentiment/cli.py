"""``course-utils lab`` and ``course-utils predict``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from course_utils import mode
from course_utils.sentiment.config import FEATURES


def lab_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``course-utils lab`` (the mode comes from ``COURSE_TINY``)."""
    parser.add_argument("--epochs", type=int, default=None, help="epochs to train (default: 2)")
    parser.add_argument("--batch-size", type=int, default=None, help="reviews per batch (default: 128; tiny: 32)")
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
    """Train and test the lab's model; prints the mode, one line per epoch and the test metrics."""
    from course_utils.sentiment.config import LabConfig
    from course_utils.sentiment.lab import run_lab

    changes = {k: v for k, v in (("epochs", args.epochs), ("batch_size", args.batch_size)) if v is not None}
    for name, value in changes.items():
        if value < 1:
            print(f"course-utils lab: --{name.replace('_', '-')} must be at least 1, got {value}", file=sys.stderr)
            return 2
    try:
        config = LabConfig.for_mode().replace(**changes)
        print(f"Mode: {mode.mode_name()} (COURSE_TINY=1: the offline tiny lab; unset or 0: the full lab)")
        result = run_lab(config, args.out, data_dir=args.data_dir, cache_dir=args.cache_dir,
                         progress=not args.no_progress, features=args.features)
    except (FileNotFoundError, ValueError) as err:
        print(f"course-utils lab: {err}", file=sys.stderr)
        return 1
    print(f"Best checkpoint: {result['checkpoint']}")
    return 0


def predict_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``course-utils predict``."""
    parser.add_argument("--checkpoint", type=Path, required=True, help="a best.pt written by 'course-utils lab'")
    parser.add_argument("texts", nargs="+", metavar="TEXT", help="reviews to classify")


def predict(args: argparse.Namespace) -> int:
    """Print P(positive) of each text, one per line, from a checkpoint."""
    from course_utils.sentiment.infer import predict_sentiment
    from course_utils.sentiment.lab import load_lab_model

    try:
        model, tokenizer, _ = load_lab_model(args.checkpoint)
        probs = predict_sentiment(model, tokenizer, list(args.texts))
    except (FileNotFoundError, ValueError, TypeError) as err:
        print(f"course-utils predict: {err}", file=sys.stderr)
        return 1
    for text, p in zip(args.texts, probs):
        print(f"{p:.4f}\t{text}")
    return 0
