#ifndef ATTNC_COMPILER_TARGET_CUDA_ATTNTOCUDA_H
#define ATTNC_COMPILER_TARGET_CUDA_ATTNTOCUDA_H

#include "compiler/KernelAbi.h"
#include "dialect/AttnOps.h"

#include <string>
#include <vector>

namespace mlir::attn {

/// The GPU tiling of a kernel after defaults: block_m = 16 x warps query
/// rows per CTA, block_n keys per pipelined tile, `stages` tile buffers.
struct CudaSchedule {
  int64_t warps = 0, blockM = 0, blockN = 0, stages = 0;
  int64_t sharedBytes = 0; // dynamic shared memory the kernel needs
};

/// The schedule for `op` on `arch` ("sm_80", "sm_90", ...): the op's GPU
/// fields where set, else defaults. Emits a diagnostic and fails when the
/// CUDA backend cannot compile the kernel or the schedule does not fit.
FailureOr<CudaSchedule> selectCudaSchedule(KernelOp op, StringRef arch);

/// The kernel's arguments (compiler/KernelAbi.h) with the CUDA element type.
std::vector<abi::Arg> cudaKernelArgs(KernelOp op);

/// The name of the kernel's `extern "C" __global__` function:
/// `attnc_<name>`, so that no kernel name (`@float`, `@Params`) collides
/// with a C++ keyword or a name of the kernel text.
std::string cudaEntryName(KernelOp op);

/// CUDA C++ for a resolved kernel: one `extern "C" __global__` function
/// named cudaEntryName(op), FlashAttention-2 style (mma.sync m16n8k16,
/// ldmatrix, cp.async pipelining, online softmax), for NVRTC. The schedule
/// it chose (selectCudaSchedule) goes to `schedule` when given, so callers
/// that launch or report it need not select it again.
FailureOr<std::string> translateKernelToCuda(KernelOp op, StringRef arch,
                                             CudaSchedule *schedule = nullptr);

/// CUDA C++ for the merge kernel (runtime/Merge.h's semantics) over parts
/// and output of `elementType` ("f32", "f16" or "bf16"; LSEs f32): one
/// `extern "C" __global__` function, mergeEntryName(elementType), taking
/// abi::MergeParams; grid (ceil(rows / kMergeWarps)), kMergeWarps x 32
/// threads, no shared memory. Fails for another type.
FailureOr<std::string> mergeKernelToCuda(StringRef elementType);
std::string mergeEntryName(StringRef elementType);

/// CUDA C++ for a resolved linear-attention kernel (variant = linear;
/// runtime/Linear.h's semantics, the recurrent state included): one
/// `extern "C" __global__` function, linearEntryName(op), taking
/// abi::LinearParams; grid (batch x kv_heads, ceil(d_v / kLinearColumns),
/// or 1 with a state), kLinearWarps x 32
/// threads, linearSharedBytes of dynamic shared memory. Fails, with the
/// rule, for element types other than f32, varlen and paged layouts, and
/// tiles over 48 KiB of shared memory.
FailureOr<std::string> linearKernelToCuda(KernelOp op);
std::string linearEntryName(KernelOp op);
/// The causal form's chunk on the GPU: the schedule's block_n, else 32.
int64_t linearChunk(KernelOp op);
int64_t linearSharedBytes(KernelOp op);

} // namespace mlir::attn

#endif
