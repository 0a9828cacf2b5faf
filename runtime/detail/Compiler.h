#ifndef ATTNC_RUNTIME_DETAIL_COMPILER_H
#define ATTNC_RUNTIME_DETAIL_COMPILER_H

// The runtime's bridge to the compiler (private: not installed). The header
// is MLIR-free; Compiler.cpp holds the MLIR contexts.

#include "compiler/KernelAbi.h"
#include "runtime/Backend.h"

#include <memory>
#include <string>

namespace attnc {
struct CpuCompileOptions;
}

namespace attnc::detail {

/// The kernel resolved, scheduled for this CPU and checked, ready to be
/// lowered to host object code (compile()).
StatusOr<std::unique_ptr<Translation>>
translateForCpu(const KernelIr &ir, const CpuCompileOptions &options);

/// The arguments of a CPU kernel with view `spec`, in calling order
/// (compiler/KernelAbi.h).
std::vector<mlir::attn::abi::Arg> cpuAbiArgs(const KernelSpec &spec);

/// The host target as the object code depends on it: triple, CPU name,
/// enabled features, LLVM version.
const std::string &hostTargetId();

/// The first line of every backend's cache key: `<prefix> attnc=<version>
/// codegen=<fingerprint of the code generators>`, so that a new attnc or a
/// changed emitter never gets a stale entry.
std::string cacheKeyHeader(const char *prefix);

/// A kernel translated to CUDA C++ for one arch, with its resolved view and
/// GPU schedule.
struct CudaCodegen {
  KernelSpec spec;
  std::string source;       // the CUDA C++ for NVRTC (or the SIMT emulator)
  std::string resolvedText; // the resolved op
  std::string entry;        // its __global__ function (cudaEntryName)
  int64_t blockM = 0, blockN = 0, warps = 0, stages = 0, sharedBytes = 0;
  std::vector<mlir::attn::abi::Arg> args; // compiler/KernelAbi.h
  mlir::attn::abi::ParamsLayout params;   // how launch packs them
};
StatusOr<CudaCodegen> translateForCuda(const KernelIr &ir,
                                       const std::string &arch);

/// A linear-attention kernel (variant = linear) translated to CUDA C++
/// (linearKernelToCuda).
struct LinearCudaCodegen {
  std::string source, entry;
  int64_t chunk = 0, sharedBytes = 0;
};
StatusOr<LinearCudaCodegen> translateLinearForCuda(const KernelIr &ir);

} // namespace attnc::detail

#endif
