#!/usr/bin/env bash
# One prepared GPU check (issue 3, deliverable 4), sized for a 15-minute device lease.
#
# Where a session is lent a GPU machine (its image's python3 holds PyTorch with CUDA, NumPy,
# SciPy, scikit-learn, pytest, click, rich; nothing can be installed from a registry there),
# first, here:
#     .venv/bin/pip download array-api-compat --no-deps -d .gpu_wheels
#     echo /.gpu_wheels/ >> .git/info/exclude
# then run, on the device (device tool `run`, carry [".gpu_wheels"], timeout_s ~540):
#     bash benchmarks/gpu_check.sh
# It writes $OUT/gpu_tests.log and $OUT/scaling_cuda.md (the card's name in its header).
set -uo pipefail
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp/convexnn_gpu}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if ! "$PY" -c "import array_api_compat" 2>/dev/null; then
    "$PY" -m pip install -q --no-index --find-links .gpu_wheels array-api-compat
fi
"$PY" -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))"
# 1. the CUDA tests (estimator and working-set FISTA with the metric on CUDA tensors)
timeout 180 "$PY" -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_gated_fast.py \
    2>&1 | tee "$OUT/gpu_tests.log"
# 2. issue 3's synthetic target on the GPU: n = 1e5, d = 100, P = 1000, gated, 1e-6 KKT,
#    float32 and float64, with the per-iteration ratio to two bare GEMMs on the same card.
timeout 300 "$PY" benchmarks/scaling.py --n 1e5 --backends cuda --dtypes float32,float64 \
    --out "$OUT/scaling_cuda.md" 2>&1 | tail -n 8
