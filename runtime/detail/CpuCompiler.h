#ifndef ATTNC_RUNTIME_DETAIL_CPUCOMPILER_H
#define ATTNC_RUNTIME_DETAIL_CPUCOMPILER_H

// The runtime's bridge to the compiler (private: not installed). The header
// is MLIR-free; CpuCompiler.cpp holds the MLIR context.

#include "runtime/CpuKernel.h"

#include <memory>
#include <string>

namespace attnc::detail {

/// A spec parsed, verified, resolved and scheduled for this CPU, ready to
/// be turned into object code.
class CpuFrontEnd {
public:
  static StatusOr<std::unique_ptr<CpuFrontEnd>>
  run(const std::string &source, const CpuCompileOptions &options);
  ~CpuFrontEnd();

  /// The resolved spec.
  const KernelSpec &spec() const;
  /// The resolved, scheduled attn.kernel as canonical text: the part of a
  /// cache key that says what the kernel computes and how it is tiled.
  const std::string &canonical() const;
  /// Lowers to LLVM, optimises for the host and emits an ELF object.
  StatusOr<std::string> emitObject();

private:
  struct Impl;
  explicit CpuFrontEnd(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The host target as the object code depends on it: triple, CPU name,
/// enabled features, LLVM version.
const std::string &hostTargetId();

/// A spec translated to CUDA C++ for `arch`, with its resolved spec and GPU
/// schedule.
struct CudaTranslation {
  KernelSpec spec;
  std::string source;
  int64_t blockM = 0, blockN = 0, warps = 0, stages = 0, sharedBytes = 0;
};
StatusOr<CudaTranslation> translateToCuda(const std::string &specSource,
                                          const std::string &arch,
                                          const std::string &sourceName = "<spec>");

} // namespace attnc::detail

#endif
