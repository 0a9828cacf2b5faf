// attnc cache: inspect and clear the on-disk kernel cache.
#include "Commands.h"

#include "runtime/KernelCache.h"

#include <fmt/format.h>

namespace attnc::cli {

int cacheCommand(const Options &o) {
  CacheOptions options;
  options.directory = o.cacheDir;
  KernelCache cache(options);
  if (cache.directory().empty())
    return 2; // the cache already said why (no directory)
  if (o.cacheAction == "clear") {
    if (Status st = cache.clear(); !st.ok()) {
      fmt::print(stderr, "attnc: error: {}\n", st.message());
      return 2;
    }
    fmt::print("cleared {}\n", cache.directory());
    return 0;
  }
  auto entries = cache.list();
  if (!entries.ok()) {
    fmt::print(stderr, "attnc: error: {}\n", entries.status().message());
    return 2;
  }
  uint64_t bytes = 0, invalid = 0;
  for (const KernelCache::Entry &e : *entries) {
    bytes += e.bytes;
    invalid += !e.valid;
  }
  if (o.cacheAction == "stat") {
    fmt::print("directory {}\nentries   {} ({} invalid)\nsize      {:.1f} KiB\n",
               cache.directory(), entries->size(), invalid, bytes / 1024.0);
    return 0;
  }
  for (const KernelCache::Entry &e : *entries)
    fmt::print("{:<24} {:<4} {:>9} bytes  {}\n", e.name,
               e.valid ? e.target : "-", e.bytes, e.file);
  return 0;
}

} // namespace attnc::cli
