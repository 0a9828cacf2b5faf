#!/usr/bin/env bash
# Runs on the GPU machine, inside the unpacked bundle (no build step):
#   tar -xJf attnc-gpu.tar.xz && attnc/gpu-run.sh
# It runs the CUDA tests (the NVRTC sweep and the GPU numerics sweep against
# the float64 reference) and writes the full log to $OUT (or ./gpu-logs).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
logs=${OUT:-$PWD/gpu-logs}
mkdir -p "$logs"
export LD_LIBRARY_PATH="$here/lib:${LD_LIBRARY_PATH:-}"
export ATTNC_CACHE_DIR="$logs/kernel-cache"
nvidia-smi > "$logs/nvidia-smi.txt" 2>&1 || true
"$here/bin/attnc-unit-tests" --gtest_filter='Cuda*:Nvrtc*:Driver*:Ptxas*' 2>&1 | tee "$logs/cuda-tests.log"
status=${PIPESTATUS[0]}
echo "cuda tests exit status: $status (log: $logs/cuda-tests.log)"
exit "$status"
