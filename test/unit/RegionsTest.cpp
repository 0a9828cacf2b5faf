// Programmable masks and score modifiers on the CPU: random mask and score
// regions, generated from a small grammar of arith and math ops over the
// (b, h, q, k) indices, the sequence lengths and loads of declared inputs,
// compiled and compared with the float64 reference (which interprets the
// same regions) under design.md's tolerance rule, on fresh random inputs.
#include "ProgrammableCases.h"
#include "RandomKernels.h"
#include "TestUtil.h"

#include "compiler/KernelAbi.h"
#include "compiler/Pipelines/Pipelines.h"
#include "dialect/AttnOps.h"
#include "dialect/Mods.h"
#include "runtime/CpuKernel.h"
#include "runtime/KernelIr.h"
#include "runtime/detail/Compiler.h"
#include "runtime/Reference.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace attnc;
using attnc::test::Buffer;
using namespace attnc::test::regions;

namespace {

TEST(Regions, RandomMaskAndScoreRegionsMatchFloat64Reference) {
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed ^ 0x5eed);
  const int kernels = 24, shapes = 3;
  int cases = 0, failures = 0, maskedPairs = 0, visiblePairsSeen = 0;
  for (int n = 0; n < kernels; ++n) {
    RandomKernel r = randomKernel(rng, n);
    auto kernel = attnc::test::compileText(r.text, "<random region>");
    ASSERT_TRUE(kernel.ok()) << "seed " << seed << ":\n"
                             << r.text << "\n" << kernel.status().message();
    const KernelSpec &s = (*kernel)->spec();
    for (int shape = 0; shape < shapes; ++shape) {
      int64_t batch = uniform(rng, 1, 2);
      int64_t seqQ = chance(rng, 0.3) ? 1 : uniform(rng, 1, 150);
      int64_t seqKv = chance(rng, 0.3) ? seqQ : uniform(rng, 1, 200);
      Buffer q(s.layout, batch, seqQ, s.qHeads, s.dQk, false, rng);
      Buffer k(s.layout, batch, seqKv, s.kvHeads, s.dQk, false, rng);
      Buffer v(s.layout, batch, seqKv, s.kvHeads, s.dV, false, rng);
      Buffer o(s.layout, batch, seqQ, s.qHeads, s.dV, false, rng);
      o.fill(std::numeric_limits<float>::quiet_NaN());
      std::vector<float> lse(batch * s.qHeads * seqQ);
      AttentionArgs args{q.view, k.view, v.view, o.view, {}};
      if (s.lse)
        args.lse = lseView(lse.data(), batch, s.qHeads, seqQ);
      std::vector<int32_t> ids(seqKv);
      for (int32_t &id : ids)
        id = static_cast<int32_t>(uniform(rng, -2, 6));
      std::vector<float> bias = uniformInputs(s.qHeads * r.biasWidth, rng);
      if (r.hasIds)
        args.inputs.push_back({"ids", ids.data(), DType::I32, {seqKv}, {1}});
      if (r.hasBias)
        args.inputs.push_back({"bias", bias.data(), DType::F32,
                               {s.qHeads, r.biasWidth}, {r.biasWidth, 1}});
      int64_t kvSplits = chance(rng, 0.3) ? 3 : 0;
      Status st = (*kernel)->run(args, 2, kvSplits);
      ASSERT_TRUE(st.ok()) << st.message();
      Comparison c = compareWithReference(s, args);
      ModEvaluator mods(s, args);
      for (int64_t i = 0; i < seqQ; ++i)
        for (int64_t j = 0; j < seqKv; ++j) {
          bool vis = mods.visible(0, 0, i, j);
          visiblePairsSeen += vis;
          maskedPairs += !vis;
        }
      ++cases;
      if (!c.passed()) {
        ++failures;
        ADD_FAILURE() << fmt::format(
            "seed {}: batch {} seq_q {} seq_kv {} kv splits {}: error {:.3g} "
            "> tolerance {:.3g}, non-finite {}, lse mismatch {}\n{}\n  repro: "
            "ATTNC_TEST_SEED={} attnc-unit-tests --gtest_filter=Regions.*",
            seed, batch, seqQ, seqKv, kvSplits, c.maxError, c.tolerance,
            c.nonFinite, c.lseMismatch, r.text, seed);
        if (failures >= 5)
          FAIL() << "stopping after 5 failures";
      }
    }
  }
  // The sweep must exercise both sides of the masks.
  EXPECT_GT(maskedPairs, 0) << "seed " << seed;
  EXPECT_GT(visiblePairsSeen, 0) << "seed " << seed;
  std::printf("region sweep: %d cases, %d failures, seed %llu\n", cases,
              failures, static_cast<unsigned long long>(seed));
}

