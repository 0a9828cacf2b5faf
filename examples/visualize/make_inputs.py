"""Structured inputs for docs/visualize.md: q, k and v of one causal layer
(batch 1, 48 tokens, 4 heads, d 16, BSHD float32 .npy, no NumPy needed)
whose heads attend in four recognisable ways:
  head 0: the previous token   (q_i matches k_(i-1))
  head 1: the token itself     (q_i matches k_i: the diagonal)
  head 2: uniformly            (q = 0: every visible key weighs the same)
  head 3: the first token      (an attention sink: k_0 stands out)
Positions are encoded as in sinusoidal embeddings, so q_i . k_j peaks at
the intended key. Usage: python3 make_inputs.py OUT_DIR"""
import math
import os
import struct
import sys

S, H, D = 48, 4, 16
FREQS = [1.0 / (10000 ** (2 * f / D)) for f in range(D // 2)]


def position(i):
    return [v for w in FREQS for v in (math.cos(w * i), math.sin(w * i))]


def write_npy(path, shape, values):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % (
        ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else ""))
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%df" % len(values), *values))


def main(out):
    os.makedirs(out, exist_ok=True)
    q, k, v = [], [], []
    for i in range(S):
        for h in range(H):
            if h == 0:
                qi, ki = [12 * x for x in position(i - 1)], position(i)
            elif h == 1:
                qi, ki = [12 * x for x in position(i)], position(i)
            elif h == 2:
                qi, ki = [0.0] * D, position(i)
            else:
                qi = [16.0] + [0.0] * (D - 1)
                ki = [1.0 if i == 0 else -0.5] + [0.0] * (D - 1)
            q += qi
            k += ki
            v += [math.sin(0.1 * (i + 1) * (d + 1)) for d in range(D)]
    for name, values in (("q", q), ("k", k), ("v", v)):
        write_npy(os.path.join(out, name + ".npy"), (1, S, H, D), values)


main(sys.argv[1] if len(sys.argv) > 1 else ".")
