#ifndef ATTNC_TEST_UNIT_SIMTTESTUTIL_H
#define ATTNC_TEST_UNIT_SIMTTESTUTIL_H

// Running attnc's generated CUDA kernels under the SIMT emulator from
// tests: the parameter struct as the driver launch packs it, "device"
// tensors with guard zones, and a run that compares with the float64
// reference.

#include "TestUtil.h"

#include "runtime/Half.h"
#include "runtime/Reference.h"
#include "runtime/KernelIr.h"
#include "runtime/cuda/Params.h"
#include "runtime/cuda/SimtKernel.h"
#include "runtime/cuda/simt/Emulator.h"
#include "runtime/detail/Compiler.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace attnc::test::simt {

using namespace attnc::simt;

/// Skips the test (printing why) when the host compiler does not run.
#define ATTNC_SKIP_WITHOUT_HOST_COMPILER()                                     \
  do {                                                                         \
    if (::attnc::Status st = ::attnc::simt::hostCompilerAvailable(); !st.ok()) \
      GTEST_SKIP()                                                             \
          << "skipped (the SIMT emulator needs a host C++ compiler): "         \
          << st.message();                                                     \
  } while (0)

/// One f16/bf16 tensor: the f32 values the reference reads (already
/// rounded to the element type) and the 16-bit copy the kernel reads or
/// writes, with the same strides, in guarded memory.
struct HalfTensor {
  std::vector<float> values;
  TensorView view;
  std::unique_ptr<GuardedBuffer> device;

  /// [batch, heads, seq, dim] stored in `layout` order; `rowPad` extra
  /// elements after each row (a multiple of 8 keeps cp.async aligned).
  HalfTensor(const std::string &name, Layout layout, int64_t batch, int64_t seq,
             int64_t heads, int64_t dim, int64_t rowPad) {
    int64_t row = dim + rowPad;
    std::array<int64_t, 4> strides =
        layout == Layout::BSHD
            ? std::array<int64_t, 4>{seq * heads * row, row, heads * row, 1}
            : std::array<int64_t, 4>{heads * seq * row, seq * row, row, 1};
    size_t elements = static_cast<size_t>(batch * strides[0]);
    values.assign(std::max<size_t>(elements, 1), 0.f);
    view.data = values.data();
    view.sizes = {batch, heads, seq, dim};
    view.strides = strides;
    auto buffer = GuardedBuffer::allocate(name, elements * 2);
    EXPECT_TRUE(buffer.ok()) << buffer.status().message();
    device = std::make_unique<GuardedBuffer>(std::move(*buffer));
  }
  uint16_t *bits() const { return static_cast<uint16_t *>(device->data()); }
  /// The view the kernel gets: the guarded 16-bit copy.
  TensorView deviceView(DType dtype) const {
    TensorView d = view;
    d.data = device->data();
    d.dtype = dtype;
    return d;
  }
  int64_t offset(int64_t b, int64_t h, int64_t s, int64_t d) const {
    return b * view.strides[0] + h * view.strides[1] + s * view.strides[2] + d;
  }
  template <typename F> void forEach(F f) const {
    for (int64_t b = 0; b < view.sizes[0]; ++b)
      for (int64_t h = 0; h < view.sizes[1]; ++h)
        for (int64_t s = 0; s < view.sizes[2]; ++s)
          for (int64_t d = 0; d < view.sizes[3]; ++d)
            f(b, h, s, d);
  }
  /// Random values in [-1, 1), rounded to `kind`, in both copies.
  void fillRandom(HalfKind kind, std::mt19937_64 &rng) {
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    forEach([&](int64_t b, int64_t h, int64_t s, int64_t d) {
      float x = roundToHalf(dist(rng), kind);
      view.at(b, h, s, d) = x;
      bits()[offset(b, h, s, d)] = toHalfBits(x, kind);
    });
  }
  /// Sets one element in both copies (a value of the type: NaN, inf...).
  void set(int64_t b, int64_t h, int64_t s, int64_t d, float x, HalfKind kind) {
    view.at(b, h, s, d) = roundToHalf(x, kind);
    bits()[offset(b, h, s, d)] = toHalfBits(x, kind);
  }
  /// The kernel's output into the f32 view.
  void readBack(HalfKind kind) {
    forEach([&](int64_t b, int64_t h, int64_t s, int64_t d) {
      view.at(b, h, s, d) = fromHalfBits(bits()[offset(b, h, s, d)], kind);
    });
  }
};

