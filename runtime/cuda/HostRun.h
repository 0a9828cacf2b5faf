#ifndef ATTNC_RUNTIME_CUDA_HOSTRUN_H
#define ATTNC_RUNTIME_CUDA_HOSTRUN_H

// What the host-run entry points (runFromHost for a GPU, simtRunFromHost
// for the emulator) share: a call on f32 host tensors staged in the
// kernel's element type, and the results copied back. The GPU path then
// uploads the staged buffers; the emulator runs on them where they are.

#include "runtime/Spec.h"
#include "runtime/Status.h"
#include "runtime/Tensor.h"

#include <functional>
#include <string>
#include <vector>

namespace attnc::cuda {

/// A buffer of a staged call.
struct StagedBuffer {
  std::string name;
  void *data = nullptr;
  size_t bytes = 0;
};

class StagedCall {
public:
  /// Storage for `bytes` (0 is fine), named for messages; it must outlive
  /// the StagedCall and be 16-byte aligned.
  using Allocate =
      std::function<StatusOr<void *>(const std::string &name, size_t bytes)>;

  /// Checks `host` (q, k, v, o and k_new/v_new f32, refused otherwise) as
  /// every backend checks a call, then stages it:
  /// q, k, v, k_new and v_new are rounded in place to the kernel's f16 or
  /// bf16 and copied, dense, into buffers from `allocate`; o gets a 16-bit
  /// buffer and lse and probs f32 ones; declared inputs and the block mask are
  /// copied as they are. Varlen and paged calls keep their tables where
  /// they are (they are read on the host). Launch the staged call through
  /// the usual checks (in the kernel's types, with its alignment rules).
  static StatusOr<StagedCall> stage(const KernelSpec &spec, const char *entry,
                                    const AttentionArgs &host,
                                    const Allocate &allocate);

  /// The staged call, its tensors in the staged buffers.
  const AttentionArgs &args() const { return args_; }
  const std::vector<StagedBuffer> &buffers() const { return buffers_; }
  /// args() with buffer i at `addresses[i]` instead (its device copy).
  AttentionArgs movedTo(const std::vector<void *> &addresses) const;
  /// The buffers a run writes: o, lse and probs (indices into buffers()). Appends
  /// happen on the host, into the staged pools, before a launch.
  std::vector<size_t> written() const;

  /// Copies the run's results from the staged buffers into `host`: the
  /// rows of o and lse the call writes (varlen and paged: its sequences'
  /// rows only) and, after appends, the appended slots of the k and v
  /// pools (nothing else in them changes here; stage() already rounded the
  /// pools, like q, k and v, to the kernel's element type in place).
  Status unstage(const AttentionArgs &host) const;

private:
  KernelSpec spec_;
  KernelSpec hostSpec_; // spec_ with f32 tensors, as the caller passes them
  AttentionArgs args_;
  std::vector<StagedBuffer> buffers_;
  // Which buffer holds each tensor (-1: none).
  int q_ = -1, k_ = -1, v_ = -1, o_ = -1, lse_ = -1, probs_ = -1, kNew_ = -1,
      vNew_ = -1;
};

} // namespace attnc::cuda

#endif
