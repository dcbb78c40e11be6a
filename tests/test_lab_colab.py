"""The lab's Colab/GPU traps (issue 22, items 2-6), each reproduced on the CPU with a test double.

- a resume.pt saved for other trainable parameters: one line and a fresh start, not a raw ValueError;
  a run with nothing left to train extracts no features;
- free GPU memory counts what PyTorch's caching allocator holds (a double for ``torch.cuda``);
- an interrupted extraction leaves no file; feature files of a killed kernel are removed on the next run;
  ``NoRoomError`` says where the files are;
- a ``chmod`` that fails (Drive's FUSE mount) never breaks a checkpoint save; best.pt that lags
  resume.pt is repaired from it;
- BERT on the fly (training, inference) runs under the same autocast as the cached features.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile

import pytest
import torch

from course_staff.keys import lab as lab_key
from course_utils.files import atomic_write
from course_utils.lab import batching, features, text
from course_utils.lab import model as model_mod
from course_utils.lab.checkpoint import load_checkpoint
from course_utils.lab.features import choose_storage, extract_features
from course_utils.lab.model import build_model, load_bert
from course_utils.lab.train import BEST_NAME, RESUME_NAME, batch_logits, fit
from tests.test_lab_train import loaders

SIZES = dict(output_dim=1, n_layers=2, bidirectional=True, dropout=0.25)  # the lab's head but for its width

GIB = 2**30
pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def _model(vocab_size: int, frozen: bool = True):
    model = build_model(load_bert(tiny=True, vocab_size=vocab_size, seed=0), hidden_dim=9, **SIZES, seed=0)
    for p in model.bert.parameters():
        p.requires_grad = not frozen
    return model


def _fit(out_dir, epochs, frozen=True, log=None, train_fn=lab_key.train_epoch, evaluate_fn=lab_key.evaluate, **kwargs):
    tok, _, train, valid = loaders(48)
    torch.manual_seed(0)
    random.seed(0)
    model = _model(len(tok), frozen)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    history = fit(model, train, valid, epochs, train_fn, evaluate_fn, optimizer=opt, out_dir=out_dir, progress=False,
                  log=log or (lambda line: None), **kwargs)
    return model, history


# --- 2. resume ---------------------------------------------------------------------------------

def test_resume_with_other_trainable_parameters_starts_afresh_in_one_line(tmp_path):
    """Q2c blank (BERT trainable: ~all tensors in Adam), then BERT frozen: the saved optimizer state does
    not fit; fit says so in one line and trains from scratch, as a first run would."""
    _fit(tmp_path / "run", 1, frozen=False)
    lines: list[str] = []
    _, history = _fit(tmp_path / "run", 2, frozen=True, log=lines.append)
    _, fresh = _fit(tmp_path / "fresh", 2, frozen=True)
    assert history["epoch"] == [1, 2] and history["train_loss"] == fresh["train_loss"]
    said = [line for line in lines if RESUME_NAME in line]
    assert len(said) == 1 and "other trainable parameters" in said[0] and "starting afresh" in said[0]
    assert load_checkpoint(tmp_path / "run" / RESUME_NAME)["history"]["epoch"] == [1, 2]


def test_a_finished_run_extracts_no_features_again(tmp_path):
    """Rerunning the training cell of a finished run: fit has nothing to train, so no BERT pass at all."""
    from course_utils.lab.config import LabConfig
    from course_utils.lab.workflow import build_lab_model, prepare_data, start, train_lab

    config = LabConfig.tiny().replace(epochs=1, n_synthetic=40)
    start(config)
    data = prepare_data(config, cache_dir=tmp_path / "cache", progress=False)
    model = build_lab_model(config, data.tokenizer)
    train_lab(model, data, config, tmp_path / "run", lab_key.train_epoch, lab_key.evaluate, progress=False,
              log=lambda line: None, features="cache")
    seen = [0]
    model.bert.register_forward_pre_hook(lambda m, a, k: seen.__setitem__(0, seen[0] + 1), with_kwargs=True)
    lines: list[str] = []
    history = train_lab(model, data, config, tmp_path / "run", lab_key.train_epoch, lab_key.evaluate, progress=False,
                        log=lines.append, features="cache")
    assert history["epoch"] == [1] and seen[0] == 0
    assert not any("features: storage=" in line for line in lines)


# --- 3. free GPU memory ------------------------------------------------------------------------

class FakeAllocator:
    """``torch.cuda``'s memory calls for a 15 GiB GPU on which a finished run left ``cached`` bytes in
    PyTorch's caching allocator: the driver counts them as used until ``empty_cache``."""

    def __init__(self, total: int, allocated: int, cached: int) -> None:
        self.total, self.allocated, self.cached = total, allocated, cached

    def install(self, monkeypatch) -> None:
        monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (
            self.total - self.allocated - self.cached, self.total))
        monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: self.allocated + self.cached)
        monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: self.allocated)
        monkeypatch.setattr(torch.cuda, "empty_cache", lambda: setattr(self, "cached", 0))


