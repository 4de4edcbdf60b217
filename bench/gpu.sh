#!/usr/bin/env bash
# GPU measurements (issues 7, 14 and 26), end to end on one GPU in about 9 minutes.
# Usage: bash bench/gpu.sh   (from the repository root, with kcnn installed; exits 2 without a GPU)
# 0. The seed's 384-run design: --per-gpu 8 one run at a time versus fused execution (bench/gpu_fused.py, issue 26).
# 0b. A budgeted study on the GPU: the seed design's answer within 60 s, scored (bench/answer_quality.py, issue 25).
# 1. kcnn's training time against hand-written PyTorch loops on the GPU (bench/train_overhead.py).
# 2. Data placement, cudnn.benchmark, images/s and FLOP/s as a fraction of peak (bench/_gpu_checks.py).
# 3. A 12-run sweep with one run per GPU versus four concurrent runs (`--per-gpu 4`), warm workers.
# 4. Packing: runs per hour with --per-gpu 1, 2, 4 and 8 on one GPU (bench/gpu_packing.py, issue 14).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
if ! "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "bench/gpu.sh: torch sees no CUDA GPU here; run it on a machine with one." >&2
    exit 2
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PYTHON" -c "import keras, torch; print(f'keras {keras.__version__}, torch {torch.__version__}')"
start=$SECONDS
status=0
# Each step runs even when an earlier one failed: a GPU lease is short, and every figure counts.
step() {
    local title=$1
    shift
    echo "== $title"
    local t0=$SECONDS
    "$@" || { local rc=$?; echo "bench/gpu.sh: step failed with exit code $rc: $title" >&2; status=1; }
    echo "   ($((SECONDS - t0)) s)"
}
step "0. the seed's design: --per-gpu 8 unfused versus fused" "$PYTHON" bench/gpu_fused.py 15
step "0b. a budgeted study on the GPU: the seed design within 60 s" "$PYTHON" bench/answer_quality.py score seed 60 1 gpu
step "1. training time against hand-written PyTorch (cuda)" "$PYTHON" bench/train_overhead.py 3 cuda
step "2. GPU checks" "$PYTHON" bench/_gpu_checks.py
step "3. sweep: --per-gpu 1 versus --per-gpu 4" "$PYTHON" bench/sweep_throughput.py 10 90 1 gpu
step "4. packing: runs/hour with --per-gpu 1, 2, 4, 8" "$PYTHON" bench/gpu_packing.py 10 90
echo "bench/gpu.sh: done in $((SECONDS - start)) s"
exit $status
