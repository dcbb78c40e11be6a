"""The BERT-GRU IMDB sentiment lab: data, tokens and batches, model, training, inference.

Modules, one job each: ``config`` (``LabConfig`` and its tiny preset), ``encoder`` (which
pre-trained BERT: hub name or folder), ``labels`` (the label map), ``synthetic`` (tiny mode's review set), ``data`` (download, verify, extract, load, split), ``text`` (tokenizers,
encoding), ``batching`` (``TokenBatch``, length buckets), ``model`` (``BERTGRUSentiment``),
``checkpoint`` (safe checkpoints), ``train`` (``fit``: the driver that runs the student's loops, with resume), ``infer``
(``predict_sentiment``), ``plots``, ``lab`` (the workflow), ``probes`` and ``checks`` (the self-checks), ``commands`` (``predict``;
the ``lab`` command trains with the instructor's loops and lives in ``course_staff.lab_run``).
Importing this package loads torch and transformers but does no work.
"""

from course_utils.sentiment.batching import TokenBatch, bucket_loader
from course_utils.sentiment.config import LabConfig
from course_utils.sentiment.data import ReviewSet, load_split, split_train_valid
from course_utils.sentiment.infer import predict_batches, predict_sentiment
from course_utils.sentiment.model import BERTGRUSentiment, load_bert
from course_utils.sentiment.text import encode, load_tokenizer
from course_utils.sentiment.train import batch_logits, fit

__all__ = [
    "BERTGRUSentiment", "LabConfig", "ReviewSet", "TokenBatch", "batch_logits", "bucket_loader", "encode", "fit",
    "load_bert", "load_split", "load_tokenizer", "predict_batches", "predict_sentiment", "split_train_valid",
]