/// ALiBi means BLOOM's and MPT's slopes: written here independently, as
/// BLOOM's get_slopes computes them, and compared with what the score
/// region (through the reference's interpreter) adds.
TEST(Regions, AlibiUsesBloomSlopes) {
  for (int64_t heads : {1, 8, 12, 16, 40}) {
    std::vector<double> slopes;
    auto powerOfTwo = [](int64_t n) {
      double start = std::exp2(-std::exp2(-(std::log2(double(n)) - 3)));
      std::vector<double> out;
      for (int64_t i = 0; i < n; ++i)
        out.push_back(start * std::pow(start, double(i)));
      return out;
    };
    int64_t closest = int64_t(1) << static_cast<int>(std::floor(std::log2(double(heads))));
    slopes = powerOfTwo(closest);
    if (closest != heads) {
      std::vector<double> extra = powerOfTwo(2 * closest);
      for (int64_t i = 0; i < heads - closest; ++i)
        slopes.push_back(extra[2 * i]);
    }
    KernelRequest r;
    r.qHeads = heads;
    r.dQk = 8;
    r.scoreMod = ScoreMod::Alibi;
    KernelIr ir = attnc::test::irOf(r);
    AttentionArgs a;
    a.q.sizes = {1, heads, 5, 8};
    a.k.sizes = {1, heads, 9, 8};
    ModEvaluator mods(ir.view(), a);
    for (int64_t h = 0; h < heads; ++h) {
      EXPECT_NEAR(mlir::attn::alibiSlope(h, heads), slopes[h], 1e-12 * slopes[h])
          << heads << " heads, head " << h;
      // Query 1 of 5 against key 2 of 9: the bottom-right diagonal is at
      // key 1 + 4 = 5, so the distance is 3.
      double got = mods.score<double>(0.25, 0, h, 1, 2);
      EXPECT_NEAR(got, 0.25 - slopes[h] * 3, 1e-6) << heads << " heads, head " << h;
    }
  }
}

} // namespace

namespace {

/// The runtime packs CPU arguments from its view of the kernel
/// (detail::cpuAbiArgs); the lowering builds the signature from the op
/// (abi::inputArgs). Both must give the same list, argument by argument,
/// for every kind of kernel: a drift would pass the wrong buffers.
TEST(Regions, RuntimeAbiViewMatchesTheOps) {
  mlir::DialectRegistry registry;
  mlir::attn::registerAttnDialects(registry);
  mlir::MLIRContext context(registry, mlir::MLIRContext::Threading::DISABLED);
  std::mt19937_64 rng(attnc::test::testSeed());
  std::vector<std::string> texts = {
      "attn.kernel @a attributes {q_heads = 2, d_qk = 8, element_type = f32}",
      "attn.kernel @b attributes {q_heads = 2, d_qk = 8, element_type = f32, "
      "lse = true, block_sparse = #attn.block_sparse<block_q = 32, block_kv "
      "= 32>}"};
  for (int n = 0; n < 20; ++n)
    texts.push_back(randomKernel(rng, n).text);
  for (const std::string &text : texts) {
    auto module = mlir::parseSourceString<mlir::ModuleOp>(text, &context);
    ASSERT_TRUE(module) << text;
    auto op = *module->getOps<mlir::attn::KernelOp>().begin();
    namespace abi = mlir::attn::abi;
    std::vector<abi::Arg> fromOp = abi::kernelArgs(
        abi::elementTypeOf(op.getElementType()),
        abi::elementTypeOf(op.getKvElementTypeOrDefault()), op.getLseOrDefault(),
        op.getProbsOrDefault(), op.getLayoutOrDefault() == mlir::attn::Layout::Paged,
        static_cast<bool>(op.getBlockSparseAttr()),
        abi::inputArgs(op.getInputsAttr()));
    auto ir = KernelIr::parse(text, "<test>");
    ASSERT_TRUE(ir.ok()) << ir.status().message();
    std::vector<abi::Arg> fromView = detail::cpuAbiArgs(ir->view());
    ASSERT_EQ(fromOp.size(), fromView.size()) << text;
    for (size_t i = 0; i < fromOp.size(); ++i) {
      EXPECT_EQ(fromOp[i].name, fromView[i].name) << text;
      EXPECT_EQ(fromOp[i].role, fromView[i].role) << text;
      EXPECT_EQ(fromOp[i].type, fromView[i].type) << text;
      EXPECT_EQ(fromOp[i].rank, fromView[i].rank) << text;
      EXPECT_EQ(fromOp[i].written, fromView[i].written) << text;
    }
  }
}

} // namespace

