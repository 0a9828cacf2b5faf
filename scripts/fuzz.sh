#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/) with clang 19, libFuzzer, AddressSanitizer
# and UndefinedBehaviorSanitizer in build-fuzz/, then fuzzes each for
# SECONDS (default 600), JOBS targets at a time (default: the cores),
# starting from a copy of its seed corpus in fuzz/corpus/<target>.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   targets: spec npy cache_entry
#                                            tuning_db capi_spec sequences
#                                            (default all)
#
# Each run's log is build-fuzz/logs/<target>.log; an input that crashes is
# saved as build-fuzz/crashes/<target>/crash-*, and the script then fails:
# turn it into a regression test and a seed (fuzz/corpus) before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if ! command -v clang++-19 > /dev/null ||
   ! [ -e /usr/lib/llvm-19/lib/clang/19/lib/linux/libclang_rt.fuzzer-x86_64.a ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
    --no-install-recommends clang-19 libclang-rt-19-dev
fi

seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(spec npy cache_entry tuning_db capi_spec sequences)
jobs=${JOBS:-$(nproc)}

flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=vptr"
flags+=" -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
cmake -G Ninja -B build-fuzz -S . -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
  "-DCMAKE_C_FLAGS=$flags" "-DCMAKE_CXX_FLAGS=$flags" \
  "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined" \
  "-DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=address,undefined" \
  -DATTNC_FUZZ=ON -DATTNC_BUILD_TESTS=OFF > build-fuzz-configure.log ||
  { cat build-fuzz-configure.log; exit 1; }
ninja -C build-fuzz "${targets[@]/#/attnc-fuzz-}"

mkdir -p build-fuzz/logs
# allow_user_poisoning=0: LLVM's BumpPtrAllocator, instantiated from its
# headers in instrumented code, poisons slabs that Debian's uninstrumented
# libMLIR then fills: false reports, not attnc's.
export ASAN_OPTIONS=allow_user_poisoning=0:detect_leaks=1:detect_stack_use_after_return=0
export UBSAN_OPTIONS=print_stacktrace=1
export ATTNC_CACHE_DIR="$PWD/build-fuzz/kernel-cache"
run() {
  local t=$1 work=build-fuzz/corpus/$1 crashes=build-fuzz/crashes/$1
  mkdir -p "$work" "$crashes"
  cp -n fuzz/corpus/"$t"/* "$work"/
  # -rss_limit_mb: the spec target holds MLIR contexts; -timeout: a hang.
  build-fuzz/bin/attnc-fuzz-"$t" "$work" -max_total_time="$seconds" \
    -timeout=30 -rss_limit_mb=4096 -max_len=65536 \
    -artifact_prefix="$crashes"/ -print_final_stats=1 \
    > build-fuzz/logs/"$t".log 2>&1
}
pids=() failed=()
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
  run "$t" & pids+=("$!:$t")
done
for p in "${pids[@]}"; do
  wait "${p%%:*}" || failed+=("${p#*:}")
done
for t in "${targets[@]}"; do
  printf '%-12s %s\n' "$t" "$(grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' build-fuzz/logs/"$t".log | tail -1)"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]}: see build-fuzz/crashes/ and build-fuzz/logs/" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds} s each, no crash"
