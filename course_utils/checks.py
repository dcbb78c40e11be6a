"""Self-checks for students: ``check("q3.norms", norms)`` says right or wrong, never the answer.

Each answer is reduced to a canonical text (ints as digits, floats rounded to a stated number
of decimals, sympy expressions by their exact values at fixed integer points, a function by
its result on fixed inputs) and compared with a salted, slow hash (PBKDF2-SHA256) stored in
``course_utils/data/checks.json``. Floats pass within one unit of the last stated decimal (the
rounded value or a neighbour hashes right). The registry holds no answer in plain text, and is
generated from the package's own solutions by ``python -m course_utils.checks --write``;
``--check`` exits 1 if the committed file differs. Two full-mode facts that need the real
``bert-base-uncased`` vocabulary or IMDB archive are *pinned*: kept from the committed file,
refreshed with ``--pin ID full VALUE_JSON`` on a machine that has them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course_utils import mode
from course_utils.files import atomic_write

REGISTRY = Path(__file__).resolve().parent / "data" / "checks.json"
ITERATIONS = 20_000
SAMPLE_SENTENCE = "Hello WORLD how ARE you?"
SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[PAD]", "[UNK]")
Q2_TIE, Q2_EVEN_LARGER = (3, 1, 2, 4), (1, 2, 0, 3)  # x2 + x4 = x1 + x3; x2 + x4 > x1 + x3
ACCURACY_LOGITS = (2.0, -1.0, 0.5, -3.0, 1.5, -0.2, 0.1)
ACCURACY_LABELS = (1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0)
RATE_BETAS = (5.0, 6.0)
PINNED = {("lab.token_ids", "full"), ("lab.split_sizes", "full")}


@dataclass(frozen=True)
class Spec:
    """How one question is checked. kind: int, ints, float, floats, mapping, expr, rate, accuracy."""

    kind: str
    hint: str
    precision: int = 0  # decimals kept for float kinds
    n_vars: int = 0  # expr: number of input symbols x1..xn


SPECS: dict[str, Spec] = {
    "q2.final_hidden": Spec("expr", "Unroll h_t = x_t - h_{t-1} from h_0 = 0 for four steps; which inputs "
                            "keep a + sign at the last step?", n_vars=4),
    "q2.tie_output": Spec("float", "With no bias, y = sigmoid(1000 * h); what is h when the even- and "
                          "odd-position sums are equal?", precision=3),
    "q2.even_larger_output": Spec("float", "h is an integer at least 1 here; how large is sigmoid(1000 * h)?",
                                  precision=3),
    "q3.norms": Spec("floats", "Orthogonal vectors: ||u + v||^2 = ||u||^2 + ||v||^2; give ||x1||, ||x2||, "
                     "||x3|| for beta = 3.", precision=3),
    "q3.weights": Spec("floats", "Scores are x_i . x_j with no 1/sqrt(d) scaling; softmax each row. Give the "
                       "3x3 weights for beta = 1.", precision=3),
    "q3.error_order": Spec("rate", "Pass the error's leading factor as a sympy expression in beta; how fast "
                           "does the largest off-diagonal weight shrink?", precision=1),
    "lab.vocab_size": Spec("int", "Ask the tokenizer itself: len(tokenizer) or tokenizer.vocab_size."),
    "lab.token_ids": Spec("ints", "tokenizer.tokenize lower-cases the sentence; then convert_tokens_to_ids."),
    "lab.special_ids": Spec("ints", "Pass the ids of [CLS], [SEP], [PAD], [UNK], in that order."),
    "lab.split_sizes": Spec("ints", "Pass (train, valid, test): 70% of the training reviews train, the rest "
                            "validate; the test set is separate."),
    "lab.label_vocab": Spec("mapping", "The label ids are fixed, not ordered by frequency."),
    "lab.n_params": Spec("int", "Count every parameter, BERT's included: sum(p.numel() for p in model.parameters())."),
    "lab.n_trainable": Spec("int", "Count only parameters with requires_grad, after freezing BERT."),
    "lab.binary_accuracy": Spec("accuracy", "Threshold the logits at 0 (probability 0.5), compare with the labels "
                                "and return the fraction correct, a float in [0, 1].", precision=4),
}


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one check: ``ok`` and the message printed to the student."""

    ok: bool
    message: str


