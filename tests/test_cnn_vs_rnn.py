"""Tests for the Q1 demos: CNN vs row-by-row GRU on synthetic images."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_utils.q1 import cnn_vs_rnn as q1
from course_utils.q1 import convolution, latency
from course_utils.mode import set_seed


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def count_parameters(model: nn.Module) -> int:
    """Every scalar parameter of ``model`` (the release ships no counting function: it is a lab blank)."""
    return sum(p.numel() for p in model.parameters())


def cnn_params_by_hand(c1: int, c2: int, k: int, n_classes: int) -> int:
    """Weights + biases of conv(1->c1, kxk), conv(c1->c2, kxk) and linear(c2->n_classes)."""
    return (1 * c1 * k * k + c1) + (c1 * c2 * k * k + c2) + (c2 * n_classes + n_classes)


def gru_params_by_hand(width: int, hidden: int, n_classes: int) -> int:
    """Three gates (reset, update, candidate), each W_i: hidden x width, W_h: hidden x hidden, two biases."""
    return 3 * (hidden * width + hidden * hidden + 2 * hidden) + (hidden * n_classes + n_classes)


@pytest.mark.parametrize(("c1", "c2", "k", "n_classes"), [(4, 8, 3, 4), (5, 7, 5, 3)])
def test_cnn_parameter_count_matches_layer_arithmetic(c1, c2, k, n_classes):
    model = q1.SmallCNN(n_classes=n_classes, channels=(c1, c2), kernel_size=k)
    assert count_parameters(model) == cnn_params_by_hand(c1, c2, k, n_classes)


@pytest.mark.parametrize(("width", "hidden", "n_classes"), [(16, 32, 4), (11, 6, 3)])
def test_gru_parameter_count_matches_gate_arithmetic(width, hidden, n_classes):
    model = q1.RowGRU(width=width, hidden_dim=hidden, n_classes=n_classes)
    assert count_parameters(model) == gru_params_by_hand(width, hidden, n_classes)


def test_default_models_counts():
    assert count_parameters(q1.SmallCNN()) == 372
    assert count_parameters(q1.RowGRU(width=16)) == 4932
    assert q1.parameter_counts(16) == (372, 4932)
    assert q1.parameter_counts(64) == (372, count_parameters(q1.RowGRU(width=64)))


def test_gru_parameters_grow_with_image_width():
    gru_16, gru_64 = (count_parameters(q1.RowGRU(width=w)) for w in (16, 64))
    assert gru_64 - gru_16 == 3 * 32 * (64 - 16)  # the three input matrices gain 48 columns


def test_flatten_head_grows_with_image_size_and_fails_on_other_sizes():
    small = q1.SmallCNN(head="flatten", image_size=(16, 16))
    large = q1.SmallCNN(head="flatten", image_size=(32, 32))
    assert count_parameters(large) - count_parameters(small) == 8 * (64 - 16) * 4
    assert q1.forward_or_error(small, torch.zeros(2, 1, 16, 16)) == "logits (2, 4)"
    assert q1.forward_or_error(small, torch.zeros(2, 1, 40, 16)) == "fails with RuntimeError"
    assert q1.forward_or_error(q1.SmallCNN(), torch.zeros(2, 1, 40, 16)) == "logits (2, 4)"
    with pytest.raises(ValueError, match="image_size"):
        q1.SmallCNN(head="flatten")


def _dependent_stages(grad_fn, memo=None) -> int:
    """Oracle independent of the module classes: the longest chain of convolution, pooling and matrix-product
    operations in the autograd graph that torch recorded while computing an output (elementwise ops, views
    and transposes are not counted, as ``sequential_steps`` folds them into the stage before)."""
    memo = {} if memo is None else memo
    if grad_fn is None:
        return 0
    if grad_fn not in memo:
        before = max((_dependent_stages(f, memo) for f, _ in grad_fn.next_functions), default=0)
        name = type(grad_fn).__name__
        memo[grad_fn] = before + any(op in name for op in ("Convolution", "Pool", "Addmm", "Mm"))
    return memo[grad_fn]


@pytest.mark.parametrize("height", [8, 16, 40])
def test_step_counts(height, monkeypatch):
    cnn, gru = q1.SmallCNN(), q1.RowGRU(width=12)
    images = torch.randn(3, 1, height, 12)
    assert q1.sequential_steps(cnn, height) == 6
    assert _dependent_stages(cnn(images.requires_grad_()).grad_fn) == 6
    assert q1.sequential_steps(gru, height) == height + 1
    steps = []
    step = gru.step
    monkeypatch.setattr(gru, "step", lambda row, state: steps.append(1) or step(row, state))
    with torch.no_grad():
        gru.stream(images)
    assert len(steps) == height


@pytest.mark.parametrize("height", [1, 8, 16, 40])
def test_gru_reads_any_height_and_streaming_matches_fused_gru(height):
    set_seed(0)
    gru = q1.RowGRU(width=12, hidden_dim=7, n_classes=5)
    images = torch.randn(3, 1, height, 12)
    with torch.no_grad():
        logits = gru(images)
        per_row, state = gru.stream(images)
    assert logits.shape == (3, 5)
    assert per_row.shape == (3, height, 5) and state.shape == (3, 7)
    torch.testing.assert_close(per_row[:, -1], logits, atol=1e-5, rtol=1e-5)


def test_gru_rejects_wrong_width_with_a_fix():
    with pytest.raises(ValueError, match=r"RowGRU\(width=9\)"):
        q1.RowGRU(width=12)(torch.zeros(2, 1, 5, 9))


def test_synthetic_data_is_deterministic_balanced_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    images, labels = q1.make_images(101, height=10, width=14, seed=5)
    assert torch.equal(torch.get_rng_state(), before)
    again, labels_again = q1.make_images(101, height=10, width=14, seed=5)
    other, _ = q1.make_images(101, height=10, width=14, seed=6)
    assert images.shape == (101, 1, 10, 14) and images.dtype == torch.float32
    assert labels.shape == (101,) and labels.dtype == torch.int64
    assert torch.equal(images, again) and torch.equal(labels, labels_again)
    assert not torch.equal(images, other)
    assert sorted(torch.bincount(labels, minlength=q1.N_CLASSES).tolist()) == [25, 25, 25, 26]


def test_synthetic_shapes_have_the_class_geometry():
    images, labels = q1.make_images(40, height=12, width=12, seed=0, noise=0.0)
    for image, label in zip(images[:, 0], labels.tolist()):
        rows, cols = torch.nonzero(image, as_tuple=True)
        if label == 0:
            assert rows.unique().numel() == 1 and cols.numel() >= 4
        elif label == 1:
            assert cols.unique().numel() == 1 and rows.numel() >= 4
        elif label == 3:
            assert torch.equal(rows - rows.min(), cols - cols.min())
        else:  # a hollow square: side L has 4L - 4 pixels
            side = int(rows.max() - rows.min() + 1)
            assert side == int(cols.max() - cols.min() + 1) and rows.numel() == 4 * side - 4


def test_make_images_rejects_tiny_images():
    with pytest.raises(ValueError, match="at least 6"):
        q1.make_images(4, height=4, width=16)


def test_shift_moves_content_and_fills_zeros():
    x = torch.arange(1.0, 6.0).reshape(1, 5)
    assert convolution.shift(x, 2).tolist() == [[0, 0, 1, 2, 3]]
    assert convolution.shift(x, -1).tolist() == [[2, 3, 4, 5, 0]]
    assert convolution.shift(x, 7).tolist() == [[0] * 5]


@pytest.mark.parametrize("k", [1, 2, 3, -2])
def test_convolution_is_exactly_translation_equivariant_away_from_borders(k):
    set_seed(0)
    conv = nn.Conv2d(2, 3, 3, padding=1)
    x = torch.randn(2, 2, 20, 24)
    assert convolution.shift_error(conv, x, k) < 1e-6
    assert convolution.shift_error(conv, x, k, margin=0) > 1e-2  # borders: padding and content shifted out


def test_strided_pooling_is_equivariant_only_for_multiples_of_the_stride():
    set_seed(0)
    layer = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.MaxPool2d(2))
    x = torch.randn(2, 1, 24, 24)
    assert convolution.shift_error(layer, x, 2, stride=2) < 1e-6
    assert convolution.shift_error(layer, x, 4, stride=2) < 1e-6
    assert convolution.shift_error(layer, x, 1, stride=2) > 0.1
    assert convolution.shift_error(layer, x, 3, stride=2) > 0.1


def test_rotation_is_not_equivariant_unless_the_kernel_rotates_too():
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0], [0.0, 0.0, 0.5]]))
    x = torch.zeros(1, 1, 10, 10)
    x[0, 0, 3:7, 4] = 1.0  # a vertical bar away from the borders
    assert convolution.rotation_error(conv, x) > 0.5
    assert convolution.rotation_error(conv, x, rotate_kernel=True) < 1e-6
    symmetric = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        symmetric.weight.copy_(torch.tensor([[0.0, 1.0, 0.0], [1.0, 2.0, 1.0], [0.0, 1.0, 0.0]]))
    assert convolution.rotation_error(symmetric, x) < 1e-6  # only a rotation-symmetric kernel commutes


@pytest.mark.parametrize("height", [5, 16, 33])
def test_receptive_field_of_one_layer(height):
    set_seed(0)
    assert convolution.rows_seen("conv", height) == 3
    assert convolution.rows_seen("conv", height, kernel_size=5) == 5
    assert convolution.rows_seen("gru", height) == height


def _rows_behind_the_centre(stack: nn.Module, height: int) -> int:
    x = torch.randn(1, 1, height, 3, dtype=torch.float64, requires_grad=True)
    stack.double()(x)[0, 0, height // 2, 1].backward()  # the central output sees furthest both ways
    return int((x.grad[0, 0].abs().sum(dim=1) > 0).sum())


@pytest.mark.parametrize(("height", "k"), [(16, 3), (17, 3), (40, 5)])
def test_layers_to_reach_uses_the_given_stack_function(height, k):
    def rows_covered(n_layers: int, kernel_size: int) -> int:
        return _rows_behind_the_centre(nn.Sequential(*[nn.Conv2d(1, 1, kernel_size, padding=kernel_size // 2)
                                                      for _ in range(n_layers)]), height)

    set_seed(0)
    n = convolution.layers_to_reach(rows_covered, height, k)
    assert rows_covered(n, k) == height and rows_covered(n - 1, k) < height
    assert convolution.layers_to_reach(lambda n_layers, k: 10 * n_layers, 35) == 4
    with pytest.raises(ValueError, match="do not reach"):
        convolution.layers_to_reach(lambda n_layers, k: 1, 5, most=3)


def test_dilated_convolutions_see_exponentially_many_rows_without_pooling():
    # the key's caveat to (b2): dilations 1, 2, 4, ... grow the receptive field as 2^(L+1) - 1, at full resolution
    set_seed(0)
    for n_layers in (1, 2, 3, 4):
        stack = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=2**i, dilation=2**i) for i in range(n_layers)])
        assert _rows_behind_the_centre(stack, 80) == 2 ** (n_layers + 1) - 1


def test_a_global_pooling_cnn_is_shift_invariant_for_even_shifts_only():
    # the key's (a2): one stride-2 pooling before the global max: even shifts leave the logits equal, odd ones do not
    set_seed(0)
    cnn = q1.SmallCNN().eval()
    images, _ = q1.make_images(8, height=16, width=16, seed=3)
    change = convolution.logit_change_under_shift(cnn, images, tuple(range(9)))
    assert all(change[k] < 1e-6 for k in (0, 2, 4, 6, 8))
    assert all(change[k] > 1e-3 for k in (1, 3, 5, 7))
    with pytest.raises(ValueError, match="to the right"):
        convolution.logit_change_under_shift(cnn, images, (-1, 2))


@pytest.mark.parametrize(("width", "gru_per_pixel"), [(16, 288), (64, 144), (256, 108)])
def test_multiply_adds_per_pixel_are_equal_only_at_the_widest_images(width, gru_per_pixel):
    # the key's note on the timings: the CNN does 108 per pixel at every size, the GRU 3h(W + h)/W
    images = torch.zeros(2, 1, width, width)
    cnn, gru = q1.SmallCNN(), q1.RowGRU(width=width)
    cnn_head, gru_head = 8 * 4, 32 * 4  # the linear heads, once per image
    assert latency.multiply_adds(cnn, images) == 108 * width * width + cnn_head
    assert latency.multiply_adds(gru, images) == gru_per_pixel * width * width + gru_head


def test_time_by_input_shape_reports_each_shape():
    rows = latency.time_by_input_shape(nn.Conv2d(1, 4, 3, padding=1), [(1, 1, 8, 8), (2, 1, 16, 8)], n_repeats=2)
    assert [(r.name, r.output_floats) for r in rows] == [("(1, 1, 8, 8)", 256), ("(2, 1, 16, 8)", 1024)]
    assert all(r.ms > 0 for r in rows)


def test_latency_returns_positive_medians_of_the_right_shape(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)  # what measure_latency restores afterwards
    calls = []
    set_threads = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: calls.append(n) or set_threads(n))
    result = latency.measure_latency(sizes=(8, 12), batch_size=2, n_repeats=2, threads=1)
    assert result.sizes == [8, 12]
    assert len(result.cnn_ms) == len(result.gru_ms) == 2
    assert all(t > 0 for t in result.cnn_ms + result.gru_ms)
    assert result.ratio_at_largest() == pytest.approx(result.cnn_ms[-1] / result.gru_ms[-1])
    assert calls[0] == 1 and calls[-1] == 2  # one thread while measuring, then the count it found
    set_threads(before)


def test_training_reaches_high_accuracy_on_held_out_images():
    set_seed(0)
    train_x, train_y = q1.make_images(512, 12, 12, seed=1)
    test_x, test_y = q1.make_images(128, 12, 12, seed=2)
    model = q1.SmallCNN()
    losses = q1.train_classifier(model, train_x, train_y, epochs=8)
    assert len(losses) == 8 and losses[-1] < losses[0]
    with torch.no_grad():
        assert q1.accuracy(model(test_x), test_y) > 0.8


def _reference_training(model, images, labels, epochs, batch_size=64, lr=1e-2):
    """The textbook loop with torch.optim.Adam: the oracle of Q1's training (tests only, never released)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(epochs):
        total = 0.0
        for idx in torch.randperm(len(labels)).split(batch_size):
            loss = nn.functional.cross_entropy(model(images[idx]), labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        losses.append(total / len(labels))
    model.eval()
    return losses


@pytest.mark.parametrize("make", [q1.SmallCNN, lambda: q1.RowGRU(width=12)], ids=["cnn", "gru"])
def test_adam_steps_leave_the_parameters_bit_for_bit_as_torch_adam(make):
    """The oracle is torch.optim.Adam itself: the same losses and the same parameters after 2 epochs."""
    images, labels = q1.make_images(256, 12, 12, seed=4)
    runs = []
    for train in (q1.train_classifier, _reference_training):
        set_seed(0)
        model = make()
        runs.append((train(model, images, labels, epochs=2, lr=3e-2), [p.detach().clone() for p in model.parameters()]))
    (ours, our_params), (adams, adam_params) = runs
    assert ours == adams
    assert all(torch.equal(a, b) for a, b in zip(our_params, adam_params, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(our_params, [p.detach() for p in make().parameters()]))  # it moved


def test_adam_update_skips_parameters_without_a_gradient():
    used, unused = torch.ones(3, requires_grad=True), torch.ones(2, requires_grad=True)
    moments = q1._AdamMoments([used, unused])
    q1._adam_update([used, unused], (torch.tensor([1.0, -2.0, 0.0]), None), moments, lr=0.1)
    # Adam's first step moves each coordinate by lr * sign(gradient) (to eps), and not at all where it is 0
    assert torch.allclose(used.detach(), torch.tensor([0.9, 1.1, 1.0]))
    assert torch.equal(unused.detach(), torch.ones(2))
    assert [float(s) for s in moments.state_steps] == [1.0, 0.0]


def test_training_is_for_q1_models_only_and_skips_frozen_parameters():
    images, labels = q1.make_images(64, 8, 8, seed=1)
    with pytest.raises(TypeError, match="SmallCNN and RowGRU only"):
        q1.train_classifier(nn.Sequential(nn.Flatten(), nn.Linear(64, 4)), images, labels, epochs=1)
    model = q1.SmallCNN()
    first = next(model.parameters())
    first.requires_grad_(False)
    before = first.detach().clone()
    q1.train_classifier(model, images, labels, epochs=1)
    assert torch.equal(first.detach(), before)


def test_training_does_not_import_torch_dynamo():
    """Constructing a torch.optim optimizer imports torch._dynamo (about 1.4 s): Q1's training must not."""
    import subprocess
    import sys

    code = ("import sys, torch\nfrom course_utils.q1 import cnn_vs_rnn as q1\n"
            "x, y = q1.make_images(64, 8, 8, seed=1)\nq1.train_classifier(q1.SmallCNN(), x, y, epochs=1)\n"
            "q1.train_classifier(q1.RowGRU(width=8), x, y, epochs=1)\nprint('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_accuracy_is_a_fraction():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, 1.0], [0.0, 1.0]])
    assert q1.accuracy(logits, torch.tensor([0, 1, 1, 0])) == 0.5


@pytest.mark.parametrize(("height", "width"), [(16, 16), (40, 24)])
def test_cnn_peak_activation_is_the_first_feature_map(height, width):
    model = q1.SmallCNN(channels=(5, 3))
    assert q1.peak_activation(model, torch.zeros(2, 1, height, width)) == 5 * height * width
    with pytest.raises(TypeError, match="hidden_dim"):
        q1.peak_activation(q1.RowGRU(width=width), torch.zeros(2, 1, height, width))


def test_accuracy_after_each_row_ends_at_the_full_image_accuracy():
    set_seed(0)
    gru = q1.RowGRU(width=10, hidden_dim=6)
    images, labels = q1.make_images(32, height=9, width=10, seed=3)
    curve = q1.accuracy_after_each_row(gru, images, labels)
    assert len(curve) == 9 and all(0.0 <= a <= 1.0 for a in curve)
    with torch.no_grad():
        assert curve[-1] == q1.accuracy(gru(images), labels)


def test_shift_error_refuses_an_empty_interior():
    layer = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.MaxPool2d(2))
    with pytest.raises(ValueError, match="larger images"):
        convolution.shift_error(layer, torch.randn(1, 1, 16, 16), 4, stride=2)


@pytest.mark.parametrize("kernel_size", [3, 5])
@pytest.mark.parametrize("height", [4, 7, 16, 41])
def test_streamed_cnn_equals_the_whole_image_pass(kernel_size, height):
    set_seed(0)
    cnn = q1.SmallCNN(kernel_size=kernel_size).eval()
    images = torch.randn(3, 1, height, 12)
    streamed, depth = convolution.stream_cnn(cnn, images)
    with torch.no_grad():
        assert torch.allclose(streamed, cnn(images), atol=1e-6, rtol=0)
    pad = kernel_size // 2  # one feature row reads 4 + 6 * pad rows; the buffer rounds the rows above up to 4
    assert depth == 4 * -(-3 * pad // 4) + 4 + 3 * pad


def test_stream_cnn_refuses_a_flattening_head_and_too_few_rows():
    with pytest.raises(TypeError, match="head='pool'"):
        convolution.stream_cnn(q1.SmallCNN(head="flatten", image_size=(16, 16)), torch.zeros(1, 1, 16, 16))
    with pytest.raises(ValueError, match="at least 4"):
        convolution.stream_cnn(q1.SmallCNN(), torch.zeros(1, 1, 3, 16))


def test_one_feature_row_of_small_cnn_reads_ten_rows_and_the_stream_buffers_eleven_at_any_height():
    # conv 3x3 (3 rows) -> pool 2 -> conv 3x3 (3 pooled rows = 6 + 2) -> pool 2: 4 * 1 + 3 * 2 = 10 rows;
    # the buffer rounds the 3 rows above a band up to the stride, 4: 11 rows, whatever the height
    set_seed(0)
    cnn = q1.SmallCNN().eval()
    assert convolution.feature_rows_seen(cnn, 40) == 10
    assert {convolution.stream_cnn(cnn, torch.zeros(1, 1, h, 16))[1] for h in (16, 40, 256)} == {11}


def test_profile_layers_times_every_layer_on_its_own_input():
    torch.set_num_threads(2)
    cnn = q1.SmallCNN().eval()
    rows = latency.profile_layers(cnn, torch.zeros(2, 1, 16, 16), n_repeats=2)
    assert [r.name for r in rows] == ["features.0", "features.1", "features.2", "features.3", "features.4",
                                      "features.5", "head.0", "head.1", "head.2"]
    assert rows[0].input_shape == (2, 1, 16, 16) and rows[1].input_shape == (2, 4, 16, 16)
    assert rows[0].output_floats == rows[1].output_floats == 2 * 4 * 16 * 16  # the ReLU maps the conv's output
    assert all(r.ms > 0 for r in rows)
    assert torch.get_num_threads() == 2
    with pytest.raises(TypeError, match="recurrent"):
        latency.profile_layers(q1.RowGRU(width=16), torch.zeros(1, 1, 16, 16))


def test_batched_vs_one_by_one_times_both():
    whole, split = latency.batched_vs_one_by_one(nn.Conv2d(1, 4, 3, padding=1), torch.zeros(3, 1, 8, 8), n_repeats=2)
    assert whole > 0 and split > 0


def timed_calls(monkeypatch: pytest.MonkeyPatch, call_ms: float, n_repeats: int | None = None) -> tuple[int, float]:
    """(calls made, median returned) by ``median_ms`` on a run that takes ``call_ms`` on a fake clock."""
    clock = [0.0]
    monkeypatch.setattr(latency, "time", type("FakeTime", (), {"perf_counter": staticmethod(lambda: clock[0])}))
    calls = []

    def run() -> None:
        calls.append(1)
        clock[0] += call_ms / 1000

    median = latency.median_ms(run, n_repeats)
    return len(calls), median


@pytest.mark.parametrize(("tiny", "call_ms", "timed"), [
    ("1", 0.1, latency.TINY_REPEATS),  # short calls, where noise is a large share: a median of 3
    ("1", 4.0, 3),  # 4 + 4 < 10 ms: a third call
    ("1", 6.0, 2),  # 6 + 6 >= 10 ms: two
    ("1", 10.0, 1),  # one call as long as the budget: timed once
    ("1", 90.0, 1),
    ("0", 0.1, latency.REPEATS),  # full mode: always 9, however long
    ("0", 90.0, latency.REPEATS),
])
def test_timings_take_fewer_calls_in_tiny_mode_where_calls_are_long(
    monkeypatch: pytest.MonkeyPatch, tiny: str, call_ms: float, timed: int,
) -> None:  # fmt: skip
    monkeypatch.setenv("COURSE_TINY", tiny)
    calls, median = timed_calls(monkeypatch, call_ms)
    assert calls == timed + 1  # and one warm-up call, never timed
    assert median == pytest.approx(call_ms)
    assert latency.TINY_REPEATS >= 3 and latency.TINY_BUDGET_MS > 1  # short calls: still a median of several


@pytest.mark.parametrize("tiny", ["1", "0"])
def test_timings_take_exactly_the_repeats_asked_for(monkeypatch: pytest.MonkeyPatch, tiny: str) -> None:
    monkeypatch.setenv("COURSE_TINY", tiny)
    assert timed_calls(monkeypatch, 90.0, n_repeats=4)[0] == 5  # the budget is for the default only
    with pytest.raises(ValueError, match="n_repeats"):
        latency.median_ms(lambda: None, 0)


def test_plot_examples_tiles_the_first_images_of_each_class_in_its_row():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images, labels = q1.make_images(64, 10, 12, seed=5)
    fig = q1.plot_examples(images, labels, per_class=3, gap=1)
    try:
        (ax,) = fig.axes
        shown = torch.as_tensor(ax.images[0].get_array().filled(float("nan")))
        assert shown.shape == (4 * 11 - 1, 3 * 13 - 1)
        for label in range(q1.N_CLASSES):
            first = images[labels == label][:3, 0]
            for col in range(3):
                assert torch.equal(shown[label * 11 : label * 11 + 10, col * 13 : col * 13 + 12], first[col])
        assert torch.isnan(shown[10]).all() and torch.isnan(shown[:, 12]).all()  # the white gaps
        assert [t.get_text() for t in ax.get_yticklabels()] == list(q1.CLASS_NAMES)
        assert [round(t) for t in ax.get_yticks()] == [round(label * 11 + 4.5) for label in range(4)]
    finally:
        plt.close(fig)
