"""Synthetic submissions of the real handouts, for the written-answer tools (mark, similarity, groups).

``make(folder, students=40, seed=0)`` writes one Canvas-named notebook per student and handout
(``doe007_1007_5007_02_rnn_recurrence.ipynb``): the handout, each code blank filled with the master's
solution plus a few lines of the student's own (random statements, a scratch cell), and each
written blank with prose the student composes from phrasings of the question's points (or a wrong
claim, or nothing). Planted in it (``Batch.planted``):

- code copies: one student's whole notebook code copied by another with variables renamed and
  independent lines reordered;
- prose copies: one student's answer to a question copied, lightly paraphrased (synonyms, fillers);
- honest look-alikes (``Batch.lookalikes``): two students who, independently, write the shortest
  correct answer to a question, naturally nearly the same.

Each written answer's ``style`` (which points it makes, or wrong, or blank) is returned too, as the
truth a grouping is measured against. Nothing is executed.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_staff.formats.handouts import BLANK, load_handouts

ROOT = Path(__file__).resolve().parents[1]

# Per written question: the points a complete answer makes, each in a few phrasings; a wrong claim; a short answer.
PROSE: dict[str, dict] = {
    "11e228dd": {"points": [["a CNN has a fixed number of dependent layer steps whatever the image height",
                             "the convolution computes all pixels in parallel, so only six layers run one after another",
                             "the number of sequential steps of a CNN does not grow with the image"],
                            ["the row GRU needs H + 1 steps that must run one after the other",
                             "the recurrent net cannot start a row before the previous row is done",
                             "the RNN's chain of steps grows with the number of rows"],
                            ["the latency plot shows the GRU time doubling with the side while the CNN stays flat",
                             "in the one-image panel the recurrent model gets slower as images grow"]],
                 "wrong": "CNNs are faster because they are robust to rotation and need no training.",
                 "short": "CNNs are parallel, RNNs are sequential."},
    "21c2d552": {"points": [["the number of parameters depends on kernel size and channels, not on the image size",
                             "weight sharing keeps the parameter count at 372 whatever the width",
                             "a filter has the same weights at every position so the count ignores the width"],
                            ["shifting the input shifts the output: convolution is translation equivariant",
                             "a shifted image gives a shifted feature map, which suits images"],
                            ["it breaks at the borders and after strided pooling, and a rotation is not handled",
                             "the equivariance fails near the edges and with stride, and CNNs are not rotation invariant"]],
                 "wrong": "A CNN is robust to rotation by construction, so rotated images give the same output.",
                 "short": "Few parameters and translation equivariance."},
    "82dec9a4": {"points": [["the GRU keeps a learned state of fixed size from row to row",
                             "a fixed-size hidden state, learned in training, summarises the rows read"],
                            ["so any image height works with the same weights and we get a prediction after each row",
                             "images of any height are handled and every row costs the same"],
                            ["a streaming CNN must buffer rows and can only combine with a running maximum",
                             "the CNN needs a row buffer, and its running max is all it can combine"]],
                 "wrong": "RNNs have more parameters, so they are more accurate on images.",
                 "short": "A fixed-size state, any height."},
    "603c9ed6": {"points": [["after one layer the state depends on every row read so far",
                             "h_t is a function of all rows x_1 to x_t",
                             "one recurrent layer already sees the whole image above the current row"],
                            ["a 3x3 convolution sees only 3 rows and a stack needs about 20 layers for 40 rows",
                             "a stack of L convolutions sees L(k - 1) + 1 rows"],
                            ["but the GRU does not necessarily use information from far back",
                             "the gates allow long memory, training decides whether it is used"]],
                 "wrong": "RNNs see the whole image at once because they are recurrent.",
                 "short": "Long-range dependence in one layer."},
    "df663ae2": {"points": [["h_t = x_t - h_{t-1}", "the hidden state is the input minus the previous state, h_t = x_t - h_{t-1}"],
                            ["with h_0 = 0", "starting from h_0 = 0"],
                            ["and y_t = sigmoid(1000 h_t) since there is no bias",
                             "the output is sigma(1000 h_t), no bias anywhere"]],
                 "wrong": "h_t = x_t + h_{t-1} and y_t = sigmoid(1000 - h_t).",
                 "short": "h_t = x_t - h_{t-1}, h_0 = 0, y_t = sigmoid(1000 h_t)."},
    "3a74adbd": {"points": [["h_2N is the sum of the even-position inputs minus the sum of the odd-position inputs",
                             "the last hidden state equals even sum minus odd sum"],
                            ["so y is about 1 when the even sum is larger and about 0 when it is smaller",
                             "the output saturates near 1 if the even positions win and near 0 otherwise"],
                            ["and exactly 0.5 when the sums are equal",
                             "a tie gives sigmoid(0) = 0.5"],
                            ["integers differ by at least 1 and the weight 1000 saturates the sigmoid",
                             "nothing in between occurs because 1000 times a nonzero integer is huge"]],
                 "wrong": "It computes the average of the inputs, passed through a sigmoid.",
                 "short": "It compares the even-position sum with the odd-position sum."},
    "79cf9458": {"points": [["the squared norm is the inner product of x_1 with itself",
                             "expand ||x_1||^2 = (d + b)(d + b)"],
                            ["the cross terms vanish because a, b, c, d are orthogonal",
                             "orthogonality kills the mixed products"],
                            ["so the norms are sqrt(2) beta, beta and sqrt(2) beta",
                             "which gives 4.24, 3, 4.24 at beta = 3"]],
                 "wrong": "All norms equal beta because every vector has norm beta.",
                 "short": "sqrt(2) beta, beta, sqrt(2) beta."},
    "0021c92e": {"points": [["the scores are beta^2 times [[2,0,1],[0,1,0],[1,0,2]] and the weights follow by softmax",
                             "S = X X^T has entries 2 beta^2 on the diagonal and beta^2 between x_1 and x_3"],
                            ["each y_i approximates its own x_i because the diagonal score is largest",
                             "every token mostly attends to itself"],
                            ["the error shrinks like e^(-beta^2)",
                             "the leading error term is of order exp(-beta^2)"]],
                 "wrong": "y_1 copies x_3 since they share b, with an error of order 1/beta.",
                 "short": "y_i is about x_i, error e^(-beta^2)."},
    "649ea340": {"points": [["queries and keys decide where to look and the values supply what is copied",
                             "the query-key scores choose the position and the value is what comes back"],
                            ["a large beta turns the softmax into a hard argmax",
                             "with big beta the weights become one-hot"],
                            ["learned query and key maps could make a token copy a different token",
                             "with trained W_Q and W_K the model could point at another position"]],
                 "wrong": "Self-attention copies because it averages all tokens equally.",
                 "short": "Keys pick the position, values get copied."},
    "lab-q3d-answer": {"points": [["both losses fell and the accuracies rose, and the last epoch was kept",
                                   "the model improved every epoch and best.pt is the final epoch"],
                                  ["training numbers are averaged while the model learns and with dropout on",
                                   "the training accuracy is an average over the epoch, with dropout, so it lags"]],
                       "wrong": "The model overfit badly so the first epoch was kept.",
                       "short": "Loss down, accuracy up, last epoch kept."},
    "lab-q4b-answer": {"points": [["the positive review was classified positive but the negated one was near 0.5",
                                   "it got my first review right and was unsure about the second"],
                                  ["a negated positive word is harder because the model must learn the interaction of two words",
                                   "negation flips the meaning of a word that usually signals the class"]],
                       "wrong": "The model got both right because BERT understands everything.",
                       "short": "First right, second unsure; negation is hard."},
}
OPENERS = ["", "", "I think ", "In short, ", "From the demo, ", "As the plot shows, ", "Here ", "We see that "]
JOINERS = [". ", ". Also, ", "; ", ", and ", ". Moreover, ", ". Then "]
OWN = ["This matches what I expected.", "I checked this twice.", "It took me a while to see it.",
       "The notebook's numbers agree.", "I am not fully sure about this part.", "See my scratch cell.",
       "My friend and I discussed the idea but I wrote this myself.", "I used the figure above."]
SYNONYMS = {"the": ["this", "that"], "shows": ["indicates", "tells"], "because": ["since", "as"],
            "number": ["count", "amount"], "image": ["picture", "input image"], "larger": ["bigger", "greater"],
            "smaller": ["lower", "less"], "depends": ["relies", "hinges"], "about": ["roughly", "around"],
            "every": ["each", "any"], "fixed": ["constant", "set"], "learned": ["trained", "fitted"],
            "model": ["network", "net"], "so": ["thus", "hence"], "and": ["plus", "and also"], "rows": ["lines"],
            "row": ["line"], "state": ["memory", "hidden vector"], "must": ["has to", "needs to"],
            "gives": ["yields", "produces"], "decide": ["determine", "choose"], "is": ["is", "is really"],
            "a": ["one", "a"], "of": ["of", "from"], "to": ["to", "towards"], "when": ["if", "whenever"],
            "are": ["are", "seem"], "sees": ["looks at", "covers"], "with": ["using", "with"]}
FILLERS = ["really", "clearly", "basically", "in fact", "actually", "so", "then", "also"]
BLANK_FORMS = [BLANK, BLANK, "", "TODO", "YOUR ANSWER HERE"]


@dataclass
class Batch:
    folder: Path
    files: dict[str, list[str]] = field(default_factory=dict)  # student -> notebook file names
    planted: list[dict] = field(default_factory=list)  # {a, b, part, question}
    lookalikes: list[dict] = field(default_factory=list)
    style: dict[tuple[str, str], str] = field(default_factory=dict)  # (file, question) -> the truth


def _compose(rng: random.Random, spec: dict) -> tuple[str, str]:
    roll = rng.random()
    if roll < 0.08:
        return rng.choice(BLANK_FORMS), "blank"
    if roll < 0.2:
        own = " " + rng.choice(OWN) if rng.random() < 0.5 else ""
        return vary(rng, rng.choice(OPENERS) + spec["wrong"] + own, swap=0.5, filler=0.12), "wrong"
    kept = [i for i in range(len(spec["points"])) if rng.random() < 0.8] or [0]
    parts = [rng.choice(spec["points"][i]) for i in kept]
    text = rng.choice(OPENERS) + parts[0]
    for part in parts[1:]:
        text += rng.choice(JOINERS) + part
    text = text[0].upper() + text[1:] + "."
    if rng.random() < 0.7:
        text += " " + rng.choice(OWN)
    return vary(rng, text, swap=0.5, filler=0.12), "points:" + ",".join(map(str, kept))


def vary(rng: random.Random, text: str, swap: float = 0.35, filler: float = 0.08) -> str:
    """The student's own wording: some words swapped for synonyms, some fillers put in."""
    out = []
    for word in text.split(" "):
        if rng.random() < filler:
            out.append(rng.choice(FILLERS))
        out.append(rng.choice(SYNONYMS[word]) if word in SYNONYMS and rng.random() < swap else word)
    return " ".join(out)


