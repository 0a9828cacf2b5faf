// Kernel cache entry bytes through every check a read applies (magic,
// schema, lengths, checksum).
#include "FuzzInput.h"

#include "runtime/KernelCache.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string bytes(reinterpret_cast<const char *>(data), size);
  (void)attnc::KernelCache::verifyEntry(bytes);
  return 0;
}
