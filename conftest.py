"""pytest hooks for strict nbval over notebooks/ (`make notebooks`, `make notebooks-alt`).

nbval runs a cell, waits for the kernel's reply on the shell channel, and only then reads the
cell's output messages from the IOPub channel, waiting at most 5 s (hard-coded) for each. Two
things made that fail on a loaded 2-core machine ("Timeout of 5 seconds exceeded waiting for
output"), both measured with jupyter_client on this project's venv:

- Lost messages. A progress bar sends ~30 IOPub messages a second, more when the machine is slow
  and the cell runs longer. ZeroMQ queues only 1000 messages at each end of a PUB/SUB pair; while
  nbval waits on the shell channel nobody reads IOPub, so past a few thousand messages the kernel
  drops the rest, among them the final "idle" status that nbval waits for. A cell sending 50,000
  widget updates lost all but 6,496 of them, and nbval failed. With no limit on the receiving
  queue (ZMQ_RCVHWM = 0) all 50,006 arrived.
- A starved kernel. The kernel's IOPub thread may lag by seconds when other processes hold both
  cores; 5 s is then too short. We wait up to OUTPUT_TIMEOUT_S instead.

The Chinese notebooks (notebooks/zh/, issue 21) were executed with COURSE_LANG=zh, so their
kernels start with it too (nbval's --nbval-current-env kernel inherits this process's
environment when the notebook's first cell is set up); every other notebook's kernel starts
without it, whatever the shell says, so the English outputs are checked in English.
"""

import os
from pathlib import Path

import jupyter_client.connect
import pytest
import zmq

ZH_NOTEBOOKS = Path(__file__).resolve().parent / "notebooks" / "zh"
LANG_ENV = "COURSE_LANG"  # course_lib.runtime.LANG_ENV (not imported: no course_lib here)

OUTPUT_TIMEOUT_S = 120  # per IOPub message after the cell's reply; nbval's own default is 5

_connect_iopub = jupyter_client.connect.ConnectionFileMixin.connect_iopub


def _connect_iopub_unbounded(self, identity=None):
    """IOPub socket whose receive queue has no limit, so no output message is ever dropped."""
    self.context.setsockopt(zmq.RCVHWM, 0)  # a default for sockets created from here on
    try:
        return _connect_iopub(self, identity)
    finally:
        self.context.sockopts.pop(zmq.RCVHWM, None)


jupyter_client.connect.ConnectionFileMixin.connect_iopub = _connect_iopub_unbounded


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """nbval's cells wait OUTPUT_TIMEOUT_S for their output instead of 5 s."""
    for item in items:
        if hasattr(item, "output_timeout"):  # nbval.plugin.IPyNbCell
            item.output_timeout = OUTPUT_TIMEOUT_S


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """A notebook's kernel starts in its edition's language: zh under notebooks/zh/, else en."""
    if not hasattr(item, "output_timeout"):  # not a notebook cell
        yield
        return
    before = os.environ.get(LANG_ENV)
    if ZH_NOTEBOOKS in Path(str(item.fspath)).resolve().parents:
        os.environ[LANG_ENV] = "zh"
    else:
        os.environ.pop(LANG_ENV, None)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(LANG_ENV, None)
        else:
            os.environ[LANG_ENV] = before
