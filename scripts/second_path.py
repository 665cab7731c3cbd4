"""The second numerical path of ``make notebooks-alt``: prints its environment, e.g.
``ATEN_CPU_CAPABILITY=avx2``, for ``env $(python scripts/second_path.py) pytest ...``.

Seeded training on another CPU follows another trajectory (issue 16: notebook 03's loss at
steps 50-99 was 0.180 on one CPU, 0.246 on another), because vector instructions of another
width add in another order. ``make test`` runs the notebooks a second time on another set
of kernels of this machine, so that a stored output that depends on the kernels fails here
and not only on a learner's machine. The path is ATen's kernels one instruction set below
the machine's own:

- AVX-512 machines run the AVX2 kernels (as fast as the native ones);
- AVX2 machines, and other vector instruction sets, run the scalar kernels (``default``);
- a machine whose ATen has only scalar kernels falls back to MKL's conditional numerical
  reproducibility (``MKL_CBWR=COMPATIBLE``), which changes the matrix products only, at
  about 1.6 times their cost (measured on the course's 2-core machine, torch 2.13).

``tests/catalogues/test_numerical_paths.py`` checks that this path takes effect and really
changes a seeded training run.
"""

from __future__ import annotations

import os
import sys

LOWER = {"AVX512": "avx2", "AVX2": "default"}  # ATen's capability -> the one below


def second_path(native: str) -> dict[str, str]:
    """The environment of the second path on a machine whose ATen capability is ``native``
    (``torch.backends.cpu.get_cpu_capability()`` without ``ATEN_CPU_CAPABILITY``)."""
    if native in LOWER:
        return {"ATEN_CPU_CAPABILITY": LOWER[native]}
    if native not in ("DEFAULT", "NO AVX"):  # SVE, VSX, ZVECTOR: vector kernels of their own
        return {"ATEN_CPU_CAPABILITY": "default"}
    return {"MKL_CBWR": "COMPATIBLE"}


def native_capability() -> str:
    """This machine's own ATen capability (an inherited ATEN_CPU_CAPABILITY is ignored)."""
    os.environ.pop("ATEN_CPU_CAPABILITY", None)  # torch reads it once, at import
    import torch

    return torch.backends.cpu.get_cpu_capability()


def main() -> None:
    native = native_capability()
    env = second_path(native)
    shown = " ".join(f"{k}={v}" for k, v in env.items())
    print(f"second numerical path: {shown} (this machine's own: {native})", file=sys.stderr)
    print(shown)


if __name__ == "__main__":
    main()
