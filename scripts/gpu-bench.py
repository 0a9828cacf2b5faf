#!/usr/bin/env python3
"""attnc's CUDA kernels against torch.nn.functional.scaled_dot_product_attention,
timed in the same run on the same shapes (bf16, d 64 and 128, seq 512..16k,
causal and not; FlashAttention's benchmark shapes: 16k tokens per batch,
model dim 2048).

attnc's times come from bin/attnc-cuda-bench (CUDA events, median of --reps);
torch's from the same kind of timing around each SDPA backend torch has here.
Prints a markdown table of TFLOP/s and the ratio attnc / best torch backend.

  gpu-bench.py --bench BIN/attnc-cuda-bench [--reps 20] [--seqs ...] [--dims ...]
"""
import argparse
import csv
import io
import subprocess
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

# Each backend this torch has (cuDNN's arrived in torch 2.3).
BACKENDS = [(name, getattr(SDPBackend, attr)) for name, attr in [
    ("flash", "FLASH_ATTENTION"), ("cudnn", "CUDNN_ATTENTION"),
    ("efficient", "EFFICIENT_ATTENTION"), ("math", "MATH")] if hasattr(SDPBackend, attr)]
MATH_MAX_SEQ = 4096  # the math backend materialises seq x seq scores


def time_ms(fn, reps):
    fn()  # warm-up (and kernel selection)
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    times.sort()
    return times[len(times) // 2]


def torch_ms(backend, batch, heads, seq, d, causal, reps):
    shape = (batch, heads, seq, d)
    q, k, v = (torch.rand(shape, device="cuda", dtype=torch.bfloat16) * 2 - 1 for _ in range(3))
    try:
        with sdpa_kernel(backend):
            return time_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal), reps)
    except RuntimeError as e:  # this backend does not take the shape here
        print(f"  torch {backend.name}: {str(e).splitlines()[0]}", file=sys.stderr)
        return None
    finally:
        del q, k, v
        torch.cuda.empty_cache()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True, help="path to attnc-cuda-bench")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--dims", default="64,128")
    ap.add_argument("--seqs", default="512,1024,2048,4096,8192,16384")
    args = ap.parse_args()

    run = subprocess.run([args.bench, "--csv", "--reps", str(args.reps), "--dims", args.dims,
                          "--seqs", args.seqs], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"attnc-cuda-bench failed ({run.returncode}):\n{run.stderr}")
    rows = list(csv.DictReader(io.StringIO(run.stdout)))

    gpu = torch.cuda.get_device_name(0)
    print(f"GPU {gpu}; torch {torch.__version__} (CUDA {torch.version.cuda}); bf16; "
          f"median of {args.reps} runs each; TFLOP/s = 4*batch*heads*pairs*d / time "
          f"(pairs: seq^2, or seq(seq+1)/2 causal), the same count for every column")
    print()
    names = [n for n, _ in BACKENDS]
    print("| d | seq | causal | batch x heads | attnc | " + " | ".join(f"torch {n}" for n in names)
          + " | attnc / best torch |")
    print("|---|---|---|---|---|" + "---|" * len(names) + "---|")
    for r in rows:
        d, seq, causal = int(r["d"]), int(r["seq"]), r["causal"] == "1"
        batch, heads, ms = int(r["batch"]), int(r["heads"]), float(r["ms"])
        flops = float(r["tflops"]) * 1e12 * ms / 1e3
        cells, best = [], None
        for name, backend in BACKENDS:
            t = None
            if name != "math" or seq <= MATH_MAX_SEQ:
                t = torch_ms(backend, batch, heads, seq, d, causal, args.reps)
            cells.append("-" if t is None else f"{flops / (t * 1e9):.1f}")
            if t is not None and (best is None or t < best):
                best = t
        ratio = "-" if best is None else f"{best / ms:.2f}"
        print(f"| {d} | {seq} | {'yes' if causal else 'no'} | {batch} x {heads} | "
              f"{flops / (ms * 1e9):.1f} | " + " | ".join(cells) + f" | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