/// A CUDA spec translated and compiled for the emulator once per test
/// binary (a new length never needs a new kernel).
struct EmulatedKernel {
  detail::CudaCodegen translation;
  std::unique_ptr<Module> module;
};

inline const EmulatedKernel &compiledKernel(const std::string &spec) {
  static std::map<std::string, std::unique_ptr<EmulatedKernel>> cache;
  auto &slot = cache[spec];
  if (!slot) {
    auto ir = KernelIr::parse(spec);
    EXPECT_TRUE(ir.ok()) << spec << "\n" << ir.status().message();
    if (!ir.ok())
      return *(slot = std::make_unique<EmulatedKernel>());
    auto translation = detail::translateForCuda(*ir, "sm_80");
    EXPECT_TRUE(translation.ok()) << spec << "\n"
                                  << translation.status().message();
    if (!translation.ok())
      return *(slot = std::make_unique<EmulatedKernel>());
    slot = std::make_unique<EmulatedKernel>();
    slot->translation = *translation;
    CompileOptions options;
    options.fileName = translation->spec.name + ".cu";
    auto module = Module::compile(translation->source, options);
    EXPECT_TRUE(module.ok()) << module.status().message();
    if (module.ok())
      slot->module = std::move(*module);
  }
  return *slot;
}

struct Shape {
  int64_t batch = 1, seqQ = 1, seqKv = 1;
  Layout layout = Layout::BSHD;
  int64_t rowPad = 0;
};

struct RunResult {
  Status launch = Status::success();
  LaunchReport report;
  Status guards = Status::success();
  Comparison comparison;
  std::vector<uint16_t> out; // O as the kernel wrote it
  std::vector<float> o;       // O as floats, dense [batch, heads, seq, d_v]
  std::vector<float> lse;     // [batch, heads, seq] (with lse = true)
};

/// Edits the random inputs before the launch (q, k, v).
using InputEdit =
    std::function<void(HalfTensor &q, HalfTensor &k, HalfTensor &v, HalfKind)>;

