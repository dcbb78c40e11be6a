"""The lab: IMDB sentiment with a frozen BERT and a GRU head: data, tokens and batches, model, training, inference.

Modules, one job each: ``config`` (``LabConfig`` and its tiny preset), ``variants`` (each student's seed, split
and GRU size), ``encoder`` (which
pre-trained BERT: hub name or folder), ``labels`` (the label map), ``synthetic`` (tiny mode's review set), ``data`` (download, verify, extract, load, split), ``text`` (tokenizers,
encoding), ``batching`` (``TokenBatch``, length buckets), ``model`` (``BERTGRUSentiment``),
``checkpoint`` (safe checkpoints), ``train`` (``fit``: the driver that runs the student's loops, with resume), ``infer``
(``predict_sentiment``), ``plots``, ``workflow`` (the lab's steps, one call each, also
reachable from this package: ``lab.start(config)``), ``probes`` and ``checks`` (the self-checks), ``commands`` (``predict``;
the ``lab`` command trains with the instructor's loops and lives in ``course_staff.lab_run``).
Importing this package loads torch and transformers but does no work.
"""

from course_utils.lab.batching import TokenBatch, bucket_loader
from course_utils.lab.config import LabConfig
from course_utils.lab.data import ReviewSet, load_split, split_train_valid
from course_utils.lab.infer import predict_batches, predict_sentiment
from course_utils.lab.model import BERTGRUSentiment, load_bert
from course_utils.lab.text import encode, load_tokenizer
from course_utils.lab.train import batch_logits, fit
from course_utils.lab.workflow import (DRIVE, LabData, build_lab_model, compute_settings, default_out_dir, device,
                                       evaluate_best, lab_batches, load_best, load_lab_model, locate_data,
                                       prepare_data, run_meta, start, train_lab)

__all__ = [
    "BERTGRUSentiment", "DRIVE", "LabConfig", "LabData", "ReviewSet", "TokenBatch", "batch_logits", "bucket_loader",
    "build_lab_model", "compute_settings", "default_out_dir", "device", "encode", "evaluate_best", "fit",
    "lab_batches", "load_bert", "load_best", "load_lab_model", "load_split", "load_tokenizer", "locate_data",
    "predict_batches", "predict_sentiment", "prepare_data", "run_meta", "split_train_valid", "start", "train_lab",
]
