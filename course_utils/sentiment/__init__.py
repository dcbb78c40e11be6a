"""The BERT-GRU IMDB sentiment lab: data, tokens and batches, model, training, inference.

Modules, one job each: ``config`` (``LabConfig`` and its tiny preset), ``encoder`` (which
pre-trained BERT: hub name or folder), ``labels`` (the label map), ``synthetic`` (tiny mode's review set), ``data`` (download, verify, extract, load, split), ``text`` (tokenizers,
encoding), ``batching`` (``TokenBatch``, length buckets), ``model`` (``BERTGRUSentiment``),
``checkpoint`` (safe checkpoints), ``train`` (loops, ``fit`` with resume), ``infer``
(``predict_sentiment``), ``plots``, ``lab`` (the workflow), ``cli`` (``lab``/``predict``).
Importing this package loads torch and transformers but does no work.
"""

from course_utils.sentiment.batching import TokenBatch, bucket_loader
from course_utils.sentiment.config import LabConfig
from course_utils.sentiment.data import ReviewSet, load_split, split_train_valid
from course_utils.sentiment.labels import LABEL_VOCAB, label_vocabulary
from course_utils.sentiment.infer import predict_batches, predict_sentiment
from course_utils.sentiment.model import BERTGRUSentiment, count_parameters, freeze_bert, load_bert
from course_utils.sentiment.text import encode, load_tokenizer
from course_utils.sentiment.train import batch_logits, binary_accuracy, evaluate, fit, train_epoch

__all__ = [
    "BERTGRUSentiment", "LABEL_VOCAB", "LabConfig", "ReviewSet", "TokenBatch", "batch_logits",
    "binary_accuracy", "bucket_loader", "count_parameters", "encode", "evaluate", "fit", "freeze_bert",
    "label_vocabulary", "load_bert", "load_split", "load_tokenizer", "predict_batches",
    "predict_sentiment", "split_train_valid", "train_epoch",
]