def paraphrase(rng: random.Random, text: str) -> str:
    """Light paraphrase (a copier's): a few words swapped, a filler or two, sentences kept."""
    return vary(rng, text, swap=0.15, filler=0.03)


def _own_line(rng: random.Random) -> str:
    v, x = rng.choice(["tmp", "val", "res", "aux", "z", "w"]) + str(rng.randint(0, 99)), rng.choice("ijkn")
    a, b, c = rng.randint(2, 99), rng.randint(2, 99), rng.randint(2, 99)
    op = rng.choice(["+", "-", "*", "//", "%"])
    return rng.choice([f"{v} = [{a} {op} {x} * {b} for {x} in range({c})]", f"{v} = sum({x} ** {a % 4 + 1} for {x} in range({b}, {b + c}))",
                       f"print('check {a}', {a} {op} {b})", f"{v} = ({a}, {b}, {c})[{a % 3}] {op} {c}",
                       f"{v} = max({a}, {b}) {op} min({c}, {a})\nprint({v})", f"{v} = {{{a}: {b}, {c}: {a}}}.get({c}, {b})"])


def _solution(source: str) -> str:
    lines = [line for line in source.splitlines() if line.strip() not in {"# BEGIN SOLUTION", "# END SOLUTION"}]
    return "\n".join(re.sub(r"\s*# SOLUTION$", "", line) for line in lines)


