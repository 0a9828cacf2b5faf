#ifndef ATTNC_RUNTIME_CUDA_DRIVER_H
#define ATTNC_RUNTIME_CUDA_DRIVER_H

// The CUDA driver, loaded at run time with dlopen (libcuda.so.1 exists only
// where an NVIDIA driver does) and resolved through cuGetProcAddress.
// Without a GPU, get() returns a clear error and nothing else changes.

#include "runtime/Status.h"

#include <string>
#include <vector>

namespace attnc::cuda {

struct Device {
  int ordinal = 0;
  std::string name;
  int major = 0, minor = 0; // compute capability
  std::string arch() const { return "sm_" + std::to_string(major * 10 + minor); }
};

class Driver {
public:
  /// Loads and initialises the driver once per process.
  static StatusOr<const Driver *> get();
  const std::vector<Device> &devices() const { return devices_; }

private:
  Driver() = default;
  std::vector<Device> devices_;
};

} // namespace attnc::cuda

#endif
