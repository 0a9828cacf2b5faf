#ifndef ATTNC_COMPILER_TARGET_CUDA_TARGETHEADER_H
#define ATTNC_COMPILER_TARGET_CUDA_TARGETHEADER_H

// The target prelude that every generated CUDA kernel includes by name.
// MLIR-free: the NVRTC wrapper hands it to NVRTC as an in-memory header,
// and the SIMT emulator supplies its own file of the same name.

namespace mlir::attn {

/// The name generated kernels include: `#include "attnc_target.cuh"`.
inline constexpr const char *kCudaTargetHeaderName = "attnc_target.cuh";

/// The GPU version of that header (GpuTarget.cuh): the PTX primitives.
const char *cudaGpuTargetHeader();

} // namespace mlir::attn

#endif
