// attnc.hpp: a header-only C++ wrapper over the C API (attnc.h): an owning,
// move-only Kernel; every call returns attnc_status and keeps the message.
#ifndef ATTNC_ATTNC_HPP
#define ATTNC_ATTNC_HPP

#include "attnc/attnc.h"

#include <string>
#include <utility>
#include <vector>

namespace attnc {

class Kernel;

/// An owning, move-only block mask (attnc_block_mask), built by
/// Kernel::blockMask; view() goes into attnc_run_args::block_mask.
class BlockMask {
public:
  BlockMask(BlockMask &&other) noexcept { *this = std::move(other); }
  BlockMask &operator=(BlockMask &&other) noexcept {
    std::swap(handle_, other.handle_);
    std::swap(status_, other.status_);
    std::swap(error_, other.error_);
    return *this;
  }
  BlockMask(const BlockMask &) = delete;
  BlockMask &operator=(const BlockMask &) = delete;
  ~BlockMask() { attnc_block_mask_destroy(handle_); }

  bool ok() const { return status_ == ATTNC_OK; }
  attnc_status status() const { return status_; }
  const std::string &error() const { return error_; }
  /// Its arrays (valid while this object lives); empty when !ok().
  attnc_block_mask_view view() const {
    return handle_ ? attnc_block_mask_get(handle_) : attnc_block_mask_view{};
  }
  /// The fraction of blocks visited.
  double density() const { return handle_ ? attnc_block_mask_density(handle_) : 0; }

private:
  friend class Kernel;
  BlockMask() = default;
  attnc_block_mask *handle_ = nullptr;
  attnc_status status_ = ATTNC_ERROR_INTERNAL;
  std::string error_;
};

class Kernel {
public:
  /// Creates (and checks) a kernel; see ok() and error().
  static Kernel create(const attnc_spec &spec,
                       attnc_target target = ATTNC_TARGET_CPU) {
    Kernel k;
    k.record(attnc_kernel_create(&spec, target, &k.handle_));
    return k;
  }
  static Kernel fromMlir(const std::string &mlir,
                         attnc_target target = ATTNC_TARGET_CPU) {
    Kernel k;
    k.record(attnc_kernel_create_from_mlir(mlir.c_str(), target, &k.handle_));
    return k;
  }

  Kernel(Kernel &&other) noexcept { *this = std::move(other); }
  Kernel &operator=(Kernel &&other) noexcept {
    std::swap(handle_, other.handle_);
    std::swap(status_, other.status_);
    std::swap(error_, other.error_);
    return *this;
  }
  Kernel(const Kernel &) = delete;
  Kernel &operator=(const Kernel &) = delete;
  ~Kernel() { attnc_kernel_destroy(handle_); }

  bool ok() const { return status_ == ATTNC_OK; }
  attnc_status status() const { return status_; }
  /// The message of the last failed call on this object.
  const std::string &error() const { return error_; }

  attnc_status compile() { return record(attnc_kernel_compile(handle_)); }
  attnc_status run(const attnc_tensor &q, const attnc_tensor &k,
                   const attnc_tensor &v, const attnc_tensor &o,
                   const attnc_tensor *lse = nullptr, int threads = 0,
                   void *stream = nullptr) {
    return record(
        attnc_kernel_run(handle_, &q, &k, &v, &o, lse, threads, stream));
  }
  /// run() for kernels that declare inputs (see attnc_input).
  attnc_status run(const attnc_tensor &q, const attnc_tensor &k,
                   const attnc_tensor &v, const attnc_tensor &o,
                   const attnc_tensor *lse,
                   const std::vector<attnc_input> &inputs, int threads = 0,
                   void *stream = nullptr) {
    return record(attnc_kernel_run_with_inputs(
        handle_, &q, &k, &v, &o, lse, inputs.data(),
        static_cast<int64_t>(inputs.size()), threads, stream));
  }

  /// The general call: LSE, declared inputs and a block mask in one struct.
  attnc_status run(const attnc_run_args &args) {
    return record(attnc_kernel_run_args(handle_, &args));
  }

  /// A varlen or paged kernel's call: the sequences of the batch
  /// (docs/serving.md) with the tensors in `args`.
  attnc_status run(const attnc_run_args &args, const attnc_sequences &sequences) {
    return record(attnc_kernel_run_sequences(handle_, &args, &sequences));
  }

  /// A probs = true kernel's call: the tensors in `args`, and the attention
  /// weights [batch, q_heads, seq_q, seq_kv] into `probs`.
  attnc_status runWithProbs(const attnc_run_args &args, const attnc_tensor &probs) {
    return record(attnc_kernel_run_probs(handle_, &args, &probs));
  }

  /// The block mask of this block-sparse kernel's own mask for one shape
  /// (and the declared inputs its mask reads); see its ok() and error().
  BlockMask blockMask(int64_t batch, int64_t seqQ, int64_t seqKv,
                      const std::vector<attnc_input> &inputs = {}) {
    BlockMask m;
    m.status_ = record(attnc_block_mask_build(
        handle_, batch, seqQ, seqKv, inputs.data(),
        static_cast<int64_t>(inputs.size()), &m.handle_));
    m.error_ = error_;
    return m;
  }

private:
  Kernel() = default;
  attnc_status record(attnc_status status) {
    status_ = status;
    error_ = status == ATTNC_OK ? std::string() : attnc_last_error();
    return status;
  }
  attnc_kernel *handle_ = nullptr;
  attnc_status status_ = ATTNC_ERROR_INTERNAL;
  std::string error_;
};

/// Merges partial attention results on the CPU (attnc_merge; docs/merge.md): parts
/// `outputs[i]` with `lses[i]` into `o` (and `lse` unless null). Returns
/// attnc_status; on failure `error`, when given, gets the message.
inline attnc_status merge(const std::vector<attnc_tensor> &outputs,
                          const std::vector<attnc_tensor> &lses,
                          const attnc_tensor &o, const attnc_tensor *lse = nullptr,
                          int threads = 0, std::string *error = nullptr) {
  if (outputs.size() != lses.size()) {
    if (error)
      *error = "merge: outputs and lses differ in length";
    return ATTNC_ERROR_INVALID_ARGUMENT;
  }
  attnc_merge_args args = {outputs.data(), lses.data(),
                           static_cast<int64_t>(outputs.size()), &o, lse,
                           ATTNC_TARGET_CPU, threads, nullptr};
  attnc_status st = attnc_merge(&args);
  if (st != ATTNC_OK && error)
    *error = attnc_last_error();
  return st;
}

} // namespace attnc

#endif // ATTNC_ATTNC_HPP
