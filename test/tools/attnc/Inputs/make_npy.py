"""Writes a float32 .npy file of the given shape with values in [-1, 1)
(seeded), and optional poisons: `make_npy.py FILE 1,17,2,16 [FLAT=VALUE ...]`
where VALUE is a float (nan, inf, -inf). No NumPy needed."""
import random
import struct
import sys

path, shape = sys.argv[1], [int(d) for d in sys.argv[2].split(",")]
count = 1
for d in shape:
    count *= d
rng = random.Random(7)
values = [rng.uniform(-1, 1) for _ in range(count)]
for poison in sys.argv[3:]:
    index, value = poison.split("=")
    values[int(index)] = float(value)
dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % dims
header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
with open(path, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)))
    f.write(header.encode())
    f.write(struct.pack("<%df" % count, *values))
