"""Device choice, the FAST/FULL switch and seeding."""

import pytest
import torch

from course_lib import get_device, get_mode, is_fast, seed_everything
from course_lib.runtime import describe_device


def test_auto_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert get_device().type == "cpu"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert get_device().type == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device().type == "cuda"


def test_device_report_is_one_line(capsys):
    get_device("cpu", verbose=True)
    out = capsys.readouterr().out
    assert out.startswith("device: cpu") and out.count("\n") == 1
    assert "cpu" in describe_device(torch.device("cpu"))


def test_bad_device_names_the_field():
    with pytest.raises(ValueError, match="^device='tpu'"):
        get_device("tpu")


def test_mode_switch(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "full")
    assert get_mode() == "FULL" and not is_fast()
    monkeypatch.setenv("COURSE_MODE", "FAST")
    assert is_fast()
    monkeypatch.delenv("COURSE_MODE")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_mode() == "FAST"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_mode() == "FULL"
    monkeypatch.setenv("COURSE_MODE", "medium")
    with pytest.raises(ValueError, match="COURSE_MODE='MEDIUM'.*FAST or FULL"):
        get_mode()


def test_seed_repeats():
    seed_everything(3)
    a = torch.randn(4)
    seed_everything(3)
    assert torch.equal(a, torch.randn(4))