def test_free_gpu_memory_counts_what_the_caching_allocator_holds(monkeypatch):
    """A rerun: BERT's weights allocated (0.5 GiB), the first run's 9.4 GiB of features cached but free.
    The 6.6 GiB of training features must go to the GPU again, not to RAM or disk."""
    FakeAllocator(15 * GIB, GIB // 2, 9 * GIB + 2 * GIB // 5).install(monkeypatch)
    choice, why = choose_storage(int(6.6 * GIB), torch.device("cuda"), ram=11 * GIB, disk=75 * GIB)
    assert choice == "gpu", why


# --- 4. feature files --------------------------------------------------------------------------

def _tiny_feature_model():
    tok = text.load_tokenizer(tiny=True)
    return _model(len(tok)), loaders(48)[1]


def test_an_interrupted_extraction_leaves_no_file(tmp_path, monkeypatch):
    """KeyboardInterrupt in the second BERT batch: neither the feature file nor its temporary remains."""
    model, ids = _tiny_feature_model()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    real, calls = model.embed, []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(model, "embed", interrupted)
    for path in (None, tmp_path / "mine.features"):
        calls.clear()
        with pytest.raises(KeyboardInterrupt):
            extract_features(model, ids, batch_size=8, storage="disk", path=path, log=None)
        assert sorted(p.name for p in tmp_path.iterdir()) == [], path


def test_feature_files_of_a_killed_kernel_are_removed_by_the_next_run(tmp_path, monkeypatch):
    """A killed kernel never runs its finalizers: its feature files stay in /tmp (Colab's "Restart session"
    keeps /tmp). The next extraction removes them, and leaves alone those a live process still uses."""
    model, ids = _tiny_feature_model()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    live = extract_features(model, ids, storage="disk", log=None)  # this process still holds it
    assert live.path.exists()
    # What a killed kernel leaves: a finished file (no finalizer ran) and the temporary of one it was writing.
    stale = [live.path.with_name(f"course-utils-dead{i}.features") for i in range(2)]
    for file in stale:
        shutil.copyfile(live.path, file)
    (tmp_path / "course-utils-dead2.features.tmp999999").write_bytes(b"\0" * 1024)
    lines: list[str] = []
    extract_features(model, ids, storage="ram", log=lines.append)
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.path.name]
    assert any("removed 3 files" in line and str(tmp_path) in line for line in lines), lines


def test_no_room_says_where_the_feature_files_are_and_how_to_free_them(tmp_path, monkeypatch):
    model, ids = _tiny_feature_model()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    live = extract_features(model, ids, storage="disk", log=None)
    with pytest.raises(features.NoRoomError) as caught:
        extract_features(model, ids, allow_none=False, log=None, headroom=0.0)
    message = str(caught.value)
    assert str(tmp_path) in message and "1 feature file" in message and "Restart session" in message
    assert "\n" not in message
    del live


# --- 5. Drive ----------------------------------------------------------------------------------

