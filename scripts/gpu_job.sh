#!/usr/bin/env bash
# The whole GPU job of issue 13, one script, every result under $OUT with provenance:
#   1. every notebook in FULL mode through nbclient (scripts/full_notebooks.py), stopping at
#      the first error: per notebook seconds, peak GPU memory, status -> full_notebooks.json
#   2. the FULL sweep with >= 5 seeds (SEEDS, default 0-4): one worker per seed and dataset
#      (10) at once on the one GPU, started before the notebooks and running beside them
#      (OVERLAP=0: after them), each its own CSV, merged into full_sweep_seeds.csv (+ .json);
#      seed 0 is compared with the shipped single-worker data/results/full_sweep.csv
#   3. benchmarks/albert_scale.py at ALBERT-base size -> albert_scale_gpu.json
# Budget about 10 minutes on an H100/H200 (stage limits NB_SECONDS, SWEEP_SECONDS,
# ALBERT_SECONDS); the single-worker FULL sweep trained for 355 s, hence the overlap.
# The GPU machine has no network: if Jupyter is missing there, the job installs it from
# build/wheelhouse (git-ignored; about 19 MB for Python 3.12). Build it here first with
#   WHEEL_PY=3.12 bash scripts/gpu_job.sh --wheelhouse     (WHEELS_EXTRA="matplotlib ..." adds more)
# and carry build/wheelhouse with the tree. The job checks first that every module the
# notebooks import is there (torch, numpy, pandas, matplotlib, sklearn, ipywidgets) and
# stops with the list of missing ones. Run from the repository root (or a copy of it, without .git):
#   COURSE_GIT_COMMIT=$(git rev-parse HEAD) OUT=/tmp/out bash scripts/gpu_job.sh
#   bash scripts/gpu_job.sh --dry-run     # on CPU: lists notebooks and runs, tiny ALBERT timing
# Afterwards copy full_notebooks.json and the sweep files into data/results/ and
# albert_scale_gpu.json into benchmarks/results/.
set -u
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export COURSE_GIT_COMMIT="${COURSE_GIT_COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}"
SEEDS="${SEEDS:-0 1 2 3 4}"
WHEELS=(nbclient nbformat ipykernel jupyter_client ipywidgets ${WHEELS_EXTRA:-})
WHEELHOUSE="${WHEELHOUSE:-build/wheelhouse}"

if [ "${1:-}" = "--wheelhouse" ]; then  # here, with network: wheels for the GPU's Python
  "$PY" -m pip download --dest "$WHEELHOUSE" --only-binary=:all: --platform manylinux2014_x86_64 \
    --python-version "${WHEEL_PY:?set WHEEL_PY to the Python version of the GPU machine, e.g. 3.12}" "${WHEELS[@]}"
  du -sh "$WHEELHOUSE"
  exit $?
fi
DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1
if [ $DRY = 1 ]; then OUT="${OUT:-$(mktemp -d /tmp/gpu_job_dry.XXXX)}"; fi
OUT="${OUT:?set OUT to a folder for the results}"
mkdir -p "$OUT"
log() { echo "[$(date -u +%H:%M:%S)] $*"; }

# 0. provenance of the whole job
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/nvidia_smi.csv" 2>/dev/null \
  || echo "no nvidia-smi" > "$OUT/nvidia_smi.csv"
"$PY" - "$OUT/provenance.json" "$DRY" <<'PY'
import datetime, json, os, platform, sys, torch
info = {"utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": os.environ.get("COURSE_GIT_COMMIT"), "python": platform.python_version(),
        "torch": torch.__version__, "cuda": torch.version.cuda, "dry_run": sys.argv[2] == "1",
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "seeds": os.environ.get("SEEDS", "0 1 2 3 4")}
open(sys.argv[1], "w").write(json.dumps(info, indent=2) + "\n")
print(info)
PY
if [ $DRY = 0 ] && ! "$PY" -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  log "no CUDA GPU: this job needs one (use --dry-run to check it on CPU)"; exit 2
fi
if ! "$PY" -c "import nbclient, ipykernel, ipywidgets" 2>/dev/null; then
  log "installing Jupyter from $WHEELHOUSE (no network)"
  PIP_BREAK_SYSTEM_PACKAGES=1 "$PY" -m pip install --no-index --find-links "$WHEELHOUSE" \
    "${WHEELS[@]}" || exit 3  # a system Python 3.12 is "externally managed" (PEP 668)
