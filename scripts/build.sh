#!/usr/bin/env bash
# Configures and builds attnc in build/ (Release, Ninja, ccache when present).
set -euo pipefail
cd "$(dirname "$0")/.."

args=(-G Ninja -B build -S . -DCMAKE_BUILD_TYPE=Release)
# Debian's python3 (with python3-numpy) runs lit, even when another python3
# comes first on PATH.
[ -x /usr/bin/python3 ] && args+=(-DPython3_EXECUTABLE=/usr/bin/python3)
cmake "${args[@]}" > build-configure.log || { cat build-configure.log; exit 1; }
ninja -C build
