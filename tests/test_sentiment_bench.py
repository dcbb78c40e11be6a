"""``course-utils bench``: the workload, the seed-faithful baseline, BERT passes and the printed report."""

from __future__ import annotations

import math
import re

import pytest
import torch
from transformers import BertConfig, BertModel

from course_utils import cli
from course_utils.sentiment import text
from course_utils.sentiment.bench import MAX_TOKENS, MEDIAN_TOKENS, SIGMA, SeedModel, review_lengths, synthetic_workload
from course_utils.sentiment.model import TINY_BERT

TINY_RUN = ["bench", "--model", "tiny", "--reviews", "6", "--batch-size", "4", "--hidden-dim", "8",
            "--threads", "1", "--repeats", "1"]


def run_bench(capsys, *extra: str) -> str:
    threads = torch.get_num_threads()
    try:
        assert cli.main(TINY_RUN + list(extra)) == 0
    finally:
        torch.set_num_threads(threads)
    return capsys.readouterr().out


def test_review_lengths_follow_the_stated_log_normal_cut_at_512():
    lengths = torch.tensor(review_lengths(20000, torch.Generator().manual_seed(0)), dtype=torch.float)
    assert lengths.min() >= 3 and lengths.max() == MAX_TOKENS
    assert abs(lengths.median().item() / MEDIAN_TOKENS - 1) < 0.03
    at_cap = 0.5 * math.erfc(math.log(MAX_TOKENS / MEDIAN_TOKENS) / SIGMA / math.sqrt(2))  # P(draw > 512)
    assert abs((lengths == MAX_TOKENS).float().mean().item() - at_cap) < 0.01


def test_workload_texts_tokenize_to_the_drawn_lengths_both_ways():
    texts, labels, tokenizer = synthetic_workload(5, 400, seed=3)
    expected = review_lengths(5, torch.Generator().manual_seed(3))
    batched = text.encode(tokenizer, texts)
    assert [len(x) for x in batched] == expected and set(labels) <= {0, 1}
    per_review = [[101] + tokenizer.convert_tokens_to_ids(tokenizer.tokenize(t)) + [102] for t in texts]
    assert per_review == batched and all(104 <= i < 400 for x in batched for i in x[1:-1])


def test_seed_model_keeps_the_seed_flaws_dropout_in_bert_and_padding_read():
    torch.manual_seed(0)
    model = SeedModel(BertModel(BertConfig(vocab_size=50, **TINY_BERT)), 6, 2, True, 0.0)
    ids = torch.randint(5, 50, (1, 9))
    model.train()
    assert not torch.equal(model(ids), model(ids))  # BERT's dropout is on while training
    model.eval()
    padded = torch.cat([ids, torch.zeros(1, 4, dtype=torch.long)], dim=1)
    assert not torch.allclose(model(ids), model(padded))  # no mask, no packing: padding changes the logit
    assert model.bert_reviews == 4


@pytest.mark.parametrize("epochs, evaluate", [(2, False), (3, True)])
def test_bench_cli_end_to_end_reports_passes_overhead_and_speedup(capsys, epochs, evaluate):
    out = run_bench(capsys, "--epochs", str(epochs), *(["--eval"] if evaluate else []))
    seed_passes = epochs * (1 + evaluate)
    assert f"BERT passes per review: package 1.00, seed-faithful {seed_passes:.2f}" in out
    rows = {line[:14].strip(): line[14:] for line in out.splitlines()}
    for phase in ("tokenize", "features", "GRU training", "total") + (("evaluation",) if evaluate else ()):
        assert len(re.findall(r"\d+\.\d\d s\b", rows[phase])) == 2, phase  # package, seed-faithful
    if not evaluate:
        assert rows["evaluation"].split() == ["-", "-"]
    assert re.search(r"^feature overhead: -?\d+\.\d%", out, re.M)
    assert re.search(r"^peak memory: package [\d,]+ MiB RSS; seed-faithful [\d,]+ MiB RSS", out, re.M)
    assert re.search(r"^features: storage=ram \(", out, re.M)
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(r"speedup: \d+\.\d\d", last) and float(last.split()[1]) > 0


def test_bench_rejects_bad_sizes(capsys):
    with pytest.raises(SystemExit, match="--reviews must be at least 1"):
        cli.main(["bench", "--model", "tiny", "--reviews", "0"])