_VERDICTS: dict[str, bool] = {}


def check(question: str, value: Any) -> None:
    """Print whether ``value`` answers ``question`` (e.g. ``"q2.tie_output"``), with a hint if not.

    Also records the verdict in this kernel (see ``verdicts``), which is what the grader collects.
    """
    result = verify(question, value)
    _VERDICTS[question] = result.ok
    print(result.message)


def verdicts() -> dict[str, bool]:
    """The last verdict of every ``check`` call in this process: question id -> correct (a copy)."""
    return dict(_VERDICTS)


def verify(question: str, value: Any, registry: dict | None = None) -> CheckResult:
    """Compare ``value`` with the registered hash for ``question`` in the current mode."""
    registry = load_registry() if registry is None else registry
    if question not in SPECS or question not in registry:
        raise KeyError(f"unknown check {question!r}; known: {', '.join(sorted(SPECS))}")
    spec, entry = SPECS[question], registry[question]
    hashes = entry.get(mode.mode_name()) or entry.get("any")
    if hashes is None:
        return CheckResult(False, f"{question}: no check registered for {mode.mode_name()} mode.")
    if value is Ellipsis:
        return CheckResult(False, f"{question}: no answer yet: replace the ... above with your answer.")
    try:
        candidates = candidate_forms(spec, value)
    except (TypeError, ValueError, ArithmeticError) as exc:
        return CheckResult(False, f"{question}: cannot read this answer ({exc}). Hint: {spec.hint}")
    if len(candidates) != len(hashes):
        return CheckResult(False, f"{question}: expected {len(hashes)} value(s), got {len(candidates)}. "
                                  f"Hint: {spec.hint}")
    salt = salt_for(question)
    wrong = [i for i, (forms, want) in enumerate(zip(candidates, hashes))
             if not any(digest(salt, i, form) == want for form in forms)]
    if not wrong:
        return CheckResult(True, f"{question}: correct.")
    where = f" (entries {', '.join(map(str, wrong))} of 0..{len(hashes) - 1})" if len(hashes) > 1 else ""
    return CheckResult(False, f"{question}: not yet{where}. Hint: {spec.hint}")


def salt_for(question: str) -> str:
    """The question's salt, derived from its id (so the registry regenerates identically)."""
    return hashlib.sha256(f"course_utils.checks:{question}".encode()).hexdigest()[:16]


def digest(salt: str, index: int, form: str) -> str:
    """PBKDF2-SHA256 of one canonical form of entry ``index``, hex."""
    return hashlib.pbkdf2_hmac("sha256", form.encode(), f"{salt}:{index}".encode(), ITERATIONS).hex()


def candidate_forms(spec: Spec, value: Any) -> list[list[str]]:
    """Canonical texts per entry: the rounded value first, then its accepted neighbours (floats)."""
    if spec.kind == "int":
        return [[str(_as_int(value))]]
    if spec.kind == "ints":
        return [[",".join(str(_as_int(v)) for v in _flat(value))]]
    if spec.kind == "mapping":
        if not isinstance(value, dict):
            raise TypeError("pass a dict")
        return [[json.dumps({str(k).strip(): _as_int(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))})]]
    if spec.kind == "expr":
        return [[",".join(str(v) for v in _expr_values(value, spec.n_vars))]]
    if spec.kind == "rate":
        return [_float_forms(_decay_rate(value), spec.precision)]
    if spec.kind == "accuracy":
        import torch

        value = value(torch.tensor(ACCURACY_LOGITS), torch.tensor(ACCURACY_LABELS))
        return [_float_forms(_as_float(value), spec.precision)]
    values = _flat(value) if spec.kind == "floats" else [value]
    return [_float_forms(_as_float(v), spec.precision) for v in values]


