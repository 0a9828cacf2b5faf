#!/usr/bin/env bash
# Builds attnc and its tests with AddressSanitizer and
# UndefinedBehaviorSanitizer in build-asan/ and runs every test labelled
# `sanitize` (all but the external embed build). Any report fails the run.
# Takes about 40 minutes on 2 cores (30 to build, 11 for the tests). Kernels JIT-compiled at run time and
# Debian's LLVM/MLIR libraries are not instrumented; attnc's own code is.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

# -fno-sanitize=vptr: MLIR is built without RTTI, which that check needs.
flags="-fsanitize=address,undefined -fno-sanitize=vptr"
flags+=" -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
args=(-G Ninja -B build-asan -S . -DCMAKE_BUILD_TYPE=RelWithDebInfo
      "-DCMAKE_C_FLAGS=$flags" "-DCMAKE_CXX_FLAGS=$flags"
      "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined"
      "-DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=address,undefined")
[ -x /usr/bin/python3 ] && args+=(-DPython3_EXECUTABLE=/usr/bin/python3)
cmake "${args[@]}" > build-asan-configure.log || { cat build-asan-configure.log; exit 1; }
ninja -C build-asan

# Leaks are reported; the process-wide pool and cache are reachable by
# design. halt_on_error: the first report fails the test that made it.
# allow_user_poisoning=0: LLVM's BumpPtrAllocator, instantiated from its
# headers in instrumented code, poisons slabs that Debian's uninstrumented
# libMLIR then fills: false reports, not attnc's.
export ASAN_OPTIONS=allow_user_poisoning=0:detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan -L sanitize --output-on-failure "$@"
