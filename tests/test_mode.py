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


def test_set_seed_makes_torch_repeatable():
    mode.set_seed(7)
    a = torch.rand(3)
    mode.set_seed(7)
    assert torch.equal(a, torch.rand(3))
