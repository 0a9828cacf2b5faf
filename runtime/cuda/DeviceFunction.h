#ifndef ATTNC_RUNTIME_CUDA_DEVICEFUNCTION_H
#define ATTNC_RUNTIME_CUDA_DEVICEFUNCTION_H

// A generated kernel outside CudaKernel (the merge and linear-attention
// kernels: one `extern "C" __global__` function taking one Params struct)
// compiled by NVRTC for a GPU's arch and loaded on it. Each load()
// compiles: callers keep what they load (deviceMerge per element type,
// CudaLinear per kernel). Without a driver or a device, load() returns the
// driver's error ("no CUDA driver: ...").

#include "runtime/Status.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>

namespace attnc::cuda {

class DeviceFunction {
public:
  /// `entry` of `source`, for device `ordinal`, with `sharedBytes` of
  /// dynamic shared memory a CTA.
  static StatusOr<std::shared_ptr<const DeviceFunction>>
  load(const std::string &source, const std::string &entry, int64_t sharedBytes,
       int ordinal = 0);

  /// Launches `grid` CTAs of `threads` threads on `stream` (a CUstream; null:
  /// the default stream) with the `bytes` of Params at `params`.
  Status launch(const std::array<unsigned, 3> &grid, unsigned threads,
                const void *params, size_t bytes, void *stream) const;

  ~DeviceFunction();

private:
  DeviceFunction() = default;
  void *module_ = nullptr, *function_ = nullptr;
  int ordinal_ = 0;
  int64_t sharedBytes_ = 0;
};

} // namespace attnc::cuda

#endif