fi
missing=$("$PY" - <<'PY'
import importlib.util
mods = ("torch", "numpy", "pandas", "matplotlib", "sklearn", "ipywidgets", "nbclient", "ipykernel")
print(" ".join(m for m in mods if importlib.util.find_spec(m) is None))
PY
)
if [ -n "$missing" ]; then
  log "missing on this machine: $missing (add them to the wheelhouse: WHEELS_EXTRA)"; exit 3
fi

# 2. (started first) the FULL sweep, one worker per seed and dataset, on the one GPU
start=$(date +%s)
if [ $DRY = 1 ]; then SW_ARGS=(--dry-run); else SW_ARGS=(--quiet); fi
sweep() {
  for s in $SEEDS; do
    for d in rotten_tomatoes shakespeare; do
      timeout "${SWEEP_SECONDS:-420}" "$PY" -m course_lib sweep --preset full --seeds "$s" \
        --dataset "$d" --out "$OUT/sweep_parts/seed${s}_$d.csv" "${SW_ARGS[@]}" \
        > "$OUT/sweep_seed${s}_$d.log" 2>&1 &
    done
  done
  wait
  log "sweep workers done after $(( $(date +%s) - start )) s"
}
if [ "${OVERLAP:-1}" = 1 ]; then sweep & SWEEP_PID=$!; fi

# 1. every notebook, FULL mode, real kernel, stop at the first error
nb_start=$(date +%s)
if [ $DRY = 1 ]; then NB_ARGS=(--dry-run); else NB_ARGS=(); fi
COURSE_MODE=FULL timeout "${NB_SECONDS:-330}" "$PY" scripts/full_notebooks.py \
  --out "$OUT/full_notebooks.json" "${NB_ARGS[@]}"
log "notebooks exit $? after $(( $(date +%s) - nb_start )) s (sweep beside them: OVERLAP=${OVERLAP:-1})"
if [ "${OVERLAP:-1}" = 1 ]; then wait "$SWEEP_PID"; else start=$(date +%s); sweep; fi
"$PY" - "$OUT" <<'PY'
import glob, json, os, sys
import pandas as pd
out = sys.argv[1]
parts = sorted(glob.glob(os.path.join(out, "sweep_parts", "seed*.csv")))
overlap = os.environ.get("OVERLAP", "1") == "1"
if not parts:
    print("no sweep parts to merge (dry run, or every worker failed: see sweep_seed*.log)")
    sys.exit(0)
df = pd.concat([pd.read_csv(p) for p in parts], ignore_index=True)
df.to_csv(os.path.join(out, "full_sweep_seeds.csv"), index=False)
prov = [json.load(open(p[:-4] + ".json")) for p in parts if os.path.exists(p[:-4] + ".json")]
meta = {"parts": [os.path.basename(p) for p in parts], "workers_at_once": len(parts),
        "seeds": sorted(int(s) for s in df["seed"].unique()), "n_records": len(df),
        "ran_beside_the_notebooks": overlap, "part_provenance": prov}
shipped = "data/results/full_sweep.csv"  # one worker alone: does concurrency change results?
if os.path.exists(shipped):
    keys, cols = ["name", "dataset"], ["accuracy", "val_loss"]
    alone = pd.read_csv(shipped)
    both = df[df["seed"] == 0].merge(alone[keys + cols], on=keys, suffixes=("", "_alone"))
    meta["seed0_vs_shipped_single_worker"] = {
        c: float((both[c] - both[c + "_alone"]).abs().max()) for c in cols if len(both)}
    print("seed 0 here vs the shipped single-worker sweep, max |difference|:",
          meta["seed0_vs_shipped_single_worker"])
open(os.path.join(out, "full_sweep_seeds.json"), "w").write(json.dumps(meta, indent=2) + "\n")
print(df.groupby(["dataset", "name"]).size().to_string())
PY

# 3. ALBERT-base scale: all-shared vs unshared, alone on the GPU
start=$(date +%s)
if [ $DRY = 1 ]; then
  AL_ARGS=(--tiny --device cpu --repeats 4 --warmup 0 --out "$OUT/albert_scale_cpu_tiny.json")
else
  AL_ARGS=(--device cuda --out "$OUT/albert_scale_gpu.json")
fi
timeout "${ALBERT_SECONDS:-150}" "$PY" benchmarks/albert_scale.py "${AL_ARGS[@]}"
log "albert_scale exit $? after $(( $(date +%s) - start )) s"
ls -l "$OUT"
