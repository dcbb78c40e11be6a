"""Machine-dependent figures in stored keys are replaced; everything else is kept byte for byte."""

from __future__ import annotations

import nbformat
import pytest

from course_staff.authoring import normalise

V = normalise.VARIES


@pytest.mark.parametrize("line, expected", [
    ("Epoch: 01 | Time: 0m 03s | Train Loss: 0.680 Acc: 55.17% | Val. Loss: 0.415 Acc: 80.27%",
     f"Epoch: 01 | Time: {V} | Train Loss: 0.680 Acc: 55.17% | Val. Loss: 0.415 Acc: 80.27%"),
    ("train features: storage=ram (5.9 MiB fits in 50% of 22.7 GiB available RAM; 95,889 tokens x 32 x float16)",
     f"train features: storage=ram (5.9 MiB fits in 50% of {V} available RAM; 95,889 tokens x 32 x float16)"),
    ("features: storage=disk (9.0 GiB fits in 50% of 40.0 GiB free disk in /var/tmp; not ram: 3.1 GiB available RAM)",
     f"features: storage=disk (9.0 GiB fits in 50% of {V} free disk in {V}; not ram: {V} available RAM)"),
    ("features: storage=gpu (1.0 GiB fits in 50% of 14.2 GiB free GPU memory; 1 tokens x 768 x float16)",
     f"features: storage=gpu (1.0 GiB fits in 50% of {V} free GPU memory; 1 tokens x 768 x float16)"),
    ("Best checkpoint: /tmp/course-utils-lab-x1_y/best.pt", f"Best checkpoint: /tmp/{V}"),
    ("Reviews: train 3500, valid 1500, test 5000", "Reviews: train 3500, valid 1500, test 5000"),
    ("112,241,409 parameters, 2,759,169 trainable; 0.5 s is not a wall-clock line",
     "112,241,409 parameters, 2,759,169 trainable; 0.5 s is not a wall-clock line"),
])
def test_text_replaces_only_machine_dependent_figures(line, expected):
    assert normalise.text(line) == expected
    assert normalise.text(expected) == expected  # idempotent: a stored key normalises to itself


def test_outputs_touches_streams_and_plain_text_results_only():
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="Epoch: 01 | Time: 1m 02s | rest\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": "'/tmp/abc'", "image/png": "iVBOR/tmp/x"},
                               execution_count=1),
    ]
    nb = normalise.outputs(nbformat.v4.new_notebook(cells=[cell]))
    out = nb.cells[0].outputs
    assert out[0].text == f"Epoch: 01 | Time: {V} | rest\n"
    assert out[1].data["text/plain"] == f"'/tmp/{V}'" and out[1].data["image/png"] == "iVBOR/tmp/x"