def rename(rng: random.Random, source: str) -> str:
    """Every assigned local name replaced by another (consistently)."""
    names = set(re.findall(r"^\s*([a-z_]\w*)\s*=[^=]", source, re.M)) | set(re.findall(r"for ([a-z_]\w*) in", source))
    mapping = {n: rng.choice(["q", "my", "the", "new"]) + "_" + n[::-1] for n in names if len(n) > 1}
    for old, new in mapping.items():
        source = re.sub(rf"(?<![.\w]){re.escape(old)}\b(?!\s*=[^=]\s*\))", new, source)
    return source


def reorder(rng: random.Random, source: str) -> str:
    """Adjacent top-level one-line statements swapped where neither uses what the other assigns."""
    lines = source.splitlines()
    i = 0
    while i < len(lines) - 1:
        a, b = lines[i], lines[i + 1]
        simple = all(s and not s[0].isspace() and not s.rstrip().endswith(":") and "=" in s for s in (a, b))
        target_a, target_b = a.split("=")[0].strip(), b.split("=")[0].strip()
        if simple and target_a not in b and target_b not in a and rng.random() < 0.7:
            lines[i], lines[i + 1] = b, a
            i += 2
        else:
            i += 1
    return "\n".join(lines)


def _notebook(handout, master, rng: random.Random, prose: dict[str, str]) -> nbformat.NotebookNode:
    from course_staff.formats.handouts import filled_from_master

    nb = filled_from_master(handout, master)
    by_id = {cell.get("id"): cell for cell in handout.nb.cells}
    for cell in nb.cells:
        original = by_id.get(cell.get("id"))
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if original is not None and cell.source != original.source:
                own = [_own_line(rng) for _ in range(rng.randint(1, 3))]
                cell.source = _solution(cell.source) + "\n" + "\n".join(own)
        elif cell.get("id") in handout.blanks:
            cell.source = prose[cell.id]
    scratch = nbformat.v4.new_code_cell("\n".join(_own_line(rng) for _ in range(rng.randint(4, 8))))
    scratch.id = f"scratch-{rng.randint(0, 10**9):x}"
    nb.cells.insert(len(nb.cells) // 2, scratch)
    return nb


def make(folder: Path, students: int = 40, seed: int = 0, handouts_dir: Path = ROOT / "notebooks") -> Batch:
    """Write the batch into ``folder``; see the module docstring for what is planted."""
    rng = random.Random(f"{seed}:pairs")  # the picks and the copies: not moved by a handout's cells
    folder.mkdir(parents=True, exist_ok=True)
    handouts = load_handouts(handouts_dir)
    masters = {name: nbformat.read(ROOT / "answers" / f"{name}.ipynb", as_version=4) for name in handouts}
    batch = Batch(folder)
    names = [f"doe{i:03d}_{1000 + i}_{5000 + i}" for i in range(students)]
    notebooks: dict[tuple[str, str], nbformat.NotebookNode] = {}
    for student in names:
        for name, handout in handouts.items():
            own = random.Random(f"{seed}:{student}:{name}")  # one notebook's draws: a cell added elsewhere moves none
            prose, styles = {}, {}
            for qid in handout.blanks:
                prose[qid], styles[qid] = _compose(own, PROSE[qid]) if qid in PROSE else (BLANK, "blank")
            nb = _notebook(handout, masters[name], own, prose)
            notebooks[(student, name)] = nb
            for qid, style in styles.items():
                batch.style[(f"{student}_{name}.ipynb", qid)] = style
    n_pairs = max(2, students // 10)
    picks = rng.sample(names, 4 * n_pairs)
    hand_names = list(handouts)
    for k in range(n_pairs):  # code copies: student b takes a's whole notebook code
        a, b = picks[2 * k], picks[2 * k + 1]
        name = hand_names[k % len(hand_names)]
        source, target = notebooks[(a, name)], notebooks[(b, name)]
        copied = nbformat.from_dict(json.loads(json.dumps(source)))
        disguise = random.Random(f"{seed}:code:{k}")
        for cell, mine in zip(copied.cells, target.cells):
            if cell.cell_type == "code":
                cell.source = reorder(disguise, rename(disguise, cell.source))
            elif cell.get("id") in handouts[name].blanks:
                cell.source = mine.source  # their own prose
        notebooks[(b, name)] = copied
        batch.planted.append({"a": f"{a}_{name}.ipynb", "b": f"{b}_{name}.ipynb", "part": "code", "question": ""})
    for k in range(n_pairs):  # prose copies, lightly paraphrased
        a, b = picks[2 * n_pairs + 2 * k], picks[2 * n_pairs + 2 * k + 1]
        name = hand_names[(k + 1) % len(hand_names)]
        qid = list(handouts[name].blanks)[k % len(handouts[name].blanks)]
        spec = PROSE[qid]
        words = random.Random(f"{seed}:prose:{k}")
        text = (words.choice(spec["points"][0]).capitalize() + ". " + ". ".join(words.choice(p) for p in spec["points"][1:])
                + ". " + words.choice(OWN))
        for who, body in ((a, text), (b, paraphrase(words, text))):
            cell = next(c for c in notebooks[(who, name)].cells if c.get("id") == qid)
            cell.source = body
            batch.style[(f"{who}_{name}.ipynb", qid)] = "points:" + ",".join(map(str, range(len(spec["points"]))))
        batch.planted.append({"a": f"{a}_{name}.ipynb", "b": f"{b}_{name}.ipynb", "part": "prose", "question": qid})
    used = set(picks)
    honest = [s for s in names if s not in used]
    for k, qid in enumerate(["df663ae2", "79cf9458"]):  # honest look-alikes: the shortest right answer, twice
        a, b = honest[2 * k], honest[2 * k + 1]
        name = next(n for n, h in handouts.items() if qid in h.blanks)
        for who, variant in ((a, PROSE[qid]["short"]), (b, PROSE[qid]["short"].replace(", ", "; ", 1))):
            next(c for c in notebooks[(who, name)].cells if c.get("id") == qid).source = variant
            batch.style[(f"{who}_{name}.ipynb", qid)] = "short"
        batch.lookalikes.append({"a": f"{a}_{name}.ipynb", "b": f"{b}_{name}.ipynb", "part": "prose", "question": qid})
    for (student, name), nb in notebooks.items():
        file = f"{student}_{name}.ipynb"
        nbformat.write(nb, folder / file)
        batch.files.setdefault(student, []).append(file)
    return batch


def grade_report(batch: Batch, report: Path, seed: int = 0) -> dict[str, float]:
    """A grading report of the batch as ``course-utils grade`` writes it (check points drawn at random: the
    notebooks are not run), with the written answers beside it. Returns file -> check score."""
    from course_staff.formats.handouts import match
    from course_staff.formats.report import Row, write_report
    from course_staff.written import answers

    handouts = load_handouts(ROOT / "notebooks")
    rows, written, scores = [], [], {}
    check_ids = list(dict.fromkeys(q for h in handouts.values() for q in h.check_ids))
    for path in sorted(batch.folder.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        handout, _ = match(nb, handouts)
        draw = random.Random(f"{seed}:{path.name}")  # each file's own: a check added elsewhere moves none
        checks = {q: float(draw.randint(0, 1)) for q in handout.check_ids}
        row = Row(path.name, "pass", sum(checks.values()), float(len(checks)), handout.name, "tiny",
                  checks=checks, check_max={q: 1.0 for q in checks})
        rows.append(row)
        scores[path.name] = row.score
        written += answers.collect(path.name, nb, handout)
    write_report(rows, report, check_ids)
    answers.write_csv(written, report.with_suffix(".answers.csv"))
    return scores
