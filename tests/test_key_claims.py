"""The keys' sentences against the keys' own measured outputs, and the written rubric against the keys.

A key's prose is written once, but the outputs it reads are stored by `course-utils keys` and, for cells
tagged machine-dependent, measured again whenever a master's code changes. Each test below reads both from
the executed masters, so a regenerated key whose numbers no longer support its sentence fails here instead
of teaching a false reading.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import nbformat
import pytest

from course_utils.q1 import convolution

ANSWERS = Path(__file__).resolve().parents[1] / "answers"
NUMBER = r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?"


def _cells(name: str) -> dict[str, nbformat.NotebookNode]:
    return {cell.id: cell for cell in nbformat.read(ANSWERS / f"{name}.ipynb", as_version=4).cells}


def _text(cell: nbformat.NotebookNode) -> str:
    """Markdown source, or everything a code cell printed or displayed as text."""
    if cell.cell_type == "markdown":
        return cell.source
    parts = []
    for output in cell.outputs:
        parts.append(output.get("text") or output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def _flat(text: str) -> str:
    """One line, single spaces: a sentence may wrap anywhere in a markdown cell."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def q1() -> dict[str, nbformat.NotebookNode]:
    return _cells("01_cnn_vs_rnn")


def _latency_panels(q1) -> dict[str, dict[int, tuple[float, float]]]:
    """{panel: {side: (cnn_ms, gru_ms)}} from the latency cell's printed table."""
    panels: dict[str, dict[int, tuple[float, float]]] = {}
    row = re.compile(rf"^(one image|batch of 16)\s+(\d+) x \d+\s*: CNN\s+({NUMBER}) ms, GRU\s+({NUMBER}) ms$")
    for line in _text(q1["5e7a6260"]).splitlines():
        if match := row.match(line.strip()):
            panels.setdefault(match[1], {})[int(match[2])] = (float(match[3]), float(match[4]))
    assert set(panels) == {"one image", "batch of 16"}, "the latency cell prints both panels, every size"
    return panels


def test_d1_the_one_image_panel_is_read_as_the_cnn_growing_faster(q1) -> None:
    single = _latency_panels(q1)["one image"]
    small, large = min(single), max(single)
    cnn_growth = single[large][0] / single[small][0]
    gru_growth = single[large][1] / single[small][1]
    assert cnn_growth > gru_growth, "the measured panel no longer shows the CNN's time growing faster"
    assert "its time grows faster with the side than the GRU's" in _flat(q1["11e228dd"].source)

    note = _flat(q1["q1-ta-notes"].source)
    quoted = re.search(rf"CNN's time grew from ({NUMBER}) to ({NUMBER}) ms between (\d+) and (\d+) pixels a side, "
                       rf"the GRU's from ({NUMBER}) to ({NUMBER}) ms", note)
    assert quoted, "the note for TAs quotes both curves' ends"
    assert (int(quoted[3]), int(quoted[4])) == (small, large)
    assert (float(quoted[1]), float(quoted[2])) == (single[small][0], single[large][0])
    assert (float(quoted[5]), float(quoted[6])) == (single[small][1], single[large][1])
    slower_from = int(re.search(r"the slower model at \$(\d+) \\times \1\$ and above", note)[1])
    assert all((cnn > gru) == (side >= slower_from) for side, (cnn, gru) in single.items())


def test_d2_the_batch_panel_and_the_profile_are_read_as_measured(q1) -> None:
    batched = _latency_panels(q1)["batch of 16"]
    note = _flat(q1["q1-ta-notes"].source)
    slower_from = int(re.search(r"the CNN was slower than the GRU from (\d+) × \1 on", note)[1])
    assert all((cnn > gru) == (side >= slower_from) for side, (cnn, gru) in batched.items()), batched

    profile = _text(q1["q1-profile"])
    times = {m[1]: float(m[2]) for m in re.finditer(rf"^(\S+)\s+input .* ({NUMBER}) ms \(", profile, re.MULTILINE)}
    assert max(times, key=times.get) == "features.0", "the largest share is the first convolution's"
    whole, one_by_one = map(float, re.search(rf"at once ({NUMBER}) ms; .* one at a time ({NUMBER}) ms", profile).groups())
    assert "several times longer on the batch at once than on the same 16 images one at a time" in note
    assert whole > 2 * one_by_one

    per_value = [(float(m[1]), float(m[2])) for m in
                 re.finditer(rf"output\s+({NUMBER}) MiB\s+{NUMBER} ms\s+({NUMBER}) ns per output value", _text(q1["q1-conv-by-shape"]))]
    assert "higher for large outputs (16 MiB" in note
    assert min(ns for mib, ns in per_value if mib == 16) > max(ns for mib, ns in per_value if mib <= 4)
    assert "does not measure" in note and "smaller sizes" in note, "small sizes: no cause claimed"


def test_d8_even_shifts_leave_the_logits_unchanged_only_with_a_wide_margin(q1) -> None:
    wide = re.findall(r"shifted by (\d+) px: every logit unchanged \(change < 1e-6\): (True|False)", _text(q1["q1-logit-shift"]))
    assert wide and all((value == "True") == (int(k) % 2 == 0) for k, value in wide)
    narrow = {int(k): float(v) for k, v in re.findall(rf"4 px margin, images shifted by (\d+) px: largest logit change ({NUMBER})",
                                                       _text(q1["q1-logit-shift-margin"]))}
    assert narrow[0] == 0 and all(change > 1e-6 for k, change in narrow.items() if k), "a 4 px margin breaks the even shifts"

    default = inspect.signature(convolution.logit_change_under_shift).parameters["margin"].default
    assert f"({default} by default)" in q1["q1-logit-shift-md"].source
    assert "narrower margin of 4 columns" in _flat(q1["q1-logit-shift-md"].source)
    assert "only with enough blank margin around the image" in _flat(q1["21c2d552"].source)


