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

/// The driver entry points the CUDA backend uses (CUDA driver API ABI:
/// CUresult is an int, handles are pointers, CUdeviceptr is 64-bit).
struct DriverApi {
  int (*deviceGet)(int *, int);
  int (*primaryCtxRetain)(void **, int);
  int (*ctxSetCurrent)(void *);
  int (*moduleLoadData)(void **, const void *);
  int (*moduleGetFunction)(void **, void *, const char *);
  int (*moduleUnload)(void *);
  int (*funcSetAttribute)(void *, int, int);
  int (*launchKernel)(void *, unsigned, unsigned, unsigned, unsigned, unsigned,
                      unsigned, unsigned, void *, void **, void **);
  int (*memAlloc)(unsigned long long *, size_t);
  int (*memFree)(unsigned long long);
  int (*memcpyHtoD)(unsigned long long, const void *, size_t);
  int (*memcpyDtoH)(void *, unsigned long long, size_t);
  int (*ctxSynchronize)();
  int (*eventCreate)(void **, unsigned);
  int (*eventRecord)(void *, void *);
  int (*eventSynchronize)(void *);
  int (*eventElapsedTime)(float *, void *, void *);
  int (*eventDestroy)(void *);
  int (*getErrorString)(int, const char **);
};

class Driver {
public:
  /// Loads and initialises the driver once per process.
  static StatusOr<const Driver *> get();
  const std::vector<Device> &devices() const { return devices_; }
  const DriverApi &api() const { return api_; }
  /// "CUDA error N (name)" for a CUresult.
  std::string describe(int result) const;
  /// Makes device `ordinal`'s primary context current on this thread.
  Status use(int ordinal) const;

private:
  Driver() = default;
  std::vector<Device> devices_;
  DriverApi api_{};
};

} // namespace attnc::cuda

#endif
