"""Where and how the course runs: device choice, seeding, and the FAST/FULL switch.

One ``get_device()`` for the whole course (CUDA, then Apple MPS, then CPU), so no
notebook copies device code. FAST is small settings for CPUs and CI; FULL is for a GPU.
Set ``COURSE_MODE=FAST`` or ``COURSE_MODE=FULL`` to choose; without it the course runs
FULL only when CUDA is present. Used by notebook 00 and every notebook that trains.

Every ``COURSE_*`` environment variable the package reads is named here, and so is the
repository's root folder (``REPO_ROOT``), the one place the package knows where it sits.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from course_lib.config import DEVICES, _

MODES = ("FAST", "FULL")
MODE_ENV = "COURSE_MODE"  # FAST or FULL
DATA_DIR_ENV = "COURSE_DATA_DIR"  # course_lib.data.shipped reads the shipped data from here if set
GIT_COMMIT_ENV = "COURSE_GIT_COMMIT"  # the commit a GPU job records when it runs without .git
LANG_ENV = "COURSE_LANG"  # en (the default) or zh: course_lib.i18n chooses the messages
REPO_ROOT = Path(__file__).resolve().parent.parent  # holds course_lib/, data/, solutions/


def get_device(prefer: str = "auto", verbose: bool = False) -> torch.device:
    """CUDA if present, else MPS, else CPU; ``prefer`` forces one ("cpu", "cuda", "mps")."""
    if prefer not in DEVICES:
        raise ValueError(
            _("device={device} is not allowed: choose 'auto', 'cpu', 'cuda' or 'mps'").format(
                device=repr(prefer)
            )
        )
    if prefer == "auto":
        if torch.cuda.is_available():
            prefer = "cuda"
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            prefer = "mps"
        else:
            prefer = "cpu"
    elif prefer == "cuda" and not torch.cuda.is_available():
        raise ValueError(_("device='cuda' was asked for but torch sees no CUDA GPU"))
    elif prefer == "mps" and not torch.backends.mps.is_available():
        raise ValueError(_("device='mps' was asked for but torch sees no Apple MPS device"))
    device = torch.device(prefer)
    if verbose:
        print(describe_device(device))
    return device


def describe_device(device: torch.device) -> str:
    """One line saying which device runs the course and why."""
    if device.type == "cuda":
        return _("device: cuda ({name})").format(name=torch.cuda.get_device_name(device))
    if device.type == "mps":
        return _("device: mps (Apple GPU; results may differ run to run in the last digits)")
    return _("device: cpu ({n} threads; no CUDA or MPS GPU found)").format(
        n=torch.get_num_threads()
    )


def get_mode() -> str:
    """FAST or FULL, from COURSE_MODE, else FULL with CUDA and FAST without."""
    value = os.environ.get(MODE_ENV)
    if value is None:
        return "FULL" if torch.cuda.is_available() else "FAST"
    value = value.strip().upper()
    if value not in MODES:
        raise ValueError(
            _("COURSE_MODE={value} is not allowed: choose FAST or FULL").format(value=repr(value))
        )
    return value


def is_fast() -> bool:
    return get_mode() == "FAST"


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so runs repeat."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
