#!/usr/bin/env python3
"""Where a CPU kernel spends its time, loop by loop.

JIT code has no symbols, so perf cannot annotate it in place. This script
compiles a spec through the kernel cache (attnc run), takes the object code
out of the cache entry, links it into a shared library, calls it from a small
C++ harness under `perf record`, and sums perf's per-instruction samples by
innermost loop, with each loop's instruction mix (vfmadd231ps: micro-kernels,
vpermt2ps: K transposes, vrndscaleps/vfmadd213ps: exp, ...).

  scripts/profile-cpu-kernel.py --q-heads 32 --kv-heads 8 --head-dim 128 --seq 2048
  scripts/profile-cpu-kernel.py --decode --seq 16384 -- --kv-dtype f16
  scripts/profile-cpu-kernel.py --decode --seq 128 --reps 8000   # in L2

Needs perf and g++ (perf samples cpu-clock, so it works on VMs without
hardware counters); BHSD, batch 1, one thread; --decode profiles one query
row against --seq keys.
"""
import argparse
import collections
import glob
import os
import re
import struct
import subprocess
import sys
import tempfile

HARNESS = r"""
#include <dlfcn.h>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>
template <int R, typename T = float> struct D { T *a, *b; int64_t off, sizes[R], strides[R]; };
using Fn = void (*)(D<4> *, D<4> *, D<4> *, D<4> *, D<3> *, D<1> *, int64_t, int64_t, int64_t,
                    D<3> *, D<1, int64_t> *);
int main(int argc, char **argv) {
  const int64_t H = atol(argv[2]), KH = atol(argv[3]), S = atol(argv[4]), Dm = atol(argv[5]),
                BN = atol(argv[6]), items = atol(argv[7]), SQ = atol(argv[9]),
                KT = atol(argv[10]), QT = atol(argv[11]); // 0 f32, 1 f16, 2 bf16
  const int64_t KB = KT ? 2 : 4;
  Fn fn = (Fn)dlsym(dlopen(argv[1], RTLD_NOW), argv[8]);
  if (!fn) return 1;
  const int64_t tiles = (S + BN - 1) / BN, slots = SQ > 1 ? tiles : 0;
  std::vector<float> q(H * SQ * Dm), o(H * SQ * Dm), lse(H * SQ), kt(tiles * Dm * BN);
  std::vector<float> k(KH * S * Dm), v(KH * S * Dm); // 16-bit K/V use half of it
  std::vector<int64_t> tags(tiles);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  for (auto *x : {&q, &k, &v}) for (float &e : *x) e = u(rng);
  // 16-bit tensors: random bit patterns of values in +-[0.5, 1).
  auto halves = [&](std::vector<float> &x, int64_t n, int64_t type) {
    uint16_t *h = reinterpret_cast<uint16_t *>(x.data());
    for (int64_t i = 0; i < n; ++i)
      h[i] = type == 1 ? 0x3800 | (rng() & 0x83ff) : 0x3f00 | (rng() & 0x807f);
  };
  if (KT) { halves(k, KH * S * Dm, KT); halves(v, KH * S * Dm, KT); }
  if (QT) halves(q, H * SQ * Dm, QT);
  auto mk = [](float *p, int64_t h, int64_t d, int64_t s) {
    return D<4>{p, p, 0, {1, h, s, d}, {h * s * d, s * d, d, 1}};
  };
  D<4> dq = mk(q.data(), H, Dm, SQ), dk = mk(k.data(), KH, Dm, S), dv = mk(v.data(), KH, Dm, S),
       dO = mk(o.data(), H, Dm, SQ);
  D<3> dl{lse.data(), lse.data(), 0, {1, H, SQ}, {H * SQ, SQ, 1}};
  D<1> dp{nullptr, nullptr, 0, {0}, {1}};
  D<3> dkt{kt.data(), kt.data(), 0, {slots, Dm, BN}, {Dm * BN, BN, 1}};
  D<1, int64_t> dt{tags.data(), tags.data(), 0, {tiles}, {1}};
  const int reps = atoi(argv[12]);
  for (int rep = 0; rep < reps; ++rep) {
    std::fill(tags.begin(), tags.end(), 0);
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < items; ++i) fn(&dq, &dk, &dv, &dO, &dl, &dp, 1, i, i + 1, &dkt, &dt);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (rep + 3 < reps) continue; // print the last three
    printf("%.3f ms, %.1f GFLOP/s", ms, 4.0 * H * SQ * S * Dm / ms / 1e6);
    if (SQ == 1) printf(", %.1f GB/s of K/V", 2.0 * KH * S * Dm * KB / ms / 1e6);
    printf("\n");
  }
}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--attnc", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin", "attnc"))
    ap.add_argument("--q-heads", type=int, default=32)
    ap.add_argument("--kv-heads", type=int, default=8)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--decode", action="store_true", help="a decode kernel: one query row, --seq keys")
    ap.add_argument("--reps", type=int, default=3, help="calls to sample (more for short kernels)")
    ap.add_argument("extra", nargs="*", help="more attnc spec flags, after --")
    a = ap.parse_args()
    if a.reps < 1:
        ap.error(f"--reps must be >= 1, got {a.reps}")
    work = tempfile.mkdtemp(prefix="attnc-profile-")
    # --lse: the harness passes an LSE buffer, so the kernel must take one.
    mode = ["--mode", "decode"] if a.decode else []
    run = subprocess.run([a.attnc, "run", "--q-heads", str(a.q_heads), "--kv-heads", str(a.kv_heads),
                          "--head-dim", str(a.head_dim), "--layout", "bhsd", "--seq-q", "16",
                          "--threads", "1", "--reps", "1", "--no-check", "--cache-dir", work,
                          "--lse", os.path.join(work, "lse.npy")] + mode + a.extra,
                         capture_output=True, text=True)
    if run.returncode:
        sys.exit(run.stderr)
    sched = re.search(r"block_m (\d+), block_n (\d+)", run.stdout)
    block_m, block_n = int(sched.group(1)), int(sched.group(2))
    print(run.stdout.splitlines()[1])
    # The entry: magic, schema, key, spec, object, checksum (runtime/KernelCache.cpp).
    entry = open(glob.glob(os.path.join(work, "*.attnc"))[0], "rb").read()
    pos = 12
    for _ in range(2):
        (n,) = struct.unpack("<I", entry[pos:pos + 4])
        pos += 4 + n
    (n,) = struct.unpack("<Q", entry[pos:pos + 8])
    obj = os.path.join(work, "kernel.o")
    open(obj, "wb").write(entry[pos + 8:pos + 8 + n])
    lib, exe, data = (os.path.join(work, f) for f in ("kernel.so", "harness", "perf.data"))
    subprocess.run(["g++", "-shared", "-o", lib, obj], check=True, stderr=subprocess.DEVNULL)
    src = os.path.join(work, "harness.cpp")
    open(src, "w").write(HARNESS)
    subprocess.run(["g++", "-O2", "-o", exe, src, "-ldl"], check=True)
    group = a.q_heads // a.kv_heads
    heads_per_item = next(h for h in range(min(group, block_m), 0, -1) if group % h == 0 and block_m % h == 0)
    positions = block_m // heads_per_item
    seq_q = 1 if a.decode else a.seq
    items = (a.q_heads // heads_per_item) * ((seq_q + positions - 1) // positions)
    # The kernel line: "d_v 128, bf16, ..." or "d_v 128, f32 (k, v f16), ...".
    m = re.search(r"d_v \d+, (\w+)(?: \(k, v (\w+)\))?,", run.stdout)
    code = {"f32": 0, "f16": 1, "bf16": 2}
    q_type, kv_type = code[m.group(1)], code[m.group(2) or m.group(1)]
    args = [exe, lib, str(a.q_heads), str(a.kv_heads), str(a.seq), str(a.head_dim), str(block_n),
            str(items), "_mlir_ciface_attention", str(seq_q), str(kv_type), str(q_type), str(a.reps)]
    subprocess.run(["perf", "record", "-e", "cpu-clock", "-q", "-o", data] + args, check=True)
    ann = subprocess.run(["perf", "annotate", "-i", data, "--stdio", "attention"],
                         capture_output=True, text=True).stdout
    rows = []
    for line in ann.splitlines():
        m = re.match(r"\s*([\d.]+)\s*:\s*([0-9a-f]+):\s*(\S+)\s*(.*)", line)
        if m:
            rows.append((float(m.group(1)), int(m.group(2), 16), m.group(3), m.group(4)))
    loops = []
    for _, addr, op, operands in rows:
        t = re.match(r"([0-9a-f]+)", operands)
        if op.startswith("j") and t and int(t.group(1), 16) < addr:
            loops.append((int(t.group(1), 16), addr))

    def innermost(addr):
        best = None
        for lo, hi in loops:
            if lo <= addr <= hi and (best is None or hi - lo < best[1] - best[0]):
                best = (lo, hi)
        return best

    share, mix = collections.defaultdict(float), collections.defaultdict(collections.Counter)
    for pct, addr, op, _ in rows:
        loop = innermost(addr)
        share[loop] += pct
        mix[loop][op] += 1
    print("share   loop (addresses)      instruction mix")
    for loop, pct in sorted(share.items(), key=lambda x: -x[1])[:a.top]:
        where = f"{loop[0]:#x}-{loop[1]:#x}" if loop else "outside loops"
        print(f"{pct:5.1f}%  {where:<20}  " + ", ".join(f"{k} {v}" for k, v in mix[loop].most_common(6)))
    print(f"(files in {work})")


if __name__ == "__main__":
    main()
