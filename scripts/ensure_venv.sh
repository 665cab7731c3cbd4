#!/usr/bin/env bash
# Create (or reuse) the virtual environment at $VENV with everything the course needs.
# Installs torch==2.13.0 first when torch is missing: an unpinned torch would pull a
# multi-GB CUDA build. Reinstalls only when pyproject.toml changed. Safe to run in
# parallel (flock) and after an interruption (a marker is written last).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$(dirname "$VENV")"
want="$(cat pyproject.toml | sha256sum | cut -c1-16)"
marker="$VENV/.course-installed"
root="$(pwd)"
(
  flock 9
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version.split()[0]'
    echo "creating $VENV"
    "$PYTHON" -m venv "$VENV"
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
