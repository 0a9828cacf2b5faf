#!/usr/bin/env bash
# The test command: installs dependencies, builds, and runs every test
# (lit + FileCheck suite, then the GoogleTest suite with the numerics sweep).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ctest --test-dir build --output-on-failure
