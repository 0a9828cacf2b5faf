#ifndef ATTNC_RUNTIME_CUDA_NVRTC_H
#define ATTNC_RUNTIME_CUDA_NVRTC_H

// NVRTC, loaded at run time: CUDA C++ -> PTX and CUBIN for a named arch,
// with no nvcc and no link-time dependency, so every attnc binary starts on
// machines without the CUDA toolkit. (Building block of the CUDA backend.)

#include "runtime/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attnc::cuda {

/// What ptxas said about one kernel (from -Xptxas=-v in the program log).
struct PtxasReport {
  int registers = -1;
  int64_t spillStoreBytes = 0, spillLoadBytes = 0;
  int64_t sharedBytes = 0;
  bool found = false; // the log had a "Used N registers" line
};
PtxasReport parsePtxasReport(const std::string &log);

struct NvrtcOptions {
  std::string arch = "sm_90"; // sm_80, sm_90, ...
  std::vector<std::string> extra;
};

struct NvrtcOutput {
  std::string ptx, cubin, log;
  PtxasReport ptxas;
};

class Nvrtc {
public:
  /// Loads libnvrtc once per process: $ATTNC_NVRTC_LIBRARY, else
  /// libnvrtc.so.13 / .12 / libnvrtc.so from the loader's path, else the
  /// toolkit under $CUDA_HOME or /usr/local/cuda. The error lists where it
  /// looked.
  static StatusOr<const Nvrtc *> get();

  int majorVersion() const { return major_; }
  int minorVersion() const { return minor_; }
  /// The toolkit's include directory (for cuda_fp16.h and friends), which
  /// NVRTC does not search by default.
  const std::string &includeDir() const { return includeDir_; }

  /// Compiles `source` for `options.arch`. A failure carries the program log.
  StatusOr<NvrtcOutput> compile(const std::string &source,
                                const std::string &name,
                                const NvrtcOptions &options) const;

private:
  Nvrtc() = default;
  struct Api;
  const Api *api_ = nullptr;
  int major_ = 0, minor_ = 0;
  std::string includeDir_;
};

} // namespace attnc::cuda

#endif