@pytest.mark.parametrize("cell_id", ["11e228dd", "21c2d552", "82dec9a4", "603c9ed6"])
def test_q1_answers_are_three_to_six_sentences(q1, cell_id: str) -> None:
    sentences = re.split(r"\.\**\s+(?=[A-Z*$])", q1[cell_id].source.strip())
    assert 3 <= len(sentences) <= 6, sentences
    assert re.search(r"The limit:", q1[cell_id].source), "each answer names one limit"


def test_d10_the_beta_03_row_is_quoted_and_read_as_nearly_uniform() -> None:
    q3 = _cells("03_self_attention")
    row = re.search(r"beta = 0\.3: .* row of y1 = \['([\d.]+)', '([\d.]+)', '([\d.]+)'\]", _text(q3["545dbbcb"]))
    weights = [float(w) for w in row.groups()]
    text = _flat(q3["391bb978"].source)
    quoted = re.search(r"the row of \$y_1\$ in the sweep above is \$([\d.]+), ([\d.]+), ([\d.]+)\$", text)
    assert [float(w) for w in quoted.groups()] == [round(w, 3) for w in weights]
    assert "nearly the plain average of all three tokens" in text
    assert max(weights) - min(weights) < 0.1 and abs(sum(weights) / 3 - 1 / 3) < 1e-3
    assert weights[1] == min(weights), "x_1 and x_3 ahead of x_2"
    assert "even blend of $x_1$ and" not in text


@pytest.fixture(scope="module")
def lab() -> dict[str, nbformat.NotebookNode]:
    return _cells("04_bert_gru_sentiment")


def test_d6_the_misclassified_review_is_said_to_be_misclassified(lab) -> None:
    printed = dict((review, float(p)) for p, review in re.findall(rf"^({NUMBER})  (.+)$", _text(lab["c56a7311"]), re.MULTILINE))
    note = _flat(lab["lab-q4a-key"].source)
    quoted = float(re.search(rf'"Avengers was great!!" gets ({NUMBER}), below 0\.5: it is misclassified', note)[1])
    assert quoted == printed["Avengers was great!!"] < 0.5
    assert float(re.search(rf"The negative review gets ({NUMBER})", note)[1]) == printed["Justice League is terrible. I hated it."]
    assert "0.918 for it (the original lab, full mode)" in note, "the original lab's value is labelled as such"


def test_d13_truncated_reviews_agree_up_to_float_rounding(lab) -> None:
    """Equal, or apart by float rounding: which, depends on whether the run cached BERT's features in half
    precision (``features.choose_storage`` looks at the memory free at the time); the key claims no more."""
    first, second = map(float, re.findall(NUMBER, _text(lab["c05783a0"])))
    assert abs(first - second) < 1e-6
    assert "the same probability up to float rounding" in _flat(lab["c776af2d"].source)


# Readings the keys show to be false (patterns, a negated form excepted): a rubric item that rewards one
# would have TAs reward a false claim.
FALSE_READINGS = {
    r"CNN's hardly": "the one-image panel: the CNN's time grows faster with the side (test_d1)",
    r"(?<!not )rotation invariant": "the 90-degree check: relative error about 1",
    r"(?<!not )robust to rotation": "the 90-degree check: relative error about 1",
    r"independent of the content": "q = k = v: content sets the scores (Q3 c)",
    r"partly learnt": "one probability shows no cause (lab Q4b)",
}


def _rubric() -> dict:
    return json.loads((ANSWERS / "written_rubric.json").read_text(encoding="utf-8"))["questions"]


def _solution_texts() -> dict[str, str]:
    texts = {}
    for path in sorted(ANSWERS.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if "solution" in cell.metadata.get("tags", []):
                texts[cell.id] = cell.source
    return texts


def test_rubric_rewards_no_reading_the_keys_show_false() -> None:
    for question, entry in _rubric().items():
        for item in entry["items"]:
            for pattern, evidence in FALSE_READINGS.items():
                if re.search(pattern, item["text"], re.IGNORECASE):
                    assert item["points"] < 0, f"{question}: {item['text']!r} rewards a false reading ({evidence})"


def test_keys_state_no_reading_they_show_false() -> None:
    for cell_id, text in _solution_texts().items():
        for phrase in ("CNN's hardly", "independent of the content", "partly learnt"):
            assert phrase not in text, f"{cell_id} says {phrase!r}"


def _formula_tokens(text: str) -> set[str]:
    """The numbers in a rubric item or an answer, with LaTeX commands, braces and spacing removed."""
    plain = re.sub(r"\\[a-zA-Z]+|[{}$\s]", "", text)
    return set(re.findall(r"\d+(?:\.\d+)?", plain))


def test_each_rubric_item_is_backed_by_the_keys_answer() -> None:
    """Every rubric entry names a written answer of a master, and the numbers a positive item asks for are in it."""
    answers = _solution_texts()
    rubric = _rubric()
    assert set(rubric) <= set(answers), f"rubric entries with no written answer: {sorted(set(rubric) - set(answers))}"
    for question, entry in rubric.items():
        answer = _formula_tokens(answers[question])
        for item in entry["items"]:
            if item["points"] > 0:
                missing = _formula_tokens(item["text"]) - answer
                assert not missing, f"{question}: {item['text']!r} asks for {sorted(missing)}, not in the key's answer"
