"""Writes the binary seed corpora of fuzz/corpus (npy, cache_entry,
capi_spec) and the tuning-database seeds. Run it again after changing a
format; the files are small and kept in the repository."""
import hashlib
import json
import os
import struct

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    os.makedirs(os.path.join(root, target), exist_ok=True)
    with open(os.path.join(root, target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def npy(shape, descr="<f4", version=1, fmt="f"):
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, dims)
    lead = 10 if version == 1 else 12
    header += " " * ((64 - (lead + len(header) + 1) % 64) % 64) + "\n"
    count = 1
    for d in shape:
        count *= d
    size = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    data = struct.pack("<%d%s" % (count, fmt), *([1] * count))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header.encode() + data


write("npy", "f32-2x3.npy", npy([2, 3]))
write("npy", "i32-4.npy", npy([4], "<i4", fmt="i"))
write("npy", "scalar.npy", npy([]))
write("npy", "v2-1x2x2x2.npy", npy([1, 2, 2, 2], version=2))


def entry(key, about, obj, schema=2):
    out = b"ATTNCKC\n" + struct.pack("<I", schema)
    out += struct.pack("<I", len(key)) + key
    out += struct.pack("<I", len(about)) + about
    out += struct.pack("<Q", len(obj)) + obj
    return out + hashlib.sha256(out).digest()


write("cache_entry", "valid.attnc",
      entry(b"cpu attnc=0 codegen=0\nhost\nattn.kernel @k", b"target=cpu\nname=k\n", b"\x7fELF object"))
write("cache_entry", "empty-object.attnc", entry(b"k", b"", b""))
write("cache_entry", "schema1.attnc", entry(b"k", b"about", b"obj", schema=1))

record = {"problem": "0" * 64, "target": "x86_64-unknown-linux-gnu znver4",
          "batch": 1, "seq_q": 512, "seq_kv": 512,
          "schedule": {"block_m": 64, "block_n": 128, "micro_m": 8, "micro_n": 32},
          "time_ms": 1.5, "device": "cpu, 2 threads", "llvm": "19.1.7",
          "attnc": "0.1.0", "date": "2026-12-01T00:00:00Z"}
write("tuning_db", "one-record.json", json.dumps({"schema": 2, "records": [record]}, indent=2))
write("tuning_db", "two-records.json", json.dumps(
    {"schema": 2, "records": [record, dict(record, seq_q=2048, batch=4)]}))
write("tuning_db", "schema1.json", json.dumps({"schema": 1, "records": []}))
write("tuning_db", "empty.json", json.dumps({"schema": 2, "records": []}))


def spec(name=b"k", q=8, kv=2, d=64, dv=0, mask=1, align=2, dtype=0, text=b""):
    """The capi_spec target's input: fields in the order it takes them."""
    def small(v):  # how >= 16: v mod the field's span, from its low end
        return bytes([255]) + struct.pack("<q", v)
    out = bytes([len(name)]) + name + bytes([1])
    # q_heads lo -2, kv lo -2, d_qk lo -2, d_v lo -2: the value is v - lo.
    out += small(q + 2) + small(kv + 2) + small(d + 2) + small(dv + 2)
    out += bytes([0]) + bytes([0])  # scale, softcap: default
    out += small(mask + 1) + small(align + 1)  # mask lo -1, alignment lo -1
    out += small(2) + small(2)  # window_left, window_right = 0
    out += small(1) + small(0) + small(1) + small(dtype + 1) + small(0)
    out += small(1)  # target cpu (lo -1)
    return out + text


write("capi_spec", "causal-gqa.bin", spec())
write("capi_spec", "mha-none.bin", spec(q=4, kv=4, d=16, mask=0, align=0))
write("capi_spec", "with-text.bin", spec(text=b"attn.kernel @t attributes {q_heads = 2, d_qk = 8, element_type = f32}"))


def sequences(layout, causal, q_batch, q_rows, pages, page_size, k_rows, lse,
              arrays, append):
    """The sequences target's input: layout (0 varlen, 1 paged), mask, the
    buffer sizes, lse, then up to seven int32 arrays (cu_seqlens_q,
    cu_seqlens_k, block_table, cache_seqlens, kv_indptr, kv_indices,
    kv_last_page_len) as {index: (rows, cols, values)}, and k_new."""
    def small(v, lo):  # how >= 16: the value is lo + v mod the span
        return bytes([255]) + struct.pack("<q", v - lo)
    out = bytes([layout, causal]) + small(q_batch, 1) + small(q_rows, 0)
    out += small(pages, 1) + small(page_size, 1)
    if layout == 0:
        out += small(k_rows, 0)
    out += bytes([lse])
    present = 0
    for i in arrays:
        present |= 1 << i
    out += bytes([present])
    for i in range(7):
        if i not in arrays:
            continue
        rows, cols, values = arrays[i]
        out += bytes([rows]) + (bytes([cols]) if i == 2 else b"")
        for x in values:
            out += small(x, -1)
    return out + bytes([append])


write("sequences", "varlen.bin", sequences(0, 1, 1, 10, 1, 1, 12, 1,
                                           {0: (3, 1, [0, 4, 10]), 1: (3, 1, [0, 5, 12])}, 0))
write("sequences", "paged-block-table.bin", sequences(
    1, 1, 2, 2, 6, 4, 0, 1, {2: (2, 2, [3, 0, 5, 1]), 3: (2, 1, [5, 3])}, 1))
write("sequences", "paged-csr.bin", sequences(
    1, 0, 2, 1, 6, 4, 0, 0, {4: (3, 1, [0, 2, 3]), 5: (3, 1, [4, 2, 0]),
                             6: (2, 1, [3, 1])}, 1))
write("sequences", "paged-ragged.bin", sequences(
    1, 1, 1, 5, 6, 3, 0, 0, {0: (3, 1, [0, 2, 5]), 2: (2, 3, [0, 1, 2, 3, 4, 5]),
                             3: (2, 1, [4, 1])}, 1))
