#ifndef ATTNC_RUNTIME_BACKEND_H
#define ATTNC_RUNTIME_BACKEND_H

// The one interface every backend implements (CPU, CUDA, and later the
// SIMT emulator): translate a kernel's IR for the target, compile the
// translation to bytes, load bytes into a runnable kernel, launch it. The
// kernel cache stores and memoises the bytes for any backend and calls
// nothing target-specific itself.

#include "runtime/KernelIr.h"
#include "runtime/Tensor.h"

#include <memory>
#include <string>

namespace attnc {

/// A kernel resolved, scheduled and checked for one backend, before code
/// exists: what its compiled bytes depend on, and how to make them.
class Translation {
public:
  virtual ~Translation() = default;
  /// The resolved view: every default and (CPU) schedule choice filled in.
  virtual const KernelSpec &spec() const = 0;
  /// Everything the compiled bytes depend on, as text; its SHA-256 names
  /// the cache entry, and an entry written for another key is a miss.
  virtual const std::string &key() const = 0;
  /// The resolved, scheduled op (recorded in cache entries).
  virtual const std::string &resolvedText() const = 0;
  /// Compiles to the bytes load() takes (host object code, a CUBIN, ...).
  virtual StatusOr<std::string> compile() = 0;
};

/// A compiled kernel, loaded and ready to run. Thread-safe to launch
/// concurrently.
class CompiledKernel {
public:
  virtual ~CompiledKernel() = default;
  /// The resolved view of the kernel that runs.
  virtual const KernelSpec &spec() const = 0;
  /// Checks every view against the kernel, then runs it (CPU: to
  /// completion; CUDA: asynchronously on `options.stream`).
  virtual Status launch(const AttentionArgs &args,
                        const LaunchOptions &options) const = 0;
};

class Backend {
public:
  virtual ~Backend() = default;
  /// "cpu" or "cuda": the target recorded in cache entries.
  virtual const char *target() const = 0;
  /// The backend and its options, for the in-memory cache: two backends
  /// with equal ids produce interchangeable kernels.
  virtual std::string id() const = 0;
  /// Whether the cache keeps this backend's bytes on disk as well.
  virtual bool storesOnDisk() const { return true; }
  virtual StatusOr<std::unique_ptr<Translation>>
  translate(const KernelIr &ir) const = 0;
  /// Loads bytes that `translation` (made by this backend) compiled to.
  virtual StatusOr<std::shared_ptr<const CompiledKernel>>
  load(const Translation &translation, const std::string &bytes) const = 0;
};

} // namespace attnc

#endif
