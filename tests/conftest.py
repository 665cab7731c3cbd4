"""Fixtures shared by the test files; ``scripts/`` goes on ``sys.path`` so that tests import
the authoring tools (``study_time_rule``, ``zh``, ...) by name."""

import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))


@pytest.fixture
def one_thread():
    """Two cores shared by many processes: one thread is faster and repeatable."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _environment_restored():
    """A test, or code it calls (``colab_setup`` sets COURSE_DATA_DIR), leaves the
    environment as it found it, so no later test on the same worker reads another folder."""
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)
