#ifndef ATTNC_RUNTIME_CUDA_SIMTKERNEL_H
#define ATTNC_RUNTIME_CUDA_SIMTKERNEL_H

// The emulated CUDA target (`cuda-sim`): the same kernel text as the GPU
// target, compiled for the host against the SIMT emulator's prelude and
// run there (runtime/cuda/simt/Emulator.h), with its race, bounds,
// uninitialised and stale-read checks. Tensors are host memory standing in
// for device memory, with the GPU target's element types and alignment.

#include "runtime/Backend.h"
#include "runtime/cuda/simt/Emulator.h"
#include "runtime/detail/Compiler.h"

#include <memory>
#include <vector>

namespace attnc::cuda {

class SimtKernel final : public CompiledKernel {
public:
  SimtKernel(detail::CudaCodegen codegen, std::unique_ptr<simt::Module> module);
  ~SimtKernel() override;

  const KernelSpec &spec() const override { return codegen_.spec; }
  const detail::CudaCodegen &codegen() const { return codegen_; }
  /// Launches like the GPU target (same checks, grid and Params), every
  /// tensor registered for the emulator's bounds check. `threads` is the
  /// number of OS threads running CTAs (0: one per core); a stream must be
  /// null. Any finding of the emulator is an error naming it.
  Status launch(const AttentionArgs &args,
                const LaunchOptions &options) const override;
  /// launch() that also hands back every finding, with `extra` global
  /// buffers registered (guarded copies a caller made).
  Status launch(const AttentionArgs &args, unsigned threads,
                simt::LaunchReport *report,
                const std::vector<simt::GlobalBuffer> &extra = {}) const;

private:
  detail::CudaCodegen codegen_;
  std::unique_ptr<simt::Module> module_;
};

/// The emulated CUDA backend: kernels are translated for sm_80 (the
/// emulator gives 256 KiB of shared memory) and compiled by the host C++
/// compiler ($ATTNC_SIMT_CXX, else c++). Its kernels are memoised in memory
/// only: a host compile is quick and nothing on disk would be reused.
class SimtBackend final : public Backend {
public:
  using Kernel = SimtKernel;
  const char *target() const override { return "cuda-sim"; }
  std::string id() const override { return "cuda-sim arch=sm_80"; }
  bool storesOnDisk() const override { return false; }
  StatusOr<std::unique_ptr<Translation>>
  translate(const KernelIr &ir) const override;
  StatusOr<std::shared_ptr<const CompiledKernel>>
  load(const Translation &translation, const std::string &bytes) const override;
};

/// Runs `kernel` on the host f32 tensors of `args` as runFromHost does for
/// the GPU: q, k and v are rounded in place to the kernel's element type,
/// copied into guarded buffers and run; O (and LSE) are copied back into
/// `args`. The guard zones are checked after the run.
Status simtRunFromHost(const SimtKernel &kernel, const AttentionArgs &args,
                       unsigned threads = 0,
                       simt::LaunchReport *report = nullptr);

} // namespace attnc::cuda

#endif