def _flat(value: Any) -> list:
    """Nested lists, tuples, tensors or arrays as one flat list of Python scalars."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [x for item in value for x in _flat(item)]
    return [value]


def _as_int(value: Any) -> int:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool) or not float(value).is_integer():
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return int(value)


def _as_float(value: Any) -> float:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool) or not math.isfinite(float(value)):
        raise ValueError("expected a finite number")
    return float(value)


def _float_forms(value: float, precision: int) -> list[str]:
    """``value`` rounded to ``precision`` decimals, then the two neighbouring rounded values."""
    step = 10.0 ** -precision
    centre = round(value, precision)
    return [f"{x:.{precision}f}".replace("-0." + "0" * precision, "0." + "0" * precision)
            for x in (centre, centre - step, centre + step)]


def _expr_values(expr: Any, n_vars: int) -> list:
    """Exact values of a sympy expression in x1..xn (any spelling ending in the index) at fixed points."""
    import sympy as sp

    expr = sp.sympify(expr)
    by_index = {}
    for symbol in expr.free_symbols:
        found = re.search(r"(\d+)$", symbol.name)
        if not found or not 1 <= int(found.group(1)) <= n_vars:
            raise ValueError(f"unexpected symbol {symbol}: use x1..x{n_vars}")
        by_index[symbol] = int(found.group(1))
    rng = random.Random(n_vars)
    points = [[rng.randint(-50, 50) for _ in range(n_vars)] for _ in range(n_vars + 2)]
    return [sp.nsimplify(expr.subs({s: p[i - 1] for s, i in by_index.items()})) for p in points]


def _decay_rate(expr: Any) -> float:
    """r in f(beta) ~ e^(-r beta^2): -(log f(6) - log f(5)) / (6^2 - 5^2), for a sympy expression or a callable."""
    import sympy as sp

    lo, hi = RATE_BETAS
    if callable(expr) and not isinstance(expr, sp.Basic):
        logs = [math.log(_as_float(expr(b))) for b in RATE_BETAS]
    else:
        expr = sp.sympify(expr)
        if len(expr.free_symbols) != 1:
            raise ValueError("pass an expression in the single symbol beta")
        (beta,) = expr.free_symbols
        logs = [float(sp.log(expr.subs(beta, b)).evalf()) for b in RATE_BETAS]
    return -(logs[1] - logs[0]) / (hi * hi - lo * lo)


def solutions(tiny: bool) -> dict[str, Any]:
    """Every checked answer computed by the package itself, for tiny or full mode (offline).

    Full mode needs no download: bert-base-uncased's sizes come from ``BertConfig()`` and the
    model is built on the meta device. The pinned full-mode answers are not in here.
    """
    import tempfile

    import torch
    from transformers import BertConfig, BertModel

    from course_utils import attention, recurrence
    from course_utils.sentiment import batching, config, data, model, text, train

    tokenizer = text.load_tokenizer(tiny=True)
    cfg = config.LabConfig.for_mode(tiny)
    with torch.random.fork_rng(devices=[]):
        if tiny:
            bert = model.load_bert(tiny=True, vocab_size=len(tokenizer))
        else:
            with torch.device("meta"):
                bert = BertModel(BertConfig())
        net = model.build_model(bert, cfg.hidden_dim, cfg.output_dim, cfg.n_layers, cfg.bidirectional, cfg.dropout)
    _, X3 = attention.orthogonal_tokens(3.0)
    _, X1 = attention.orthogonal_tokens(1.0)
    answers = {
        "q2.final_hidden": recurrence.final_hidden(4),
        "q2.tie_output": recurrence.simulate(Q2_TIE)[1][-1],
        "q2.even_larger_output": recurrence.simulate(Q2_EVEN_LARGER)[1][-1],
        "q3.norms": X3.norm(dim=1),
        "q3.weights": attention.self_attention(X1)[1],
        "q3.error_order": lambda beta: float(attention.predicted_copy_error([beta])[0].max()),
        "lab.special_ids": tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS)),
        "lab.label_vocab": batching.label_vocabulary(),
        "lab.vocab_size": len(tokenizer) if tiny else BertConfig().vocab_size,
        "lab.n_params": model.count_parameters(net),
        "lab.n_trainable": model.count_parameters(net, trainable_only=True),
        "lab.binary_accuracy": train.binary_accuracy,
    }
    if tiny:
        answers["lab.token_ids"] = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(SAMPLE_SENTENCE))
        with tempfile.TemporaryDirectory() as tmp:
            root = data.synthetic_imdb(Path(tmp), cfg.n_synthetic, cfg.seed)
            train_set, valid_set = data.split_train_valid(data.load_split(root, "train"), cfg.train_fraction, cfg.seed)
            answers["lab.split_sizes"] = [len(train_set), len(valid_set), len(data.load_split(root, "test"))]
    return answers


def _hashes(question: str, value: Any) -> list[str]:
    """The registry hashes of a right answer: each entry's centre canonical form."""
    salt = salt_for(question)
    return [digest(salt, i, forms[0]) for i, forms in enumerate(candidate_forms(SPECS[question], value))]