/// Runs `kernelText` (the translation's source, or a mutated copy compiled
/// into `module`) on random inputs of `shape` (changed by `edit`, if any),
/// then checks the guard zones and compares with the float64 reference.
inline RunResult runAttention(const detail::CudaCodegen &t,
                              const Module &module, const Shape &shape,
                              std::mt19937_64 &rng, bool globalBounds = true,
                              unsigned threads = 0,
                              const InputEdit &edit = nullptr) {
  const KernelSpec &s = t.spec;
  HalfKind kind = HalfKind::F16;
  EXPECT_TRUE(halfKindOf(s.elementType, kind)) << s.elementType;
  HalfTensor q("q", shape.layout, shape.batch, shape.seqQ, s.qHeads, s.dQk,
               shape.rowPad),
      k("k", shape.layout, shape.batch, shape.seqKv, s.kvHeads, s.dQk,
        shape.rowPad),
      v("v", shape.layout, shape.batch, shape.seqKv, s.kvHeads, s.dV,
        shape.rowPad),
      o("o", shape.layout, shape.batch, shape.seqQ, s.qHeads, s.dV,
        shape.rowPad);
  q.fillRandom(kind, rng);
  k.fillRandom(kind, rng);
  v.fillRandom(kind, rng);
  if (edit)
    edit(q, k, v, kind);
  std::vector<float> lseValues(
      static_cast<size_t>(shape.batch * s.qHeads * shape.seqQ));
  auto lseBuffer = GuardedBuffer::allocate("lse", lseValues.size() * 4);
  EXPECT_TRUE(lseBuffer.ok());
  TensorView lse = lseView(lseValues.data(), shape.batch, s.qHeads, shape.seqQ);

  // Params as the driver launch packs them (runtime/cuda/Params.h).
  const DType element = kind == HalfKind::BF16 ? DType::BF16 : DType::F16;
  AttentionArgs device{q.deviceView(element), k.deviceView(element),
                       v.deviceView(element), o.deviceView(element), {}};
  if (s.lse) {
    device.lse = lse;
    device.lse.data = lseBuffer->data();
  }
  std::string p = cuda::packParams(t, device);
  LaunchChecks checks;
  checks.globalBounds = globalBounds;
  checks.threads = threads;
  for (const HalfTensor *tensor : {&q, &k, &v, &o})
    checks.buffers.push_back(tensor->device->global());
  if (s.lse)
    checks.buffers.push_back(lseBuffer->global());
  Dim3 grid{static_cast<unsigned>((shape.seqQ + t.blockM - 1) / t.blockM),
            static_cast<unsigned>(s.qHeads),
            static_cast<unsigned>(shape.batch)};
  Dim3 block{static_cast<unsigned>(t.warps * 32), 1, 1};

  RunResult r;
  r.launch = module.launch(grid, block, static_cast<size_t>(t.sharedBytes),
                           p.data(), p.size(), checks, &r.report);
  for (const GuardedBuffer *b : {q.device.get(), k.device.get(), v.device.get(),
                                 o.device.get(), &*lseBuffer})
    if (Status st = b->checkGuards(); !st.ok() && r.guards.ok())
      r.guards = st;
  r.out.assign(o.bits(), o.bits() + o.values.size());
  o.readBack(kind);
  if (s.lse)
    std::memcpy(lseValues.data(), lseBuffer->data(), lseValues.size() * 4);
  AttentionArgs args{q.view, k.view, v.view, o.view, lse};
  r.comparison = compareWithReference(s, args);
  o.forEach([&](int64_t b, int64_t h, int64_t i, int64_t d) {
    r.o.push_back(o.view.at(b, h, i, d));
  });
  if (s.lse)
    r.lse = lseValues;
  return r;
}

inline std::string describe(const Comparison &c) {
  return fmt::format(
      "O error {:.3g} (tolerance {:.3g}), LSE error {:.3g} (tolerance "
      "{:.3g}){}{}{}",
      c.maxError, c.tolerance, c.lseError, c.lseTolerance,
      c.nonFinite ? ", NaN/inf found" : "",
      c.nanMissing ? ", a number where the reference is NaN" : "",
      c.lseMismatch ? ", a fully masked row's LSE is not -inf (or back)" : "");
}

/// A mutant: kernel `spec` translated for sm_80 with the first `from` of
/// its CUDA text replaced by `to`, compiled for the emulator. Fails (with
/// the reason) when the text has no `from`: a test whose mutation site
/// vanished must not pass silently.
inline StatusOr<std::unique_ptr<cuda::SimtKernel>>
mutantKernel(const std::string &spec, const std::string &from, const std::string &to) {
  auto ir = KernelIr::parse(spec, "<mutant>");
  if (!ir.ok())
    return ir.status();
  auto codegen = detail::translateForCuda(*ir, "sm_80");
  if (!codegen.ok())
    return codegen.status();
  const size_t at = codegen->source.find(from);
  if (at == std::string::npos)
    return Status::error("the kernel text has no '" + from + "' to mutate");
  codegen->source.replace(at, from.size(), to);
  CompileOptions options;
  options.fileName = "mutant.cu";
  auto module = Module::compile(codegen->source, options);
  if (!module.ok())
    return module.status();
  return std::make_unique<cuda::SimtKernel>(*codegen, std::move(*module));
}

} // namespace attnc::test::simt

#endif
