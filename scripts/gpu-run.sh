#!/usr/bin/env bash
# Runs on the GPU machine, inside the unpacked bundle (no build step):
#   tar -xJf attnc-gpu.tar.xz && attnc/gpu-run.sh [--no-bench]
# 1. the CUDA tests (NVRTC sweep, CUBIN cache, GPU numerics sweeps of built-in
#    and programmable kernels against the float64 reference), 2. attnc run --target cuda, cold then from the cache,
# 3. the benchmark against torch SDPA (needs python3 with torch).
# Logs and the benchmark table go to $OUT (or ./gpu-logs).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
logs=${OUT:-$PWD/gpu-logs}
mkdir -p "$logs"
export LD_LIBRARY_PATH="$here/lib:${LD_LIBRARY_PATH:-}"
export ATTNC_CACHE_DIR="$logs/kernel-cache"
export ATTNC_SOURCE_DIR="$here" # the tests read $here/examples
nvidia-smi > "$logs/nvidia-smi.txt" 2>&1 || true
status=0

"$here/bin/attnc-unit-tests" --gtest_filter='Cuda*:Nvrtc*:Driver*:Ptxas*:KernelCache*' 2>&1 | tee "$logs/cuda-tests.log"
rc=${PIPESTATUS[0]}
echo "== cuda tests exit status: $rc"
[ "$rc" -eq 0 ] || status=1

for pass in cold warm; do
  "$here/bin/attnc" run --target cuda --q-heads 8 --kv-heads 2 --head-dim 128 \
    --dtype bf16 --mask causal --align bottom_right --batch 2 --seq-q 113 \
    --seq-kv 300 --reps 3 2>&1 | tee "$logs/attnc-run-$pass.log"
  rc=${PIPESTATUS[0]}
  echo "== attnc run --target cuda ($pass) exit status: $rc"
  [ "$rc" -eq 0 ] || status=1
done

if [ "${1:-}" != "--no-bench" ]; then
  python3 "$here/gpu-bench.py" --bench "$here/bin/attnc-cuda-bench" \
    2> "$logs/bench.stderr" | tee "$logs/bench.md"
  rc=${PIPESTATUS[0]}
  echo "== benchmark exit status: $rc (table: $logs/bench.md)"
  [ "$rc" -eq 0 ] || status=1
fi
exit "$status"
