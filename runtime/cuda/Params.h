#ifndef ATTNC_RUNTIME_CUDA_PARAMS_H
#define ATTNC_RUNTIME_CUDA_PARAMS_H

// The arguments of a generated CUDA kernel, for every backend that launches
// one (the driver, the SIMT emulator): the checks at the boundary, and the
// bytes of its `Params` packed by the layout the emitter printed the struct
// from (compiler/KernelAbi.h).

#include "runtime/Tensor.h"
#include "runtime/detail/Compiler.h"

#include <string>

namespace attnc::cuda {

/// Checks q, k, v, o (the element type, heads, dims, 16-byte alignment),
/// the lengths they agree on, LSE, and the declared inputs.
Status checkCudaArgs(const KernelSpec &spec, const AttentionArgs &args);

/// The bytes of `Params` for `args` (checked).
std::string packParams(const detail::CudaCodegen &codegen,
                       const AttentionArgs &args);

} // namespace attnc::cuda

#endif
