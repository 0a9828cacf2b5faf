#ifndef ATTNC_COMPILER_PASSES_TD
#define ATTNC_COMPILER_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertAttnToSCF : Pass<"convert-attn-to-scf", "ModuleOp"> {
  let summary = "lowers each attn.kernel to a fused, tiled CPU loop nest";
  let description = [{
    Replaces every resolved and CPU-scheduled `attn.kernel @name` with
    `func.func @name` that computes attention FlashAttention-style: one query
    tile (block_m rows) at a time, streaming key/value tiles (block_n rows)
    through an online softmax held in registers and small stack buffers.
    No buffer scales with the sequence lengths: every local buffer is a
    static block_m x block_n, block_m x d or d x block_n tile.

    The function takes Q, K, V, O as 4-D memrefs indexed [batch, head, seq,
    dim] with dynamic strides (innermost stride 1), so BSHD, BHSD and strided
    views all pass through one kernel, and LSE as [batch, head, seq]. Batch
    and sequence lengths are read from the memrefs at run time. Then come a
    flat workspace for split-KV partials and the number of KV splits, and
    work items [begin, end) of (batch, GQA head group, query block, KV
    split), so that a thread pool can divide the work. With one split the
    kernel writes O and LSE; with more it writes each split's unnormalised
    accumulator, row max and row sum for the runtime to merge.

    ```mlir
    func.func @k(%q: memref<?x8x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
                 ..., %partials: memref<?xf32>, %splits: index,
                 %begin: index, %end: index)
        attributes {llvm.emit_c_interface} {
      %acc = memref.alloca() {alignment = 64 : i64} : memref<64x64xf32>
      scf.for %w = %begin to %end step %c1 { ... }
    }
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect",
    "::mlir::LLVM::LLVMDialect"
  ];
}

def AttnApproximateMath : Pass<"attn-approximate-math"> {
  let summary = "replaces math.exp/log/tanh on f32 with polynomial approximations";
  let description = [{
    Applies MLIR's polynomial approximations so that vector exp, log and tanh
    become a handful of FMAs per lane instead of one libm call per element.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::vector::VectorDialect", "::mlir::x86vector::X86VectorDialect"
  ];
}

def AttnSelectCpuSchedule : Pass<"attn-select-cpu-schedule"> {
  let summary = "chooses a CPU tiling for every attn.kernel by heuristic";
  let description = [{
    Fills the unset CPU fields of each kernel's `#attn.schedule`: the vector
    width of the target (16 f32 lanes with AVX-512, 8 with AVX2, else 4),
    a register-blocked micro-tile sized for that width, block_n so that one
    packed K tile (d_qk x block_n floats) stays within 32 KiB, block_m, and the
    default thread count, and `dot = 16` (bf16 products by `vdpbf16ps`) for
    kernels whose Q, K and V are all bf16 when the vector width is 16 and
    the target has AVX512_BF16, and for decode kernels that take the rows
    form `prefetch = 1` (into L1) where the L1d holds 48 KiB or more, else
    (or when the system does not say) `prefetch = 2` (into L2). Fields the user set are kept. With
    `--vector-width`, `--threads`, `--bf16-dot` and `--l1d-bytes` the target
    can be fixed (0 or -1 means: ask the host).

    ```mlir
    // attn-opt --attn-select-cpu-schedule="vector-width=16 threads=2"
    attn.kernel @k attributes {..., d_qk = 128,
      schedule = #attn.schedule<block_m = 64, block_n = 64, micro_m = 8,
                                micro_n = 32, vector_width = 16, threads = 2>}
    ```
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "f32 lanes per vector (4, 8, 16); 0 picks the host's">,
    Option<"threads", "threads", "int64_t", /*default=*/"0",
           "default worker threads; 0 picks the host's core count">,
    Option<"bf16Dot", "bf16-dot", "int64_t", /*default=*/"-1",
           "1 if the target has AVX512_BF16 (vdpbf16ps), 0 if not; -1 asks "
           "the host">,
    Option<"l1dBytes", "l1d-bytes", "int64_t", /*default=*/"0",
           "the target's L1 data cache in bytes (picks the decode rows "
           "form's prefetch level); 0 asks the host">,
  ];
}

#endif // ATTNC_COMPILER_PASSES_TD
