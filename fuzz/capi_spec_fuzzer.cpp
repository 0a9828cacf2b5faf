// attnc_spec fields from the input through the C API's validation and the
// kernel's IR (no compile: creating a handle validates everything), and the
// same for attn text through attnc_kernel_create_from_mlir.
#include "FuzzInput.h"

#include "attnc/attnc.h"

#include <cstring>

// Any int in a C enum field, as a C caller can store (a static_cast to the
// C++ enum would itself be undefined for values outside it).
template <typename E> void setEnum(E &field, int64_t value) {
  int v = static_cast<int>(value);
  std::memcpy(&field, &v, sizeof v);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  attnc::fuzz::FuzzInput in(data, size);
  attnc_spec s = attnc_spec_default();
  std::string name = in.text(80);
  bool hasName = in.take<uint8_t>() & 1;
  s.name = hasName ? name.c_str() : nullptr;
  s.q_heads = in.small(-2, 64);
  s.kv_heads = in.small(-2, 64);
  s.d_qk = in.small(-2, 600);
  s.d_v = in.small(-2, 600);
  s.scale = in.take<uint8_t>() < 200 ? 0 : in.take<double>();
  s.softcap = in.take<uint8_t>() < 200 ? 0 : in.take<double>();
  setEnum(s.mask, in.small(-1, 4));
  setEnum(s.alignment, in.small(-1, 3));
  s.window_left = in.small(-2, 5000);
  s.window_right = in.small(-2, 5000);
  setEnum(s.layout, in.small(-1, 4));
  s.decode = static_cast<int>(in.small(0, 1));
  s.lse = static_cast<int>(in.small(0, 1));
  setEnum(s.dtype, in.small(-1, 5));
  s.alibi = static_cast<int>(in.small(0, 1));
  setEnum(s.kv_dtype, in.small(-1, 5));
  // A valid target only: passing an enum by value loads it, which is
  // undefined in C++ for values outside it (capi_test.c, in C, passes bad
  // ones).
  attnc_target target;
  setEnum(target, ((in.small(0, 2) % 3) + 3) % 3);
  attnc_kernel *kernel = nullptr;
  if (attnc_kernel_create(&s, target, &kernel) == ATTNC_OK)
    attnc_kernel_destroy(kernel);
  else if (kernel)
    __builtin_trap(); // no handle on failure
  std::string text = in.rest();
  kernel = nullptr;
  if (attnc_kernel_create_from_mlir(text.c_str(), ATTNC_TARGET_CPU, &kernel) ==
      ATTNC_OK)
    attnc_kernel_destroy(kernel);
  return 0;
}
