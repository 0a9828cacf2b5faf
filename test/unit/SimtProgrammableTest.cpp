// Programmable attention on the CUDA backend, executed by the SIMT
// emulator: custom mask and score regions over declared inputs, ALiBi and
// softcap, compiled from the same kernel text NVRTC gets, through the
// runtime's cuda-sim backend and the kernel cache (so the Params packing
// and the input checks are the runtime's), against the float64 reference
// under FlashAttention's same-dtype rule.
#include "RandomKernels.h"
#include "TestUtil.h"

#include "runtime/BlockMask.h"
#include "runtime/KernelCache.h"
#include "runtime/Reference.h"
#include "runtime/cuda/SimtKernel.h"
#include "runtime/cuda/simt/Emulator.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

using namespace attnc;
using attnc::test::Buffer;

namespace {

#define SKIP_WITHOUT_HOST_COMPILER()                                           \
  if (Status st = simt::hostCompilerAvailable(); !st.ok())                     \
  GTEST_SKIP() << "skipped (the SIMT emulator needs a host C++ compiler): "   \
               << st.message()

std::string example(const std::string &name, const char *elementType) {
  std::ifstream in(std::string(ATTNC_SOURCE_DIR) + "/examples/" + name);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  size_t at = s.find("element_type = f32");
  EXPECT_NE(at, std::string::npos) << name;
  return at == std::string::npos
             ? s
             : s.replace(at, 18, std::string("element_type = ") + elementType);
}

struct Case {
  std::string text;
  int64_t batch, seqQ, seqKv;
};

/// Runs `text` under the emulator on random inputs (declared inputs: ids in
/// [-2, 6), a bias table of `width` columns) and compares.
void runCase(KernelCache &cache, const Case &c, std::mt19937_64 &rng,
             int64_t width = 40) {
  auto ir = KernelIr::parse(c.text, "<test>");
  ASSERT_TRUE(ir.ok()) << c.text << "\n" << ir.status().message();
  auto kernel = cache.get(*ir, cuda::SimtBackend());
  ASSERT_TRUE(kernel.ok()) << c.text << "\n" << kernel.status().message();
  const KernelSpec &s = (*kernel)->spec();
  Buffer q(s.layout, c.batch, c.seqQ, s.qHeads, s.dQk, false, rng);
  Buffer k(s.layout, c.batch, c.seqKv, s.kvHeads, s.dQk, false, rng);
  Buffer v(s.layout, c.batch, c.seqKv, s.kvHeads, s.dV, false, rng);
  Buffer o(s.layout, c.batch, c.seqQ, s.qHeads, s.dV, false, rng);
  std::vector<float> lse(c.batch * s.qHeads * c.seqQ);
  AttentionArgs args{q.view, k.view, v.view, o.view, {}};
  if (s.lse)
    args.lse = lseView(lse.data(), c.batch, s.qHeads, c.seqQ);
  std::vector<std::vector<int32_t>> storage;
  for (const InputDecl &d : s.inputs) {
    std::vector<int64_t> sizes;
    for (InputDim dim : d.dims)
      sizes.push_back(dim == InputDim::Batch    ? c.batch
                      : dim == InputDim::QHeads ? s.qHeads
                      : dim == InputDim::KvHeads ? s.kvHeads
                      : dim == InputDim::SeqQ   ? c.seqQ
                      : dim == InputDim::SeqKv  ? c.seqKv
                                                : width);
    int64_t count = 1;
    for (int64_t n : sizes)
      count *= n;
    std::vector<int32_t> words(count);
    if (d.type == DType::I32) {
      for (int32_t &w : words)
        w = static_cast<int32_t>(test::regions::uniform(rng, -2, 5));
    } else {
      std::vector<float> f = uniformInputs(count, rng);
      std::memcpy(words.data(), f.data(), count * 4);
    }
    storage.push_back(std::move(words));
    std::vector<int64_t> strides(sizes.size(), 1);
    for (int i = static_cast<int>(sizes.size()) - 2; i >= 0; --i)
      strides[i] = strides[i + 1] * sizes[i + 1];
    args.inputs.push_back(
        {d.name, storage.back().data(), d.type, sizes, strides});
  }
  simt::LaunchReport report;
  Status st = cuda::simtRunFromHost(**kernel, args, 0, &report);
  ASSERT_TRUE(st.ok()) << c.text << "\n" << st.message();
  Comparison cmp = compareWithReference(s, args);
  EXPECT_TRUE(cmp.passed()) << fmt::format(
      "{}\n  batch {} seq_q {} seq_kv {} (seed {}): O error {:.3g} "
      "(tolerance {:.3g}), LSE error {:.3g} (tolerance {:.3g}){}{}",
      c.text, c.batch, c.seqQ, c.seqKv, attnc::test::testSeed(), cmp.maxError,
      cmp.tolerance, cmp.lseError, cmp.lseTolerance,
      cmp.nonFinite ? ", NaN/inf" : "", cmp.lseMismatch ? ", LSE -inf mismatch" : "");
}

TEST(SimtProgrammable, ExamplesRunUnderTheEmulator) {
  SKIP_WITHOUT_HOST_COMPILER();
  std::mt19937_64 rng(attnc::test::testSeed());
  KernelCache cache({"", /*disk=*/false});
  const Case cases[] = {
      {example("document-mask.mlir", "f16"), 1, 113, 113},
      {example("bloom-alibi.mlir", "bf16"), 1, 17, 70},
      {example("t5-relative-bias.mlir", "bf16"), 2, 40, 33},
      {example("transformer-xl.mlir", "f16"), 1, 20, 90},
      // Kernel names are not C identifiers of the kernel text: the entry is
      // attnc_<name>, so a keyword or a name the text defines is fine.
      {"attn.kernel @float attributes {q_heads = 2, d_qk = 16, element_type "
       "= f16}", 1, 17, 17},
      {"attn.kernel @Params attributes {q_heads = 2, d_qk = 16, element_type "
       "= bf16}", 1, 1, 9},
  };
  for (const Case &c : cases)
    runCase(cache, c, rng);
}

TEST(SimtProgrammable, RandomRegionsMatchFloat64Reference) {
  SKIP_WITHOUT_HOST_COMPILER();
  std::mt19937_64 rng(attnc::test::testSeed() ^ 0xc0da);
  KernelCache cache({"", /*disk=*/false});
  for (int n = 0; n < 4; ++n) {
    test::regions::RandomKernel r = test::regions::randomKernel(
        rng, n, n % 2 ? "bf16" : "f16", /*cudaDims=*/true);
    Case c{r.text, test::regions::uniform(rng, 1, 2),
           test::regions::uniform(rng, 1, 70),
           test::regions::uniform(rng, 1, 90)};
    runCase(cache, c, rng, r.biasWidth);
  }
}

/// Block-sparse kernels under the emulator: random block masks of random
/// density, with none, a built-in or a custom mask, f16 and bf16.
TEST(SimtProgrammable, RandomBlockMasksMatchFloat64Reference) {
  SKIP_WITHOUT_HOST_COMPILER();
  std::mt19937_64 rng(attnc::test::testSeed() ^ 0xb10c);
  KernelCache cache({"", /*disk=*/false});
  const char *masks[] = {
      "mask = #attn.mask<none>}",
      "mask = #attn.mask<causal, bottom_right>}",
      "mask = #attn.mask<custom>} mask {\n^bb0(%b: index, %h: index, %q: "
      "index, %k: index):\n  %d = arith.addi %q, %h : index\n  %c = "
      "arith.cmpi sge, %d, %k : index\n  attn.yield %c : i1\n}"};
  for (int n = 0; n < 3; ++n) {
    int64_t blockQ = 16 * test::regions::uniform(rng, 1, 4);
    int64_t blockKv = 16 * test::regions::uniform(rng, 1, 4);
    std::string text = fmt::format(
        "attn.kernel @sparse{} attributes {{q_heads = 4, kv_heads = 2, d_qk = "
        "64, element_type = {}, lse = true, block_sparse = "
        "#attn.block_sparse<block_q = {}, block_kv = {}>, {}",
        n, n % 2 ? "bf16" : "f16", blockQ, blockKv, masks[n]);
    auto ir = KernelIr::parse(text);
    ASSERT_TRUE(ir.ok()) << text << "\n" << ir.status().message();
    auto kernel = cache.get(*ir, cuda::SimtBackend());
    ASSERT_TRUE(kernel.ok()) << text << "\n" << kernel.status().message();
    const KernelSpec &s = (*kernel)->spec();
    int64_t seqQ = test::regions::uniform(rng, 1, 130);
    int64_t seqKv = test::regions::uniform(rng, 1, 150);
    Buffer q(s.layout, 2, seqQ, 4, 64, false, rng), k(s.layout, 2, seqKv, 2, 64, false, rng),
        v(s.layout, 2, seqKv, 2, 64, false, rng), o(s.layout, 2, seqQ, 4, 64, false, rng);
    std::vector<float> lse(2 * 4 * seqQ);
    AttentionArgs args{q.view, k.view, v.view, o.view, lseView(lse.data(), 2, 4, seqQ)};
    double density = std::uniform_real_distribution<double>(0.1, 1)(rng);
    BlockMask m = test::regions::randomBlockMask(rng, s, 2, seqQ, seqKv, density);
    args.blockMask = m.args();
    Status st = cuda::simtRunFromHost(**kernel, args);
    ASSERT_TRUE(st.ok()) << text << "\n" << st.message();
    Comparison c = compareWithReference(s, args);
    EXPECT_TRUE(c.passed()) << fmt::format(
        "{}\n  seq_q {} seq_kv {} density {:.2f} (seed {}): O error {:.3g} "
        "(tolerance {:.3g}), LSE error {:.3g} (tolerance {:.3g}){}",
        text, seqQ, seqKv, density, attnc::test::testSeed(), c.maxError,
        c.tolerance, c.lseError, c.lseTolerance,
        c.lseMismatch ? ", LSE -inf mismatch" : "");
  }
}

/// The mask function the emulated kernel calls is the printed region:
/// negating it in the kernel text (and only there) must fail the check.
TEST(SimtProgrammable, AMutatedMaskFunctionFailsTheCheck) {
  SKIP_WITHOUT_HOST_COMPILER();
  auto ir = KernelIr::parse(example("document-mask.mlir", "f16"));
  ASSERT_TRUE(ir.ok());
  auto codegen = detail::translateForCuda(*ir, "sm_80");
  ASSERT_TRUE(codegen.ok()) << codegen.status().message();
  std::string text = codegen->source;
  size_t fn = text.find("bool attnc_mask(const Params &p");
  ASSERT_NE(fn, std::string::npos);
  size_t ret = text.find(" != 0;\n}", fn);
  ASSERT_NE(ret, std::string::npos);
  text.replace(ret, 5, " == 0");
  auto module = simt::Module::compile(text);
  ASSERT_TRUE(module.ok()) << module.status().message();
  cuda::SimtKernel kernel(*codegen, std::move(*module));
  std::mt19937_64 rng(attnc::test::testSeed());
  const KernelSpec &s = kernel.spec();
  Buffer q(s.layout, 1, 40, s.qHeads, s.dQk, false, rng);
  Buffer k(s.layout, 1, 40, s.kvHeads, s.dQk, false, rng);
  Buffer v(s.layout, 1, 40, s.kvHeads, s.dV, false, rng);
  Buffer o(s.layout, 1, 40, s.qHeads, s.dV, false, rng);
  std::vector<int32_t> doc(40);
  for (int i = 0; i < 40; ++i)
    doc[i] = i / 10;
  AttentionArgs args{q.view, k.view, v.view, o.view, {}};
  args.inputs.push_back({"doc", doc.data(), DType::I32, {40}, {1}});
  ASSERT_TRUE(cuda::simtRunFromHost(kernel, args).ok());
  Comparison c = compareWithReference(s, args);
  EXPECT_FALSE(c.passed()) << "error " << c.maxError << " <= " << c.tolerance;
}

/// The emulated target checks what it is given like the GPU target.
TEST(SimtProgrammable, BadArgumentsAreErrorsNotReports) {
  SKIP_WITHOUT_HOST_COMPILER();
  KernelCache cache({"", false});
  auto ir = KernelIr::parse(example("document-mask.mlir", "f16"));
  ASSERT_TRUE(ir.ok());
  auto kernel = cache.get(*ir, cuda::SimtBackend());
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  std::vector<uint16_t> q(16 * 64 * 8, 0), kv(4 * 64 * 8, 0), o(16 * 64 * 8);
  auto view = [](void *data, int64_t seq, int64_t heads, DType type) {
    TensorView t = denseView(static_cast<float *>(data), Layout::BSHD, 1, seq,
                             heads, 64);
    t.dtype = type;
    return t;
  };
  AttentionArgs args{view(q.data(), 8, 16, DType::F16),
                     view(kv.data(), 8, 4, DType::F16),
                     view(kv.data(), 8, 4, DType::F16),
                     view(o.data(), 8, 16, DType::F16), {}};
  EXPECT_EQ((*kernel)->launch(args, {}).message(),
            "input 'doc': kernel @document_mask declares it, but the call does "
            "not give it");
  args.q.dtype = DType::BF16;
  EXPECT_EQ((*kernel)->launch(args, {}).message(),
            "q: element type is bf16, but the kernel reads and writes f16");
  args.q.dtype = DType::F16;
  std::vector<int32_t> doc(64, 0);
  args.inputs.push_back({"doc", doc.data(), DType::I32, {8}, {1}});
  // Sizes the grid could not hold, or that would wrap, are refused before
  // anything is launched (a negative batch once became 2^32 - 1 CTAs).
  for (TensorView *t : {&args.q, &args.k, &args.v, &args.o})
    t->sizes[0] = -1;
  EXPECT_EQ((*kernel)->launch(args, {}).message(),
            "q: sizes must be >= 0, got [-1, 16, 8, 64]");
  for (TensorView *t : {&args.q, &args.k, &args.v, &args.o})
    t->sizes[0] = 70000;
  EXPECT_EQ((*kernel)->launch(args, {}).message(),
            "batch (70000) must be at most 65535 for the cuda backend (grid.z)");
  for (TensorView *t : {&args.q, &args.k, &args.v, &args.o})
    t->sizes[0] = 1;
  args.q.sizes[2] = args.o.sizes[2] = int64_t(1) << 31;
  EXPECT_EQ((*kernel)->launch(args, {}).message(),
            "seq_q (2147483648) and seq_kv (8) must be at most 2147483647 for "
            "the cuda backend");
  args.q.sizes[2] = args.o.sizes[2] = 8;
  std::vector<float> lse(16 * 8);
  args.lse = lseView(lse.data(), 1, 16, 8);
  EXPECT_EQ((*kernel)->launch(args, {}).message(),
            "lse: a buffer was given, but the kernel was compiled with lse = "
            "false");
  args.lse = {};
  LaunchOptions withStream;
  withStream.stream = &args;
  EXPECT_EQ((*kernel)->launch(args, withStream).message(),
            "stream must be null for the cuda-sim target");
}

} // namespace
