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
"""

import jupyter_client.connect
import pytest
import zmq

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
