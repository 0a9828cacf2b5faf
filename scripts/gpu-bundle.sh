#!/usr/bin/env bash
# Packs what the GPU machine needs (it has the CUDA toolkit but no MLIR and
# no network): the built binaries and every shared library they load except
# the C runtime, compressed, under 60 MiB. Usage: scripts/gpu-bundle.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bundle/attnc-gpu.tar.xz}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/attnc/bin" "$stage/attnc/lib" "$(dirname "$out")"
bins=(attnc attn-opt attn-translate attnc-unit-tests attnc-cuda-bench)
for b in "${bins[@]}"; do cp "build/bin/$b" "$stage/attnc/bin/"; done
cp scripts/gpu-run.sh scripts/gpu-bench.py "$stage/attnc/"
# The example specs the CUDA tests read (ATTNC_SOURCE_DIR, set by gpu-run.sh).
cp -r examples "$stage/attnc/examples"
# Shared libraries, minus glibc's own (the GPU machine has those) and the
# CUDA driver/NVRTC (they must come from the GPU machine's own install).
for b in "${bins[@]}"; do ldd "build/bin/$b"; done | awk '/=> \//{print $3}' | sort -u |
  grep -vE '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*|libcuda|libnvrtc)[.-]' |
  while read -r lib; do cp -L "$lib" "$stage/attnc/lib/"; done
tar -C "$stage" -cf - attnc | xz -T0 -6 > "$out"
size=$(stat -c %s "$out")
echo "wrote $out: $((size / 1024 / 1024)) MiB ($(ls "$stage/attnc/lib" | wc -l) libraries)"
if [ "$size" -gt $((60 * 1024 * 1024)) ]; then
  echo "bundle is over 60 MiB" >&2
  exit 1
fi
