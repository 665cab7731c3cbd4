#!/usr/bin/env bash
# Create (or reuse) the virtual environment at $VENV with everything the course needs.
# Installs torch==2.13.0 first when torch is missing: an unpinned torch would pull a
# multi-GB CUDA build. Reinstalls only when pyproject.toml changed. Safe to run in
# parallel (flock, where there is one) and after an interruption (a marker is written last).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$(dirname "$VENV")"
# the hash of pyproject.toml (as `sha256sum | cut -c1-16`; macOS has no sha256sum)
want="$("$PYTHON" -c 'import hashlib; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest()[:16])')"
marker="$VENV/.course-installed"
root="$(pwd)"
(
  if command -v flock >/dev/null; then flock 9; fi  # macOS has no flock: no lock there
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version.split()[0]'
    echo "creating $VENV"
    if ! "$PYTHON" -m venv "$VENV"; then
      rm -rf "$VENV"
      echo "error: '$PYTHON -m venv' failed; on Debian or Ubuntu: apt-get install python3-venv" >&2
      exit 1
    fi
  fi
  if [ "$(cat "$marker" 2>/dev/null)" != "$want $root" ]; then
    rm -f "$marker"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
      "$VENV/bin/python" -m pip install -q "torch==2.13.0"
    fi
    "$VENV/bin/python" -m pip install -q -e ".[dev]"
    echo "$want $root" > "$marker"
  fi
) 9>"$VENV.lock"
