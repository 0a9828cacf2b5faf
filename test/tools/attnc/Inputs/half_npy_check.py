"""attnc on half-precision .npy files: float16 in and out for f16 kernels,
uint16 files holding bf16 bit patterns in (and float32 out) for bf16 ones,
and float16 K/V files for an f32 kernel; each compared with float64 NumPy
attention on the values the files hold.

usage: half_npy_check.py ATTNC WORKDIR
"""
import subprocess
import sys

import numpy as np

attnc, work = sys.argv[1], sys.argv[2]


def check(ok, *what):
    """An assertion that `python -O` keeps."""
    if not ok:
        sys.exit(f"FAIL: {what}")
rng = np.random.default_rng()  # fresh inputs each run (design.md)


def to_bf16_bits(x):
    """float32 -> bf16 bit patterns (uint16), round to nearest even."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def from_bf16_bits(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def attention(q, k, v):
    """Causal (bottom-right) float64 attention on BSHD arrays."""
    q, k, v = (np.asarray(x, np.float64).transpose(0, 2, 1, 3) for x in (q, k, v))
    group = q.shape[1] // k.shape[1]
    k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
    s = np.einsum("bhqd,bhkd->bhqk", q, k) / np.sqrt(q.shape[-1])
    sq, skv = q.shape[2], k.shape[2]
    s = np.where(np.arange(skv)[None] <= np.arange(sq)[:, None] + skv - sq, s, -np.inf)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    o = np.einsum("bhqk,bhkd->bhqd", p / p.sum(axis=-1, keepdims=True), v)
    return o.transpose(0, 2, 1, 3)


b, sq, skv, hq, hkv, d = 2, 17, 113, 4, 2, 64
q = rng.uniform(-1, 1, (b, sq, hq, d)).astype(np.float32)
k = rng.uniform(-1, 1, (b, skv, hkv, d)).astype(np.float32)
v = rng.uniform(-1, 1, (b, skv, hkv, d)).astype(np.float32)
base = [attnc, "run", "--q-heads", str(hq), "--kv-heads", str(hkv),
        "--head-dim", str(d), "--mask", "causal", "--align", "bottom_right",
        "--reps", "1", "--no-cache"]


def run(name, dtype, kv_dtype, files, want_dtype, values):
    paths = []
    for n, x in zip("qkv", files):
        paths.append(f"{work}/{name}_{n}.npy")
        np.save(paths[-1], x)
    out = f"{work}/{name}_o.npy"
    cmd = base + ["--dtype", dtype, "--kv-dtype", kv_dtype, "--q", paths[0],
                  "--k", paths[1], "--v", paths[2], "--out", out]
    printed = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    check("PASS" in printed, printed)
    o = np.load(out)
    check(o.dtype == want_dtype, (name, o.dtype))
    err = np.abs(o.astype(np.float64) - attention(*values)).max()
    # The output's own rounding: half an ulp of 1 is 2^-11 (f16), 2^-8 (bf16).
    bound = {"f16": 2e-3, "bf16": 8e-3, "f32": 1e-5}[dtype]
    check(err < bound, (name, err, bound))
    print(f"{name}: {o.dtype} output, max |o - ref| {err:.2e} < {bound}")
    return o


h = [x.astype(np.float16) for x in (q, k, v)]
run("f16", "f16", "f16", h, np.float16, h)
bits = [to_bf16_bits(x) for x in (q, k, v)]
o = run("bf16", "bf16", "bf16", bits, np.float32, [from_bf16_bits(x) for x in bits])
check(not (o.view(np.uint32) & 0xFFFF).any(), "bf16 output holds only bf16 values")
run("f32_f16kv", "f32", "f16", [q, h[1], h[2]], np.float32, [q, h[1], h[2]])
# A float32 file for a bf16 kernel is rounded on load: the check uses the
# rounded values, which the float64 reference sees through the bits.
run("bf16_from_f32", "bf16", "bf16", [q, k, v], np.float32,
    [from_bf16_bits(x) for x in bits])
# uint16 files are bf16 bits: an f16 tensor refuses them by name.
np.save(f"{work}/u16.npy", bits[0])
bad = subprocess.run(base + ["--dtype", "f16", "--q", f"{work}/u16.npy", "--k",
                             f"{work}/f16_k.npy", "--v", f"{work}/f16_v.npy"],
                     capture_output=True, text=True)
print(f"exit {bad.returncode}: {bad.stderr.strip()}")
print("half npy: all cases pass")
