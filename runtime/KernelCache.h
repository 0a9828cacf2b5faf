#ifndef ATTNC_RUNTIME_KERNELCACHE_H
#define ATTNC_RUNTIME_KERNELCACHE_H

// A content-addressed cache of compiled kernels for any backend: in memory,
// then on disk, as <kernel name>-<sha256 of the key>.attnc.
//
// The backend's translation gives the key: everything the compiled bytes
// depend on (for the CPU: the resolved, scheduled op, the host target, the
// LLVM version; for CUDA: the generated source, the arch, the NVRTC
// version), always with attnc's version and a fingerprint of the code
// generator's sources. An entry repeats the key it was written for, the
// resolved op, and a checksum; any mismatch (truncation, a flipped bit,
// another version or machine) makes it a miss, and the kernel is
// recompiled and rewritten. Entries are written to a temporary file and
// renamed into place, so readers, threads and processes never see a
// partial entry. The cache calls nothing target-specific: translating,
// compiling and loading are the backend's (runtime/Backend.h).

#include "runtime/Backend.h"

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

  /// The kernel `ir` compiles to on `backend`: from memory, else its bytes
  /// from disk, else compiled (and written to disk). Concurrent first
  /// requests for one kernel compile it once; the others wait for it. Bytes
  /// from disk that the backend refuses to load are recompiled.
  StatusOr<std::shared_ptr<const CompiledKernel>>
  get(const KernelIr &ir, const Backend &backend, CacheSource *from = nullptr);

  /// get() for a backend class, typed as its kernel class (CpuKernel, ...).
  template <typename B>
  StatusOr<std::shared_ptr<const typename B::Kernel>>
  get(const KernelIr &ir, const B &backend, CacheSource *from = nullptr) {
    auto kernel = get(ir, static_cast<const Backend &>(backend), from);
    if (!kernel.ok())
      return kernel.status();
    // B made the kernel, so it is a B::Kernel.
    return std::static_pointer_cast<const typename B::Kernel>(*kernel);
  }

  /// The compiled bytes alone (from disk or the backend's compiler), for
  /// machines that can compile for a target but not run it (NVRTC without
  /// a GPU). `skipDisk` forces a compile and a rewrite of the entry.
  StatusOr<std::string> bytes(Translation &translation,
                              const Backend &backend,
                              CacheSource *from = nullptr,
                              bool skipDisk = false);

  CacheStats stats() const;
  /// The directory in use; empty when the cache is memory-only.
  std::string directory() const;

  /// One entry on disk.
  struct Entry {
    std::string file;   // path
    std::string name;   // the kernel's readable name
    std::string target; // "cpu" or "cuda" (valid entries only)
    uint64_t bytes = 0;
    bool valid = false; // passes every check
  };
  /// The entries in the directory, each checked.
  StatusOr<std::vector<Entry>> list() const;
  /// Every check a read applies to an entry's bytes (magic, schema,
  /// lengths, checksum); the error says which failed. The entry's key is
  /// then compared with the request's by get().
  static Status verifyEntry(const std::string &bytes);
  /// Removes every entry (and stray temporary files) from the directory.
  Status clear();

  /// The default directory (see CacheOptions::directory).
  static std::string defaultDirectory();
  /// The process-wide cache with default options.
  static KernelCache &shared();

private:
  using Result = StatusOr<std::shared_ptr<const CompiledKernel>>;
  Result load(const KernelIr &ir, const Backend &backend, CacheSource &from);
  void disableDisk(const std::string &why);
  std::string entryPath(const std::string &name, const std::string &key) const;
  /// The payload of the entry at `path` if it is valid for `key`; an entry
  /// that exists but fails a check counts as a reject.
  std::optional<std::string> readEntry(const std::string &path,
                                       const std::string &key);
  void writeEntry(const std::string &path, const Translation &translation,
                  const char *target, const std::string &payload);

  std::string directory_;
  std::atomic<bool> disk_;
  std::once_flag warned_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_future<Result>> memory_;
  std::atomic<uint64_t> memoryHits_{0}, diskHits_{0}, compiles_{0},
      diskWrites_{0}, diskRejects_{0};
};

} // namespace attnc

#endif
