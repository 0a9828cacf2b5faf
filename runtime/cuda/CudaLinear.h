#ifndef ATTNC_RUNTIME_CUDA_CUDALINEAR_H
#define ATTNC_RUNTIME_CUDA_CUDALINEAR_H

// Linear attention (variant = linear; runtime/Linear.h) on the CUDA target:
// the kernel text linearKernelToCuda emits (compiler/Target/CUDA), its
// parameter packing and its run under the SIMT emulator. The semantics are
// LinearKernel's, the recurrent state included (causal kernels: a call
// reads and updates S and z in place); LinearKernel is the reference it is
// tested against.

#include "compiler/KernelAbi.h"
#include "runtime/Linear.h"

#include <array>
#include <memory>
#include <string>

namespace attnc::cuda {

/// A linear kernel's CUDA side: its source, entry point and launch shape.
class CudaLinear {
public:
  /// Translates `ir` (LinearKernel::create's rules, then the CUDA kernel's:
  /// f32, dense layouts, shared memory within 48 KiB).
  static StatusOr<CudaLinear> create(const KernelIr &ir);

  const std::string &source() const { return source_; }
  const std::string &entry() const { return entry_; }
  int64_t chunk() const { return chunk_; }
  int64_t sharedBytes() const { return sharedBytes_; }
  const KernelSpec &spec() const { return cpu_.spec(); }

  /// LinearKernel's checks (of the state too, when there is one), then the
  /// CUDA kernel's: sizes within its int fields and grid.
  Status check(const AttentionArgs &args, const LinearState *state = nullptr) const;
  /// The parameters of a checked call and its grid (x: batch x kv_heads
  /// CTAs; y: slices of kLinearColumns v columns, or 1 with a state, whose
  /// z every slice reads before the CTA writes it back).
  mlir::attn::abi::LinearParams pack(const AttentionArgs &args,
                                     const LinearState *state = nullptr) const;
  std::array<unsigned, 3> grid(const AttentionArgs &args,
                               const LinearState *state = nullptr) const;

  /// Runs a call, with `state` (causal kernels; null: none) read and
  /// updated in place, on the SIMT emulator (host memory standing in for
  /// the device's, every tensor registered for its bounds checks);
  /// `threads` OS threads run CTAs (0: one per core). The module is
  /// compiled on the first call.
  Status runSimt(const AttentionArgs &args, const LinearState *state = nullptr,
                 unsigned threads = 0) const;
  /// Runs a call on GPU 0 (`data` of q, k, v, o, and of the state's S and
  /// z, are device addresses) on `stream` (a CUstream; null: the default
  /// stream), not waited for. Without a GPU: the driver's error. Compiled,
  /// not yet run on a GPU.
  Status launch(const AttentionArgs &args, const LinearState *state = nullptr,
                void *stream = nullptr) const;

private:
  LinearKernel cpu_;
  std::string source_, entry_;
  int64_t chunk_ = 0, sharedBytes_ = 0;
  struct Module;
  std::shared_ptr<Module> module_;
};

} // namespace attnc::cuda

#endif
