#ifndef ATTNC_RUNTIME_CPUKERNEL_H
#define ATTNC_RUNTIME_CPUKERNEL_H

#include "runtime/Backend.h"

#include <memory>
#include <string>

namespace attnc {

/// The most key chunks one split-KV run may use.
constexpr int64_t kMaxKvSplits = 64;

struct CpuCompileOptions {
  /// f32 lanes per vector (4, 8, 16); 0: the host's widest.
  int64_t vectorWidth = 0;
};

/// One attention kernel JIT-compiled for this CPU. Batch and sequence lengths
/// are run-time values: one kernel serves every length. Thread-safe to run
/// concurrently.
class CpuKernel final : public CompiledKernel {
public:
  /// Compiles a kernel without a cache (KernelCache::get is the usual way).
  static StatusOr<std::unique_ptr<CpuKernel>>
  compile(const KernelIr &ir, const CpuCompileOptions &options = {});

  /// Loads object code produced by compile() (see object()) for `spec`, the
  /// resolved spec it was compiled from. This is the warm half of compile():
  /// a kernel cache stores the pair and loads it back.
  static StatusOr<std::unique_ptr<CpuKernel>> load(const std::string &object,
                                                   const KernelSpec &spec);

  ~CpuKernel() override;

  /// The resolved spec: every default and schedule choice filled in.
  const KernelSpec &spec() const override;
  /// The host object code (ELF) the kernel runs from.
  const std::string &object() const;

  /// Runs the kernel. `threads` 0 uses the spec's thread count. Checks every
  /// view against the spec and against each other first. `kvSplits` cuts
  /// each row's keys into that many chunks run in parallel and merged
  /// (split-KV, for decode with fewer tiles than threads); 0 chooses by
  /// kvSplitsFor, 1 disables it. The result is the same either way, up to
  /// rounding.
  Status run(const AttentionArgs &args, unsigned threads = 0,
             int64_t kvSplits = 0) const;
  /// run() with the options' threads and kvSplits; `stream` must be null.
  Status launch(const AttentionArgs &args,
                const LaunchOptions &options) const override;

  /// Prefill kernels keep the transposed K tiles of a call in a per-thread
  /// cache so that each is transposed once per thread rather than once per
  /// query block. This caps its size per thread (default 64 MiB: 128k keys
  /// at d_qk 128); past the cap tiles share slots round-robin, which is
  /// slower but equally correct. Returns the previous cap.
  static size_t setKtCacheLimit(size_t bytes);

  /// The split-KV factor run() chooses for a shape (1: no split).
  int64_t kvSplitsFor(int64_t batch, int64_t seqQ, int64_t seqKv,
                      unsigned threads) const;

  /// The checks run() makes, without running.
  Status validate(const AttentionArgs &args) const;

private:
  struct Impl;
  explicit CpuKernel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The CPU backend: kernels JIT-compiled by LLVM for this host.
class CpuBackend final : public Backend {
public:
  using Kernel = CpuKernel;
  explicit CpuBackend(CpuCompileOptions options = {}) : options_(options) {}
  const char *target() const override { return "cpu"; }
  std::string id() const override;
  StatusOr<std::unique_ptr<Translation>>
  translate(const KernelIr &ir) const override;
  StatusOr<std::shared_ptr<const CompiledKernel>>
  load(const Translation &translation, const std::string &bytes) const override;

private:
  CpuCompileOptions options_;
};

} // namespace attnc

#endif
