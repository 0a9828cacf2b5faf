#ifndef ATTNC_RUNTIME_CUDA_DEVICERUN_H
#define ATTNC_RUNTIME_CUDA_DEVICERUN_H

// Host-side conveniences around a CudaKernel: device memory that frees
// itself, and a whole run from host f32 tensors (round to the kernel's
// element type, copy in, launch, time with CUDA events, copy out). Used by
// `attnc run --target cuda`, the GPU tests and the GPU benchmark.

#include "runtime/Tensor.h"
#include "runtime/cuda/CudaKernel.h"

#include <vector>

namespace attnc::cuda {

/// Device memory on the current context; freed when destroyed.
class DeviceBuffer {
public:
  static StatusOr<DeviceBuffer> alloc(size_t bytes);
  DeviceBuffer(DeviceBuffer &&other) noexcept;
  DeviceBuffer &operator=(DeviceBuffer &&other) noexcept;
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  ~DeviceBuffer();

  unsigned long long ptr() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  Status upload(const void *host, size_t bytes);
  Status download(void *host, size_t bytes) const;

private:
  DeviceBuffer() = default;
  unsigned long long ptr_ = 0;
  size_t bytes_ = 0;
};

/// Runs `kernel` on the host tensors of `args` (f32, any strides). q, k and
/// v are first rounded in place to the kernel's element type, so `args`
/// holds exactly what the GPU reads and a reference computed from it is
/// fair. The kernel runs once (warm-up), then `reps` times, each timed with
/// CUDA events; o (and lse) are copied back into `args`. Returns the time of
/// each timed run in milliseconds.
StatusOr<std::vector<double>> runFromHost(const CudaKernel &kernel,
                                          const AttentionArgs &args, int reps);

} // namespace attnc::cuda

#endif
