#ifndef ATTNC_RUNTIME_CUDA_PARAMS_H
#define ATTNC_RUNTIME_CUDA_PARAMS_H

// The arguments of a generated CUDA kernel, for every backend that launches
// one (the driver, the SIMT emulator): the checks at the boundary, and the
// bytes of its `Params` packed by the layout the emitter printed the struct
// from (compiler/KernelAbi.h).

#include "runtime/Tensor.h"
#include "runtime/detail/Compiler.h"

#include <functional>
#include <string>

namespace attnc::cuda {

/// The most CTAs in grid.y and grid.z.
constexpr int64_t kMaxGridYZ = 65535;

/// The host-run entry points (runFromHost, simtRunFromHost) take q, k, v
/// and o as f32 host tensors and round and convert them themselves: a
/// 16-bit view would be misread, so it is refused, naming `entry`.
Status checkF32HostViews(const char *entry, const AttentionArgs &args);

/// validateCall (runtime/Tensor.h) for the kernel's f16/bf16, then what
/// the CUDA kernel adds: 16-byte alignment for cp.async, lengths that fit
/// Params' int, and batch and q_heads within the grid's limits. `memory`:
/// where the buffers are (the GPU's are not read here).
Status checkCudaArgs(const KernelSpec &spec, const AttentionArgs &args,
                     Memory memory);

/// The launch of a checked call: (query blocks, q heads, batch) CTAs of
/// `threads` threads, for the driver and the emulator alike.
struct LaunchGrid {
  unsigned x, y, z, threads;
};
LaunchGrid launchGrid(const detail::CudaCodegen &codegen,
                      const AttentionArgs &args);

/// The bytes of `Params` for `args` (checked).
std::string packParams(const detail::CudaCodegen &codegen,
                       const AttentionArgs &args);

/// The bytes a declared input or block-mask array spans: 4-byte elements
/// at its own strides (a scalar is 4 bytes, a tensor with an empty
/// dimension 0).
size_t inputBytes(const InputTensor &in);

/// Gives `device` the declared inputs and the block mask of `host`, each
/// moved to device memory, as it is, by `copy` (which returns the tensor
/// at its new address). Unnamed block-mask arrays are named "block mask".
Status copyInputsAndBlockMask(
    const AttentionArgs &host, AttentionArgs &device,
    const std::function<StatusOr<InputTensor>(const InputTensor &)> &copy);

} // namespace attnc::cuda

#endif
