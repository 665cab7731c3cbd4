#!/usr/bin/env bash
# The one GPU job of a session: the FULL sweep, then the two benchmarks, results under $OUT.
# Run on a lent GPU machine from a copy of the tree (no .git there), e.g.
#   COURSE_GIT_COMMIT=<sha> OUT=/tmp/out bash scripts/gpu_run.sh
# then copy $OUT's files into data/results/ (sweep) and benchmarks/results/ (benchmarks).
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT="${OUT:?set OUT to a folder for the results}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/nvidia_smi.csv"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
start=$(date +%s)
timeout "${SWEEP_SECONDS:-360}" python3 -m course_lib sweep --preset full --out "$OUT/full_sweep.csv" --quiet
echo "sweep exit $? after $(( $(date +%s) - start )) s"
timeout 75 python3 benchmarks/encoder_vs_torch.py --device cuda --out "$OUT/encoder_vs_torch_gpu.json"
echo "encoder benchmark exit $?"
timeout 75 python3 benchmarks/sharing_speed.py --device cuda --out "$OUT/sharing_speed_gpu.json"
echo "sharing benchmark exit $?"
python3 - "$OUT/full_sweep.csv" <<'PY'
import sys, pandas as pd
df = pd.read_csv(sys.argv[1])
cols = [c for c in ("name", "dataset", "unique_params", "accuracy", "val_loss", "train_time_s", "tokens_per_s", "peak_mem_mb") if c in df]
print(df[cols].to_string())
PY
