#ifndef ATTNC_RUNTIME_KERNELCACHE_H
#define ATTNC_RUNTIME_KERNELCACHE_H

// A content-addressed cache of compiled kernels: in memory, then on disk,
// as <kernel name>-<sha256 of the key>.attnc.
//
// The disk key is a SHA-256 of everything the object code depends on: the
// canonical resolved and scheduled spec, the host target (triple, CPU,
// features), the LLVM version, attnc's version, a fingerprint of the code
// generator's sources (so two builds of one version that generate or call
// kernels differently never share entries) and the entry schema. An
// entry repeats the key text it was written for, the resolved spec, and a
// checksum; any mismatch (truncation, a flipped bit, another version or
// machine) makes it a miss, and the kernel is recompiled and rewritten.
// Entries are written to a temporary file and renamed into place, so
// readers, threads and processes never see a partial entry.
//
// CUDA kernels share the directory: an entry holds the CUBIN NVRTC made,
// keyed by the generated CUDA C++, the arch and the NVRTC version.

#include "runtime/CpuKernel.h"
#include "runtime/cuda/CudaKernel.h"

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace attnc {

struct CacheOptions {
  /// Where entries live. Empty: $ATTNC_CACHE_DIR, else
  /// $XDG_CACHE_HOME/attnc, else $HOME/.cache/attnc.
  std::string directory;
  /// False keeps kernels in memory only.
  bool disk = true;
};

/// Where a kernel came from.
enum class CacheSource { Memory, Disk, Compiled };
const char *toString(CacheSource source);

struct CacheStats {
  uint64_t memoryHits = 0, diskHits = 0, compiles = 0;
  uint64_t diskWrites = 0;
  uint64_t diskRejects = 0; // entries found but invalid (treated as misses)
};

class KernelCache {
public:
  explicit KernelCache(CacheOptions options = {});

  /// The kernel for `source` (MLIR text of one attn.kernel): from memory,
  /// else from disk, else compiled (and written to disk). Concurrent first
  /// requests for one kernel compile it once; the others wait for it.
  StatusOr<std::shared_ptr<const CpuKernel>>
  get(const std::string &source, const CpuCompileOptions &options = {},
      CacheSource *from = nullptr);
  StatusOr<std::shared_ptr<const CpuKernel>>
  get(const KernelSpec &spec, const CpuCompileOptions &options = {},
      CacheSource *from = nullptr);

  /// The CUDA kernel for `source` on device `ordinal`: from memory, else
  /// the CUBIN from disk, else compiled by NVRTC (and written to disk).
  StatusOr<std::shared_ptr<const cuda::CudaKernel>>
  getCuda(const std::string &source, int ordinal = 0,
          CacheSource *from = nullptr);
  /// The CUBIN for `source` and `arch` (sm_80, sm_90, ...), from disk or
  /// NVRTC. Needs NVRTC but no GPU. `skipDisk` forces a compile (and a
  /// rewrite of the entry).
  StatusOr<cuda::CudaBinary> cudaBinary(const std::string &source,
                                        const std::string &arch,
                                        CacheSource *from = nullptr,
                                        bool skipDisk = false);

  CacheStats stats() const;
  /// The directory in use; empty when the cache is memory-only.
  std::string directory() const;

  /// One entry on disk.
  struct Entry {
    std::string file;  // path
    std::string name;  // the kernel's readable name
    std::string target; // "cpu" or "cuda" (valid entries only)
    uint64_t bytes = 0;
    bool valid = false; // passes every check
  };
  /// The entries in the directory, each checked.
  StatusOr<std::vector<Entry>> list() const;
  /// Removes every entry (and stray temporary files) from the directory.
  Status clear();

  /// The default directory (see CacheOptions::directory).
  static std::string defaultDirectory();
  /// The process-wide cache with default options.
  static KernelCache &shared();

private:
  using Result = StatusOr<std::shared_ptr<const CpuKernel>>;
  Result load(const std::string &source, const CpuCompileOptions &options,
              CacheSource &from);
  void disableDisk(const std::string &why);
  std::string entryPath(const std::string &name, const std::string &key) const;
  /// The spec and payload of the entry at `path` if it is valid for `key`;
  /// an entry that exists but fails a check counts as a reject.
  std::optional<std::pair<KernelSpec, std::string>>
  readEntry(const std::string &path, const std::string &key);
  void writeEntry(const std::string &path, const std::string &key,
                  const KernelSpec &spec, const std::string &payload);
  /// The in-memory layer: concurrent first requests for `key` run `load`
  /// once; the others wait for its result.
  template <typename Kernel, typename Load>
  StatusOr<std::shared_ptr<const Kernel>> memoize(
      std::unordered_map<std::string,
                         std::shared_future<StatusOr<std::shared_ptr<const Kernel>>>>
          &memory,
      const std::string &key, CacheSource *from, Load load);

  std::string directory_;
  std::atomic<bool> disk_;
  std::once_flag warned_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_future<Result>> memory_;
  std::unordered_map<
      std::string,
      std::shared_future<StatusOr<std::shared_ptr<const cuda::CudaKernel>>>>
      cudaMemory_;
  std::atomic<uint64_t> memoryHits_{0}, diskHits_{0}, compiles_{0},
      diskWrites_{0}, diskRejects_{0};
};

} // namespace attnc

#endif
