#ifndef ATTNC_RUNTIME_CUDA_CUDAKERNEL_H
#define ATTNC_RUNTIME_CUDA_CUDAKERNEL_H

// A kernel for an NVIDIA GPU: the spec translated to CUDA C++, compiled by
// NVRTC for the device's arch, loaded with the driver API, and launched on
// the caller's stream over caller-owned device memory.

#include "runtime/Backend.h"
#include "runtime/cuda/Params.h"
#include "runtime/detail/Compiler.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace attnc::cuda {

/// A kernel translated to CUDA C++ for one arch; compile() runs NVRTC.
class CudaTranslation final : public Translation {
public:
  CudaTranslation(detail::CudaCodegen codegen, std::string arch,
                  std::string key);
  const KernelSpec &spec() const override { return codegen_.spec; }
  const std::string &key() const override { return key_; }
  const std::string &resolvedText() const override {
    return codegen_.resolvedText;
  }
  StatusOr<std::string> compile() override;

  const detail::CudaCodegen &codegen() const { return codegen_; }
  const std::string &arch() const { return arch_; }

private:
  detail::CudaCodegen codegen_;
  std::string arch_, key_;
};

class CudaKernel final : public CompiledKernel {
public:
  /// Loads a CUBIN made from `translation` onto device `ordinal`, which
  /// must have the translation's arch.
  static StatusOr<std::unique_ptr<CudaKernel>>
  load(const CudaTranslation &translation, const std::string &cubin,
       int ordinal);
  ~CudaKernel() override;

  const KernelSpec &spec() const override;
  const std::string &arch() const;
  /// Launches on `options.stream` (null: the default stream) over device
  /// tensors (`data` holds a CUdeviceptr). Checks the views first; does not
  /// synchronise. `threads` and `kvSplits` must be 0.
  Status launch(const AttentionArgs &args,
                const LaunchOptions &options) const override;

private:
  // Launches a varlen or paged call on `stream`: its tensors on the device
  // (`device`), its sequence table (`table`, rows and pages pointing at
  // device copies). It adds no check of its own, so only runFromHost,
  // which checked the call on the host before uploading it (checkCudaArgs
  // on the staged copies, with the same sizes and strides), may call it.
  Status launchChecked(const AttentionArgs &device, const SequenceTable &table,
                       void *stream) const;
  friend StatusOr<std::vector<double>>
  runFromHost(const CudaKernel &kernel, const AttentionArgs &args, int reps);
  Status launchOn(const std::string &params, const LaunchGrid &grid,
                  void *stream) const;
  struct Impl;
  explicit CudaKernel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The CUDA backend for one arch. With a device ordinal it loads and runs
/// kernels there; without one (-1) it only translates and compiles (NVRTC
/// needs no GPU), and load() says there is no device.
class CudaBackend final : public Backend {
public:
  using Kernel = CudaKernel;
  CudaBackend(std::string arch, int ordinal);
  /// The backend for GPU `ordinal` (its arch), or why there is none.
  static StatusOr<CudaBackend> forDevice(int ordinal);
  /// GPU `ordinal`'s arch where a driver and that GPU exist, else sm_90:
  /// what a spec is checked against before a GPU is needed.
  static std::string archOrDefault(int ordinal);

  const char *target() const override { return "cuda"; }
  std::string id() const override;
  const std::string &arch() const { return arch_; }
  StatusOr<std::unique_ptr<Translation>>
  translate(const KernelIr &ir) const override;
  StatusOr<std::shared_ptr<const CompiledKernel>>
  load(const Translation &translation, const std::string &bytes) const override;

private:
  std::string arch_;
  int ordinal_;
};

} // namespace attnc::cuda

#endif