def test_a_failing_chmod_never_breaks_a_save(tmp_path, monkeypatch):
    """Drive's FUSE mount may refuse chmod: the checkpoint is written anyway."""
    def refuse(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "chmod", refuse)
    atomic_write(tmp_path / "best.pt", b"weights")
    assert (tmp_path / "best.pt").read_bytes() == b"weights"
    assert [p.name for p in tmp_path.iterdir()] == ["best.pt"]


def _steps():
    """A train_fn that moves the weights (bias + 1 per epoch) and an evaluate_fn whose loss falls every epoch."""
    def train_fn(m, batches, optimizer, criterion):
        with torch.no_grad():
            m.out.bias += 1
        return 0.5, 0.5

    def evaluate_fn(m, batches, criterion):
        return 1.0 / float(m.out.bias.detach().abs().sum() + 1), 0.5

    return dict(train_fn=train_fn, evaluate_fn=evaluate_fn)


@pytest.mark.parametrize("lost", ["stale", "missing"])
def test_best_that_lags_resume_is_repaired_from_it(tmp_path, lost):
    """Drive uploads best.pt and resume.pt separately: after a recycle, best.pt may be an older epoch's (or
    absent) while resume.pt is the newest. The next run puts the best model that resume.pt knows back."""
    run = tmp_path / "run"
    _fit(run, 1, **_steps())
    old_best = (run / BEST_NAME).read_bytes()
    model, _ = _fit(run, 2, **_steps())
    right = load_checkpoint(run / BEST_NAME)
    assert right["epoch"] == 2
    if lost == "stale":
        (run / BEST_NAME).write_bytes(old_best)
    else:
        (run / BEST_NAME).unlink()
    lines: list[str] = []
    _fit(run, 2, log=lines.append, **_steps())  # nothing left to train
    repaired = load_checkpoint(run / BEST_NAME)
    assert repaired["epoch"] == 2 and repaired["valid_loss"] == right["valid_loss"]
    assert all(torch.equal(v, right["model_state"][k]) for k, v in repaired["model_state"].items())
    assert any(BEST_NAME in line and "rewritten" in line for line in lines), lines


# --- 6. autocast -------------------------------------------------------------------------------

def _cpu_bf16(device):
    """A test double for the CUDA autocast: bf16 autocast on the CPU, so that it changes the numbers."""
    return torch.autocast("cpu", dtype=torch.bfloat16)


def test_bert_on_the_fly_runs_under_the_cached_features_autocast(monkeypatch):
    """Training on the fly, inference and the cache all run BERT under one autocast: with a bf16 double for
    it, the forward pass's logits equal those from the (float32-stored) cache, and differ from fp32 BERT's."""
    tok, ids, _, _ = loaders(8)
    model = _model(len(tok)).eval()
    batch = batching.collate([(x, 0) for x in ids[:4]])
    with torch.no_grad():
        fp32 = batch_logits(model, batch)
    monkeypatch.setattr(model_mod, "bert_autocast", _cpu_bf16, raising=False)
    monkeypatch.setattr(features, "_autocast", _cpu_bf16, raising=False)
    cache = extract_features(model, ids[:4], storage="ram", dtype=torch.float32, log=None)
    with torch.no_grad():
        on_the_fly = batch_logits(model, batch)
        cached = model.classify(cache.padded(range(4)).float(), cache.lengths).squeeze(-1)
    assert on_the_fly.dtype == torch.float32
    assert not torch.allclose(on_the_fly, fp32, atol=1e-6, rtol=0), "forward ran BERT without the autocast"
    assert torch.allclose(on_the_fly, cached, atol=1e-6, rtol=0)


def test_the_autocast_dtype_follows_the_gpu(monkeypatch):
    """fp16 on a T4 (compute capability 7.5), bf16 from Ampere (8.x) on; none on the CPU."""
    autocast_dtype = model_mod.autocast_dtype
    assert autocast_dtype(torch.device("cpu")) is None
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    assert autocast_dtype(torch.device("cuda")) is torch.float16
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    assert autocast_dtype(torch.device("cuda")) is torch.bfloat16