namespace {

/// visiblePairs counts a mask once per (b, h) it can tell apart; that must
/// equal counting every pair, for masks that read b and h and masks that
/// do not.
TEST(Regions, VisiblePairsMatchesCountingEveryPair) {
  std::mt19937_64 rng(attnc::test::testSeed() ^ 0x9a1);
  for (int n = 0; n < 16; ++n) {
    RandomKernel r = randomKernel(rng, n);
    auto ir = KernelIr::parse(r.text, "<test>");
    ASSERT_TRUE(ir.ok()) << ir.status().message();
    const KernelSpec &s = ir->view();
    const int64_t batch = 2, seqQ = uniform(rng, 1, 40), seqKv = uniform(rng, 1, 40);
    AttentionArgs a;
    a.q.sizes = {batch, s.qHeads, seqQ, s.dQk};
    a.k.sizes = {batch, s.kvHeads, seqKv, s.dQk};
    std::vector<int32_t> ids(seqKv);
    for (int32_t &id : ids)
      id = static_cast<int32_t>(uniform(rng, -2, 5));
    std::vector<float> bias(s.qHeads * r.biasWidth, 0.5f);
    if (r.hasIds)
      a.inputs.push_back({"ids", ids.data(), DType::I32, {seqKv}, {1}});
    if (r.hasBias)
      a.inputs.push_back(
          {"bias", bias.data(), DType::F32, {s.qHeads, r.biasWidth}, {r.biasWidth, 1}});
    ModEvaluator mods(s, a);
    int64_t every = 0;
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t h = 0; h < s.qHeads; ++h)
        for (int64_t q = 0; q < seqQ; ++q)
          for (int64_t k = 0; k < seqKv; ++k)
            every += mods.visible(b, h, q, k);
    EXPECT_EQ(visiblePairs(s, a), every) << r.text;
  }
}

} // namespace

namespace {

/// Declared inputs of every rank (0 to 4) on the CPU; the same case runs
/// under the emulator and on a GPU (ProgrammableCases.h).
TEST(Regions, InputsOfEveryRankMatchFloat64Reference) {
  std::mt19937_64 rng(attnc::test::testSeed() ^ 0x4a4);
  KernelCache cache({"", /*disk=*/false});
  for (int64_t seqQ : {1, 17, 113})
    test::programmable::runCase<CpuBackend>(
        cache, CpuBackend(),
        [](const CpuKernel &kernel, const AttentionArgs &args) {
          return kernel.run(args);
        },
        {test::programmable::everyRankKernel("f32"), 2, seqQ, seqQ + 9, 3},
        rng);
}

/// Cases from the CUDA backend's programmable generators (the examples,
/// random regions over declared inputs, random block masks, all f16 or
/// bf16) run on the CPU too, on 16-bit host tensors, under the same-dtype
/// rule; and f32 kernels over an f16 KV cache run two examples, under the
/// f32 rule. Each against float64.
TEST(Regions, HalfPrecisionProgrammableCasesRunOnTheCpu) {
  namespace pc = test::programmable;
  std::mt19937_64 rng(attnc::test::testSeed() ^ 0x16b);
  KernelCache cache({"", /*disk=*/false});
  std::vector<pc::Case> cases = pc::exampleCases();
  for (pc::Case &c : pc::randomRegionCases(rng, 8))
    cases.push_back(std::move(c));
  for (pc::Case &c : pc::randomBlockMaskCases(rng, 6))
    cases.push_back(std::move(c));
  // An f32 kernel over an f16 KV cache, from the same example texts.
  for (const char *name : {"document-mask.mlir", "t5-relative-bias.mlir"}) {
    auto ir = KernelIr::parse(pc::example(name, "f32"), name);
    ASSERT_TRUE(ir.ok()) << ir.status().message();
    auto mixed = ir->withElementType("", "f16");
    ASSERT_TRUE(mixed.ok()) << mixed.status().message();
    cases.push_back({mixed->text(), 2, 37, 129});
  }
  for (const pc::Case &c : cases)
    pc::runCase<CpuBackend>(
        cache, CpuBackend(),
        [](const CpuKernel &kernel, const AttentionArgs &args) {
          return kernel.run(args);
        },
        c, rng);
}

} // namespace
