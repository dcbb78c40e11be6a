"""Mode parsing and the environment line that every handout prints first."""

import pytest
import torch

from course_utils import mode


@pytest.mark.parametrize("value, tiny", [("1", True), ("TRUE", True), (" yes ", True), ("on", True),
                                         ("0", False), ("", False), ("false", False), ("Off", False)])
def test_is_tiny_reads_course_tiny(value, tiny):
    assert mode.is_tiny({"COURSE_TINY": value}) is tiny


def test_unset_means_full_mode_and_a_typo_is_an_error():
    assert mode.is_tiny({}) is False
    with pytest.raises(ValueError, match="COURSE_TINY=1 for tiny"):
        mode.is_tiny({"COURSE_TINY": "tiyn"})


def test_full_mode_without_gpu_says_what_to_do(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_TINY", "0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    line = mode.report_environment(needs_gpu=True)
    assert line.startswith("mode: full | device: CPU only")
    assert "Change runtime type" in line and "COURSE_TINY" in line
    assert capsys.readouterr().out.strip() == line.strip()


def test_tiny_mode_or_no_gpu_need_prints_one_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("COURSE_TINY", "1")
    assert mode.report_environment(needs_gpu=True) == "mode: tiny | device: CPU only"
    monkeypatch.setenv("COURSE_TINY", "0")
    assert mode.report_environment(needs_gpu=False) == "mode: full | device: CPU only"


def test_set_seed_makes_torch_repeatable_and_leaves_cudnn_alone():
    cudnn = torch.backends.cudnn
    flags = (cudnn.deterministic, cudnn.benchmark)
    mode.set_seed(7)
    a = torch.rand(3)
    mode.set_seed(7)
    assert torch.equal(a, torch.rand(3))
    assert (cudnn.deterministic, cudnn.benchmark) == flags


@pytest.mark.parametrize("benchmark", [True, False])
def test_deterministic_cudnn_is_scoped(monkeypatch, benchmark):
    cudnn = torch.backends.cudnn
    monkeypatch.setattr(cudnn, "deterministic", False)
    monkeypatch.setattr(cudnn, "benchmark", benchmark)
    with pytest.raises(RuntimeError), mode.deterministic_cudnn():
        assert cudnn.deterministic and not cudnn.benchmark
        raise RuntimeError("the flags come back after an error too")
    assert (cudnn.deterministic, cudnn.benchmark) == (False, benchmark)


@pytest.mark.parametrize("tiny", [True, False])
def test_use_makes_the_notebook_value_the_mode_everywhere(monkeypatch, tiny):
    """A papermill-injected TINY wins over the environment for is_tiny, mode_name (the self-checks),
    the lab's preset and a child process."""
    import subprocess
    import sys

    from course_utils.lab.config import LabConfig

    monkeypatch.setenv("COURSE_TINY", "0" if tiny else "1")  # the environment says the opposite
    assert mode.use(tiny) is tiny
    assert mode.is_tiny() is tiny and mode.mode_name() == ("tiny" if tiny else "full")
    assert LabConfig.for_mode().tiny_mode is tiny
    child = subprocess.run([sys.executable, "-c", "from course_utils import mode; print(mode.mode_name())"],
                           capture_output=True, text=True, check=True)
    assert child.stdout.strip() == ("tiny" if tiny else "full")


def test_use_refuses_anything_but_a_bool(monkeypatch):
    monkeypatch.setenv("COURSE_TINY", "1")
    with pytest.raises(TypeError, match="True \\(tiny\\) or False"):
        mode.use("0")
    assert mode.is_tiny()