def build_registry(previous: dict | None = None) -> dict:
    """The registry from ``solutions``: id -> {"tiny": [...], "full": [...]} or {"any": [...]}.

    previous: the committed registry, whose pinned entries (``PINNED``) are carried over.
    """
    previous = load_registry() if previous is None and REGISTRY.is_file() else (previous or {})
    per_mode = {name: {q: _hashes(q, v) for q, v in solutions(name == "tiny").items()} for name in ("tiny", "full")}
    for question, name in sorted(PINNED):
        pinned = previous.get(question, {}).get(name)
        if pinned is not None:
            per_mode[name][question] = pinned
    registry = {}
    for question in SPECS:
        tiny, full = per_mode["tiny"].get(question), per_mode["full"].get(question)
        registry[question] = {"any": tiny} if tiny == full else {k: v for k, v in (("tiny", tiny), ("full", full)) if v}
    return registry


def pin(registry: dict, question: str, mode_name: str, value: Any) -> dict:
    """A copy of ``registry`` with the answer of ``question`` in ``mode_name`` set from ``value``."""
    if (question, mode_name) not in PINNED:
        raise ValueError(f"{question} in {mode_name} mode is computed, not pinned; pinned: {sorted(PINNED)}")
    updated = json.loads(json.dumps(registry))
    updated.setdefault(question, {})[mode_name] = _hashes(question, value)
    return updated


def load_registry(path: Path = REGISTRY) -> dict:
    """The committed registry (``course_utils/data/checks.json``)."""
    return json.loads(path.read_text(encoding="utf-8"))["checks"]


def dump_registry(registry: dict) -> str:
    """The registry file's text (stable order, so a regenerated file compares equal)."""
    return json.dumps({"iterations": ITERATIONS, "checks": registry}, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils.checks --write | --check | --pin ID MODE VALUE_JSON``."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.checks", description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help=f"regenerate {REGISTRY}")
    group.add_argument("--check", action="store_true", help="exit 1 if the committed registry is stale")
    group.add_argument("--pin", nargs=3, metavar=("ID", "MODE", "VALUE_JSON"), help="set a pinned answer")
    args = parser.parse_args(argv)
    if args.pin:
        question, mode_name, value = args.pin
        text = dump_registry(pin(load_registry(), question, mode_name, json.loads(value)))
    else:
        text = dump_registry(build_registry())
    if args.check:
        stale = not REGISTRY.is_file() or REGISTRY.read_text(encoding="utf-8") != text
        print(f"{REGISTRY}: {'stale: run python -m course_utils.checks --write' if stale else 'up to date'}")
        return int(stale)
    atomic_write(REGISTRY, text.encode("utf-8"))
    print(f"wrote {REGISTRY}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
