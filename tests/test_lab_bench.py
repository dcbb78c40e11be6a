"""``course-utils bench``: the workload, the seed-faithful baseline, BERT passes and the printed report."""

from __future__ import annotations

import math
import random
import re

import pytest
import torch
from transformers import BertConfig, BertModel

from course_utils import cli
from course_utils.lab import text
from course_staff.bench import SeedModel
from course_staff.bench_workload import MAX_TOKENS, MEDIAN_TOKENS, SIGMA, review_lengths, synthetic_workload
from course_utils.lab.model import TINY_BERT

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
    check_report_arithmetic(out, epochs, evaluate)


def check_report_arithmetic(out: str, epochs: int, evaluate: bool) -> None:
    """Independent oracles for the printed numbers: the token count from the workload's own length draws,
    each total the sum of its phases, each rate tokens x passes / seconds, the speedup the ratio of the totals
    (all within the rounding of the printed values)."""
    tokens = int(re.search(r"reviews=6 \(([\d,]+) tokens", out).group(1).replace(",", ""))
    assert tokens == sum(review_lengths(6, torch.Generator().manual_seed(1234)))
    rows = {line[:14].strip(): line[14:] for line in out.splitlines()}
    cells = {phase: re.findall(r"(\d+\.\d\d) s(?: \(([\d,.]+)k tok/s\))?", rows[phase])
             for phase in ("tokenize", "features", "GRU training", "evaluation", "total")}
    work = {"tokenize": (1, 1), "features": (1, epochs * (1 + evaluate)), "GRU training": (epochs, epochs),
            "evaluation": (epochs, epochs)}
    totals = []
    for column in (0, 1):  # package, seed-faithful
        phases = [float(cells[p][column][0]) for p in work if cells[p]]
        total = float(cells["total"][column][0])
        assert total == pytest.approx(sum(phases), abs=0.005 * (len(phases) + 1))
        totals.append(total)
        for phase, passes in work.items():
            if cells[phase] and cells[phase][column][1]:
                seconds, rate = float(cells[phase][column][0]), float(cells[phase][column][1].replace(",", ""))
                low, high = tokens * passes[column] / (seconds + 0.005), tokens * passes[column] / max(seconds - 0.005, 1e-9)
                assert low / 1000 - 0.05 <= rate <= high / 1000 + 0.05, phase
    speedup = float(re.fullmatch(r"speedup: (\d+\.\d\d)", out.strip().splitlines()[-1]).group(1))
    assert (totals[1] - 0.005) / (totals[0] + 0.005) - 0.005 <= speedup <= (totals[1] + 0.005) / max(totals[0] - 0.005, 1e-9) + 0.005


@pytest.mark.parametrize("args, message", [
    (["--reviews", "0"], "--reviews must be at least 1"),
    (["--bert", "some/where"], "--bert and --data-dir go together"),
    (["--data-dir", "aclImdb"], "--bert and --data-dir go together"),
    (["--bert", "./no-such-folder", "--data-dir", "aclImdb"], "no folder ./no-such-folder"),
])
def test_bench_usage_errors_exit_2_with_one_line(capsys, args, message):
    assert cli.main(["bench", "--model", "tiny", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("course-utils bench: ") and message in err


def test_bench_on_a_saved_encoder_and_review_folder(capsys, tmp_path, saved_tiny_bert):
    """--bert/--data-dir: the real-work path (a saved tiny BERT, synthetic reviews in the aclImdb layout)."""
    from course_utils.lab import data

    root = data.synthetic_imdb(tmp_path, n_per_class=5, seed=0)
    out = run_bench(capsys, "--bert", str(saved_tiny_bert), "--data-dir", str(root), "--epochs", "2")
    assert out.startswith(f"features: storage=ram")
    assert f"bench: bert={saved_tiny_bert} (2 x 32, pre-trained), real reviews from {root}" in out
    assert "BERT passes per review: package 1.00, seed-faithful 2.00" in out
    reviews = data.load_split(root, "train")
    tok = text.load_tokenizer(False, str(saved_tiny_bert))
    drawn = sum(len(x) for x in text.encode(tok, [reviews.texts[i] for i in random.Random(1234).sample(range(10), 6)]))
    assert f"({drawn:,} tokens" in out
