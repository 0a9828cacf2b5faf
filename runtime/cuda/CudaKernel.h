#ifndef ATTNC_RUNTIME_CUDA_CUDAKERNEL_H
#define ATTNC_RUNTIME_CUDA_CUDAKERNEL_H

// A kernel for an NVIDIA GPU: the spec translated to CUDA C++, compiled by
// NVRTC for the device's arch, loaded with the driver API, and launched on
// the caller's stream over caller-owned device memory.

#include "runtime/Spec.h"
#include "runtime/detail/CpuCompiler.h"
#include "runtime/Status.h"

#include <cstdint>
#include <memory>
#include <string>

namespace attnc::cuda {

/// A device tensor: address, sizes and strides (elements) in [batch, heads,
/// seq, dim] order, dim stride 1. f16/bf16 for Q, K, V, O; f32 for LSE
/// ([batch, heads, seq], sizes[3] = 1).
struct DeviceTensor {
  unsigned long long data = 0;
  int64_t sizes[4] = {};
  int64_t strides[4] = {};
};

struct CudaArgs {
  DeviceTensor q, k, v, o, lse;
};

/// A spec translated to CUDA C++ and compiled to a CUBIN for `arch`.
struct CudaBinary {
  detail::CudaTranslation translation;
  std::string arch;
  std::string cubin;
};

class CudaKernel {
public:
  /// Loads a compiled binary onto device `ordinal`, which must have its arch.
  /// KernelCache::getCuda compiles (or finds) the binary and calls this.
  static StatusOr<std::unique_ptr<CudaKernel>> load(const CudaBinary &binary,
                                                    int ordinal = 0);
  ~CudaKernel();

  const KernelSpec &spec() const;
  const std::string &arch() const;
  /// Launches on `stream` (a CUstream; null: the default stream). Checks the
  /// views first; does not synchronise.
  Status run(const CudaArgs &args, void *stream = nullptr) const;

private:
  struct Impl;
  explicit CudaKernel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

} // namespace attnc::cuda

#endif
