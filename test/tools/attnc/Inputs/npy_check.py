"""Runs attnc on .npy inputs and compares with float64 NumPy attention.

usage: npy_check.py ATTNC WORKDIR
"""
import subprocess
import sys

import numpy as np

attnc, work = sys.argv[1], sys.argv[2]
rng = np.random.default_rng()


def attention(q, k, v, scale, mask, dtype):
    """Naive attention in `dtype` on BHSD arrays; masked rows give 0/-inf."""
    q, k, v = q.astype(dtype), k.astype(dtype), v.astype(dtype)
    group = q.shape[1] // k.shape[1]
    k = np.repeat(k, group, axis=1)
    v = np.repeat(v, group, axis=1)
    s = np.einsum("bhqd,bhkd->bhqk", q, k) * dtype(scale)
    s = np.where(mask, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    seen = np.isfinite(m)
    p = np.where(mask, np.exp(s - np.where(seen, m, 0)), 0)
    l = p.sum(axis=-1, keepdims=True)
    o = np.einsum("bhqk,bhkd->bhqd", p / np.where(l > 0, l, 1), v)
    lse = np.where(seen, m + np.log(np.where(l > 0, l, 1)), -np.inf)[..., 0]
    return o, lse


def visible(mask, align, seq_q, seq_kv, left=0, right=0):
    q = np.arange(seq_q)[:, None]
    k = np.arange(seq_kv)[None, :]
    diag = q + (seq_kv - seq_q if align == "bottom_right" else 0)
    if mask == "none":
        return np.ones((seq_q, seq_kv), bool)
    if mask == "causal":
        return k <= diag
    return (k >= diag - left) & (k <= diag + right)


def save(name, array):
    path = f"{work}/{name}.npy"
    np.save(path, np.ascontiguousarray(array, dtype=np.float32))
    return path


cases = [
    # layout, batch, seq_q, seq_kv, q_heads, kv_heads, d_qk, d_v, mask, align
    ("bshd", 1, 17, 17, 4, 2, 64, 64, "causal", "bottom_right", 0, 0),
    ("bhsd", 2, 113, 40, 8, 1, 32, 48, "causal", "bottom_right", 0, 0),
    ("bshd", 1, 1, 1023, 4, 4, 128, 128, "none", None, 0, 0),
    ("bhsd", 1, 64, 100, 6, 3, 80, 16, "sliding_window", "top_left", 9, 2),
    ("bshd", 3, 5, 9, 2, 1, 16, 16, "causal", "top_left", 0, 0),
    ("bshd", 1, 30, 20, 2, 2, 96, 96, "causal", "bottom_right", 0, 0),
]
for i, (layout, b, sq, skv, hq, hkv, dqk, dv, mask, align, left, right) in enumerate(cases):
    q = rng.standard_normal((b, hq, sq, dqk)).astype(np.float32)
    k = rng.standard_normal((b, hkv, skv, dqk)).astype(np.float32)
    v = rng.standard_normal((b, hkv, skv, dv)).astype(np.float32)
    to_file = (lambda x: x.transpose(0, 2, 1, 3)) if layout == "bshd" else (lambda x: x)
    paths = [save(f"{n}{i}", to_file(x)) for n, x in (("q", q), ("k", k), ("v", v))]
    out, lse_out = f"{work}/o{i}.npy", f"{work}/lse{i}.npy"
    cmd = [attnc, "run", "--q-heads", str(hq), "--kv-heads", str(hkv),
           "--d-qk", str(dqk), "--d-v", str(dv), "--layout", layout,
           "--mask", mask, "--q", paths[0], "--k", paths[1], "--v", paths[2],
           "--out", out, "--lse", lse_out, "--reps", "1", "--no-check"]
    if align:
        cmd += ["--align", align]
    if mask == "sliding_window":
        cmd += ["--window-left", str(left), "--window-right", str(right)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    o = np.load(out)
    o = o.transpose(0, 2, 1, 3) if layout == "bshd" else o
    lse = np.load(lse_out)
    allowed = visible(mask, align, sq, skv, left, right)
    ref_o, ref_lse = attention(q, k, v, 1 / np.sqrt(dqk), allowed, np.float64)
    f32_o, f32_lse = attention(q, k, v, 1 / np.sqrt(dqk), allowed, np.float32)
    finite = np.isfinite(ref_lse)
    assert o.shape == ref_o.shape and lse.shape == ref_lse.shape, (o.shape, lse.shape)
    assert not np.isnan(o).any(), f"case {i}: NaN in output"
    assert (lse[~finite] == -np.inf).all(), f"case {i}: masked rows must have LSE -inf"
    err = max(np.abs(o - ref_o).max(), np.abs(lse - ref_lse)[finite].max(initial=0))
    naive = max(np.abs(f32_o - ref_o).max(), np.abs(f32_lse - ref_lse)[finite].max(initial=0))
    tol = 2 * naive + 1e-5
    assert err <= tol, f"case {i} {cases[i]}: error {err:.3g} > tolerance {tol:.3g}"
print(f"{len(cases)} cases match the float64 NumPy reference")


def expect_error(args, message):
    r = subprocess.run([attnc, "run", *args], capture_output=True, text=True)
    assert r.returncode == 2 and message in r.stderr, (args, r.returncode, r.stderr)


base = ["--q-heads", "4", "--kv-heads", "2", "--head-dim", "64"]
good_q = save("good_q", np.zeros((1, 8, 4, 64)))
good_kv = save("good_kv", np.zeros((1, 8, 2, 64)))
bad_dtype = f"{work}/f64.npy"
np.save(bad_dtype, np.zeros((1, 8, 4, 64)))
expect_error(base + ["--q", bad_dtype, "--k", good_kv, "--v", good_kv],
             "dtype '<f8' is not supported; expected float32 ('<f4')")
fortran = f"{work}/fortran.npy"
np.save(fortran, np.asfortranarray(np.zeros((1, 8, 4, 64), np.float32)))
expect_error(base + ["--q", fortran, "--k", good_kv, "--v", good_kv],
             "Fortran-order arrays are not supported")
truncated = f"{work}/truncated.npy"
with open(good_q, "rb") as f:
    data = f.read()
with open(truncated, "wb") as f:
    f.write(data[:-10])
expect_error(base + ["--q", truncated, "--k", good_kv, "--v", good_kv],
             "needs 8192 bytes of data, the file holds 8182")
expect_error(base + ["--q", save("rank3", np.zeros((8, 4, 64))), "--k", good_kv, "--v", good_kv],
             "has 3 dimensions; layout bshd expects 4: (batch, seq, heads, dim)")
expect_error(base + ["--q", good_kv, "--k", good_kv, "--v", good_kv],
             "with 2 heads and dim 64, but the kernel has q_heads = 4 and d_qk = 64")
expect_error(base + ["--q", good_q, "--k", good_kv, "--v", save("short_v", np.zeros((1, 7, 2, 64)))],
             "disagree")
expect_error(base + ["--q", good_q, "--k", good_kv, "--v", good_kv, "--seq-q", "9"],
             "--seq-q 9 contradicts the .npy inputs, which have 8")
expect_error(base + ["--q", f"{work}/missing.npy", "--k", good_kv, "--v", good_kv],
             "missing.npy: cannot open: No such file or directory")
print("all bad-input cases rejected")
