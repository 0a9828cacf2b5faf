#!/usr/bin/env bash
# The main job: installs dependencies, builds, and runs the Llama-3-8B-style
# GQA causal layer on the CPU, checked against the float64 reference.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh > /dev/null
exec build/bin/attnc run examples/llama3-8b-gqa.mlir --seq-q 512 --seq-kv 512 "$@"
