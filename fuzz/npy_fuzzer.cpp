// .npy bytes through the header parser and the shape and size checks.
#include "FuzzInput.h"

#include "runtime/Npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string bytes(reinterpret_cast<const char *>(data), size);
  auto array = attnc::parseNpy(bytes, "<fuzz>", /*allowInt32=*/size % 2);
  if (array.ok()) {
    size_t count = array->isInt32 ? array->ints.size() : array->data.size();
    size_t product = 1;
    for (int64_t d : array->shape)
      product *= static_cast<size_t>(d);
    if (product != count)
      __builtin_trap(); // the shape must describe the data read
  }
  return 0;
}
