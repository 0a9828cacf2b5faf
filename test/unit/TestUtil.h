#ifndef ATTNC_TEST_UNIT_TESTUTIL_H
#define ATTNC_TEST_UNIT_TESTUTIL_H

#include "runtime/CpuKernel.h"
#include "runtime/KernelIr.h"
#include "runtime/Spec.h"
#include "runtime/Tensor.h"

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace attnc::test {

/// The seed for this run: ATTNC_TEST_SEED if set, else fresh from the OS, so
/// that every CI run sees new inputs. Printed by failing tests for a repro.
inline uint64_t testSeed() {
  static uint64_t seed = [] {
    if (const char *env = std::getenv("ATTNC_TEST_SEED"))
      return static_cast<uint64_t>(std::strtoull(env, nullptr, 10));
    return (static_cast<uint64_t>(std::random_device{}()) << 32) ^
           std::random_device{}();
  }();
  return seed;
}

#ifdef ATTNC_SOURCE_DIR
/// The source tree the tests read files from (examples, docs): the
/// environment's ATTNC_SOURCE_DIR if set (the GPU bundle sets it to its own
/// copy of examples/), else the tree this test was built from.
inline std::string sourceDir() {
  const char *env = std::getenv("ATTNC_SOURCE_DIR");
  return env && *env ? env : ATTNC_SOURCE_DIR;
}
#endif

/// The CPU kernel for a request (the IR's error if it has none).
inline StatusOr<std::unique_ptr<CpuKernel>>
compileRequest(const KernelRequest &request) {
  auto ir = KernelIr::build(request);
  if (!ir.ok())
    return ir.status();
  return CpuKernel::compile(*ir);
}

/// The CPU kernel for spec text, with diagnostics naming `sourceName`.
inline StatusOr<std::unique_ptr<CpuKernel>>
compileText(const std::string &text, const std::string &sourceName = "<spec>") {
  auto ir = KernelIr::parse(text, sourceName);
  if (!ir.ok())
    return ir.status();
  return CpuKernel::compile(*ir);
}

/// The IR for a request that must be valid (a test bug otherwise).
inline KernelIr irOf(const KernelRequest &request) {
  auto ir = KernelIr::build(request);
  if (!ir.ok()) {
    std::fprintf(stderr, "invalid test kernel: %s\n",
                 ir.status().message().c_str());
    std::abort();
  }
  return *ir;
}

/// Storage for one tensor plus the view the kernel sees. With `padded`, each
/// row and head is followed by unused elements that must stay untouched.
/// `half` replaces `storage` once the buffer is converted to f16 or bf16.
struct Buffer {
  std::vector<float> storage;
  std::vector<uint16_t> half;
  TensorView view;
  float poison = 0;

  Buffer(Layout layout, int64_t batch, int64_t seq, int64_t heads,
         int64_t dim, bool padded, std::mt19937_64 &rng) {
    int64_t rowPad = padded ? 3 : 0, headPad = padded ? 5 : 0;
    int64_t dimAlloc = dim + rowPad;
    std::array<int64_t, 4> strides; // logical [b, h, s, d]
    int64_t total;
    if (layout == Layout::BSHD) {
      int64_t tokenStride = heads * dimAlloc + headPad;
      strides = {seq * tokenStride + headPad, dimAlloc, tokenStride, 1};
      total = batch * strides[0];
    } else {
      int64_t headStride = seq * dimAlloc + headPad;
      strides = {heads * headStride + headPad, headStride, dimAlloc, 1};
      total = batch * strides[0];
    }
    storage.assign(std::max<int64_t>(total, 1) + 1, 0);
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    for (float &x : storage)
      x = dist(rng);
    view.data = storage.data() + (padded ? 1 : 0);
    view.sizes = {batch, heads, seq, dim};
    view.strides = strides;
  }

  /// Re-stores every element (view and padding) as f16 or bf16, rounded to
  /// nearest even; the view then reads the 16-bit copy. F32 changes nothing.
  Buffer &convertTo(DType type) {
    if (type == DType::F32)
      return *this;
    const int64_t offset = static_cast<float *>(view.data) - storage.data();
    half.resize(storage.size());
    for (size_t i = 0; i < storage.size(); ++i)
      half[i] = toHalfBits(storage[i], halfKindOf(type));
    view.data = half.data() + offset;
    view.dtype = type;
    return *this;
  }

  /// Fills every element (view and padding) with `value`.
  void fill(float value) {
    poison = value;
    std::fill(storage.begin(), storage.end(), value);
    if (!half.empty())
      std::fill(half.begin(), half.end(), toHalfBits(value, halfKindOf(view.dtype)));
  }
  /// Counts elements outside the view that no longer hold the poison value.
  int64_t touchedOutsideView() const {
    const size_t size = half.empty() ? storage.size() : half.size();
    const int64_t offset =
        half.empty() ? static_cast<const float *>(view.data) - storage.data()
                     : static_cast<const uint16_t *>(view.data) - half.data();
    std::vector<char> inside(size, 0);
    const TensorView &t = view;
    for (int64_t b = 0; b < t.sizes[0]; ++b)
      for (int64_t h = 0; h < t.sizes[1]; ++h)
        for (int64_t s = 0; s < t.sizes[2]; ++s)
          for (int64_t d = 0; d < t.sizes[3]; ++d)
            inside[offset + b * t.strides[0] + h * t.strides[1] +
                   s * t.strides[2] + d * t.strides[3]] = 1;
    int64_t touched = 0;
    for (size_t i = 0; i < size; ++i) {
      float x = half.empty() ? storage[i] : fromHalfBits(half[i], halfKindOf(view.dtype));
      if (!inside[i] && !(x == poison || (x != x && poison != poison)))
        ++touched;
    }
    return touched;
  }
};

} // namespace attnc::test

#endif
