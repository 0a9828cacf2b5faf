#ifndef ATTNC_RUNTIME_CUDA_CUDAMERGE_H
#define ATTNC_RUNTIME_CUDA_CUDAMERGE_H

// The merge of partial attention (runtime/Merge.h) on the CUDA target: the
// kernel text mergeKernelToCuda emits (compiler/Target/CUDA), its checks
// and parameter packing, and its run under the SIMT emulator. The
// semantics are runtime/Merge.h's; the CPU's mergeAttention is the
// reference it is tested against.

#include "compiler/KernelAbi.h"
#include "runtime/Merge.h"

#include <string>

namespace attnc::cuda {

/// The merge kernel's CUDA C++ for parts of `type` (f32, f16 or bf16) and
/// its entry point's name.
StatusOr<std::string> mergeSource(DType type);
std::string mergeEntry(DType type);

/// validateMerge, then what the CUDA kernel adds: at most
/// abi::kMergeMaxParts parts, every part and o of one element type, sizes
/// that fit its int fields and grid.
Status checkCudaMerge(const MergeArgs &args);

/// The kernel's parameters for a checked call (`data` as the addresses the
/// kernel reads and writes) and its grid (x: CTAs of kMergeWarps rows).
mlir::attn::abi::MergeParams packMerge(const MergeArgs &args);
unsigned mergeGrid(const MergeArgs &args);

/// Merges on the SIMT emulator (host memory standing in for the device's,
/// every tensor registered for its bounds checks); `threads` OS threads
/// run CTAs (0: one per core). Kernels are compiled once per element type
/// per process.
Status simtMerge(const MergeArgs &args, unsigned threads = 0);

/// Merges on GPU 0: every tensor's `data` is a device address (f32, f16 or
/// bf16 elements, LSEs f32), launched on `stream` (a CUstream; null: the
/// default stream) and not waited for. Without a GPU: the driver's error
/// ("no CUDA driver: ..."). Written against the driver API and compiled,
/// not yet run on a GPU.
Status deviceMerge(const MergeArgs &args, void *stream = nullptr);

} // namespace attnc::cuda

#endif
