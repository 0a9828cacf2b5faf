// The probs output (probs = true): P[b, h, q, k] = exp(s - LSE), written by
// a second pass over the tiles after the fused pass, against the float64
// softmax under FlashAttention's rule (Reference.cpp compares P with O and
// LSE); built-in and custom masks and scores, GQA, prefill and decode,
// half-precision inputs, block masks; and every rejection of a probs call.
#include "RandomKernels.h"
#include "TestUtil.h"

#include "runtime/BlockMask.h"
#include "runtime/Reference.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace attnc;
using attnc::test::Buffer;
using attnc::test::regions::chance;
using attnc::test::regions::uniform;

namespace {

struct ProbsCall {
  Buffer q, k, v, o, p;
  std::vector<float> lse;
  std::vector<int32_t> ids;
  std::vector<float> bias;
  AttentionArgs args;
  ProbsCall(const KernelSpec &s, int64_t batch, int64_t seqQ, int64_t seqKv,
            bool padded, std::mt19937_64 &rng)
      : q(s.layout, batch, seqQ, s.qHeads, s.dQk, padded, rng),
        k(s.layout, batch, seqKv, s.kvHeads, s.dQk, padded, rng),
        v(s.layout, batch, seqKv, s.kvHeads, s.dV, padded, rng),
        o(s.layout, batch, seqQ, s.qHeads, s.dV, padded, rng),
        // P [b, h, q, k] with padded strides: BHSD of "heads" q_heads and
        // "dim" seq_kv.
        p(Layout::BHSD, batch, seqQ, s.qHeads, seqKv, padded, rng) {
    const DType element = dtypeNamed(s.elementType);
    for (Buffer *b : {&q, &o})
      b->convertTo(element);
    for (Buffer *b : {&k, &v})
      b->convertTo(dtypeNamed(s.kvType()));
    p.fill(std::numeric_limits<float>::quiet_NaN());
    lse.assign(batch * s.qHeads * seqQ, 0.f);
    args = AttentionArgs{q.view, k.view, v.view, o.view, {}};
    if (s.lse)
      args.lse = lseView(lse.data(), batch, s.qHeads, seqQ);
    args.probs = p.view;
  }
};

std::vector<std::string> probsSpecs(std::mt19937_64 &rng) {
  std::vector<std::string> specs;
  const char *masks[] = {"#attn.mask<none>", "#attn.mask<causal, top_left>",
                         "#attn.mask<causal, bottom_right>",
                         "#attn.mask<sliding_window, left = 20, right = 3, bottom_right>"};
  for (int i = 0; i < 8; ++i) {
    const int64_t kv = uniform(rng, 1, 2), qh = kv * uniform(rng, 1, 3);
    const int64_t d = i % 3 == 0 ? uniform(rng, 1, 80) : 32;
    std::string extra;
    if (i % 4 == 1)
      extra += ", score_mod = #attn.score_mod<alibi>";
    if (i % 5 == 2)
      extra += ", softcap = 5.0";
    specs.push_back(fmt::format(
        "attn.kernel @probs{} attributes {{q_heads = {}, kv_heads = {}, d_qk = {}, "
        "element_type = {}, mask = {}, lse = {}, probs = true, layout = "
        "#attn.layout<{}>, mode = #attn.mode<{}>{}}}",
        i, qh, kv, d, i % 3 == 2 ? (i % 2 ? "bf16" : "f16") : "f32", masks[i % 4],
        i % 2 ? "true" : "false", i % 2 ? "bshd" : "bhsd",
        i == 5 || i == 6 ? "decode" : "prefill", extra));
  }
  return specs;
}

TEST(Probs, MatchTheFloat64Softmax) {
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed);
  std::vector<std::pair<std::string, attnc::test::regions::RandomKernel>> cases;
  for (const std::string &text : probsSpecs(rng))
    cases.push_back({text, {}});
  for (int i = 0; i < 6; ++i) {
    attnc::test::regions::RandomKernel r = attnc::test::regions::randomKernel(rng, i);
    std::string text = r.text;
    const size_t at = text.find("lse = ");
    text.insert(at, "probs = true, ");
    cases.push_back({text, r});
  }
  const int64_t lengths[] = {1, 17, 64, 113, 200};
  int calls = 0;
  for (const auto &[text, r] : cases) {
    auto kernel = attnc::test::compileText(text, "<probs>");
    ASSERT_TRUE(kernel.ok()) << text << "\n" << kernel.status().message();
    const KernelSpec &s = (*kernel)->spec();
    for (int n = 0; n < 2; ++n, ++calls) {
      const int64_t batch = uniform(rng, 1, 2);
      const int64_t seqQ = s.mode == Mode::Decode ? uniform(rng, 1, 3)
                                                  : lengths[uniform(rng, 0, 4)];
      const int64_t seqKv = lengths[uniform(rng, 0, 4)];
      ProbsCall c(s, batch, seqQ, seqKv, n == 1, rng);
      c.ids.resize(seqKv);
      for (int32_t &id : c.ids)
        id = static_cast<int32_t>(uniform(rng, -2, 6));
      c.bias.resize(s.qHeads * r.biasWidth);
      for (float &x : c.bias)
        x = std::uniform_real_distribution<float>(-1, 1)(rng);
      if (r.hasIds)
        c.args.inputs.push_back({"ids", c.ids.data(), DType::I32, {seqKv}, {1}});
      if (r.hasBias)
        c.args.inputs.push_back({"bias", c.bias.data(), DType::F32,
                                 {s.qHeads, r.biasWidth}, {r.biasWidth, 1}});
      Status st = (*kernel)->run(c.args, n == 0 ? 1 : 2);
      ASSERT_TRUE(st.ok()) << text << "\n" << st.message();
      Comparison cmp = compareWithReference(s, c.args);
      EXPECT_TRUE(cmp.passed()) << fmt::format(
          "seed {}: {}\nbatch {}, seq_q {}, seq_kv {}: O error {:.3g} (tol {:.3g}), "
          "P error {:.3g} (tol {:.3g}), non-finite {}, NaN missing {}",
          seed, text, batch, seqQ, seqKv, cmp.maxError, cmp.tolerance, cmp.probsError,
          cmp.probsTolerance, cmp.nonFinite, cmp.nanMissing);
      // Only P's elements are written: its padding keeps the NaN fill.
      EXPECT_EQ(c.p.touchedOutsideView(), 0) << text;
    }
  }
  std::printf("probs: %d calls of %zu kernels, seed %llu\n", calls, cases.size(),
              static_cast<unsigned long long>(seed));
}

/// Block masks: keys of blocks that no list names get P = 0.
TEST(Probs, BlockMasksZeroTheSkippedBlocks) {
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed ^ 0xb10c);
  auto kernel = attnc::test::compileText(
      "attn.kernel @sparse attributes {q_heads = 2, d_qk = 32, element_type = f32, "
      "probs = true, block_sparse = #attn.block_sparse<block_q = 64, block_kv = 64>}");
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  const KernelSpec &s = (*kernel)->spec();
  for (int n = 0; n < 3; ++n) {
    const int64_t seqQ = uniform(rng, 1, 200), seqKv = uniform(rng, 1, 300);
    ProbsCall c(s, 1, seqQ, seqKv, n == 1, rng);
    BlockMask blocks = attnc::test::regions::randomBlockMask(rng, s, 1, seqQ, seqKv, 0.5);
    c.args.blockMask = blocks.args();
    Status st = (*kernel)->run(c.args);
    ASSERT_TRUE(st.ok()) << st.message();
    Comparison cmp = compareWithReference(s, c.args);
    EXPECT_TRUE(cmp.passed()) << fmt::format("seed {} seq {}x{}: P error {:.3g} (tol {:.3g})",
                                             seed, seqQ, seqKv, cmp.probsError,
                                             cmp.probsTolerance);
  }
}

/// A causal row sees keys up to its diagonal: P is 0 past it, the visible
/// entries sum to 1, and a fully masked row is all 0 (never NaN).
TEST(Probs, MaskedKeysAreZeroAndRowsSumToOne) {
  std::mt19937_64 rng(attnc::test::testSeed() ^ 0x5);
  auto kernel = attnc::test::compileText(
      "attn.kernel @causal attributes {q_heads = 1, d_qk = 16, element_type = f32, "
      "probs = true, mask = #attn.mask<causal, bottom_right>}");
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  // seq_q 9 > seq_kv 5, bottom-right: rows 0..3 see no key.
  ProbsCall c((*kernel)->spec(), 1, 9, 5, false, rng);
  ASSERT_TRUE((*kernel)->run(c.args).ok());
  for (int64_t i = 0; i < 9; ++i) {
    double sum = 0;
    for (int64_t j = 0; j < 5; ++j) {
      const float p = c.args.probs.at(0, 0, i, j);
      ASSERT_FALSE(std::isnan(p)) << i << ", " << j;
      if (j > i - 4) {
        EXPECT_EQ(p, 0.f) << i << ", " << j;
      }
      sum += p;
    }
    EXPECT_NEAR(sum, i < 4 ? 0.0 : 1.0, 1e-6) << "row " << i;
  }
}

/// NaN and inf inputs: P follows the reference (a row whose visible scores
/// meet a NaN is NaN on its visible keys, 0 on masked ones); no query rows
/// at all is a valid call.
TEST(Probs, NonFiniteRowsAndEmptyCalls) {
  std::mt19937_64 rng(attnc::test::testSeed() ^ 0x7a);
  auto kernel = attnc::test::compileText(
      "attn.kernel @nan attributes {q_heads = 2, d_qk = 16, element_type = f32, "
      "probs = true, mask = #attn.mask<causal, bottom_right>}");
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  const KernelSpec &s = (*kernel)->spec();
  ProbsCall c(s, 1, 20, 30, false, rng);
  c.args.q.at(0, 1, 7, 3) = std::numeric_limits<float>::quiet_NaN();
  c.args.k.at(0, 0, 2, 5) = std::numeric_limits<float>::infinity();
  ASSERT_TRUE((*kernel)->run(c.args).ok());
  Comparison cmp = compareWithReference(s, c.args);
  EXPECT_TRUE(cmp.passed()) << "P error " << cmp.probsError << ", NaN missing "
                            << cmp.nanMissing << ", non-finite " << cmp.nonFinite;
  for (int64_t j = 0; j < 30; ++j) // row 7 sees keys 0..17 (bottom-right)
    EXPECT_EQ(std::isnan(c.args.probs.at(0, 1, 7, j)), j <= 17) << j;
  ProbsCall empty(s, 2, 0, 30, false, rng);
  EXPECT_TRUE((*kernel)->run(empty.args).ok());
}

TEST(Probs, BadCallsAreNamed) {
  std::mt19937_64 rng(attnc::test::testSeed());
  auto kernel = attnc::test::compileText(
      "attn.kernel @p attributes {q_heads = 2, d_qk = 8, element_type = f32, probs = true}");
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  auto plain = attnc::test::compileText(
      "attn.kernel @plain attributes {q_heads = 2, d_qk = 8, element_type = f32}");
  ASSERT_TRUE(plain.ok());
  ProbsCall c((*kernel)->spec(), 1, 3, 4, false, rng);
  AttentionArgs a = c.args;
  EXPECT_EQ((*plain)->run(a).message(),
            "probs: a buffer was given, but the kernel was compiled with probs = false");
  a.probs = {};
  EXPECT_EQ((*kernel)->run(a).message(),
            "probs: the kernel was compiled with probs = true, but no probs buffer "
            "was given");
  a = c.args;
  a.probs.dtype = DType::F16;
  EXPECT_EQ((*kernel)->run(a).message(),
            "probs: element type is f16, but probabilities are f32");
  a = c.args;
  a.probs.sizes[3] = 3;
  EXPECT_EQ((*kernel)->run(a).message(),
            "probs: shape [1, 2, 3, 3] must be [batch, q_heads, seq_q, seq_kv] = "
            "[1, 2, 3, 4]");
  a = c.args;
  a.probs.strides[2] = -1;
  EXPECT_EQ((*kernel)->run(a).message(),
            "probs: strides must be >= 0, got [" +
                fmt::format("{}", a.probs.strides[0]) + ", " +
                fmt::format("{}", a.probs.strides[1]) + ", -1, 1]");
  a = c.args;
  a.probs.strides[3] = 2;
  EXPECT_EQ((*kernel)->run(a).message(),
            "probs: the key stride (the last) must be 1, got 2");
  a = c.args;
  a.probs.strides[1] = 1;
  EXPECT_EQ((*kernel)->run(a).message(),
            "probs: sizes [1, 2, 3, 4] with strides [" + fmt::format("{}", a.probs.strides[0]) +
                ", 1, " + fmt::format("{}", a.probs.strides[2]) +
                ", 1] may make elements share memory; an output's elements need their "
                "own (ordered by stride, each stride at least what the dimensions "
                "inside it span)");
  EXPECT_EQ((*kernel)->run(c.args, 1, 2).message(),
            "kvSplits: probs kernels do not split their keys (they write P from "
            "each row's final LSE; got 2)");
  // 2^15 queries x 2^14 keys x 2 heads: 2^30 elements, refused before
  // anything runs (the views repeat one row: strides 0).
  a = c.args;
  for (TensorView *t : {&a.q, &a.o})
    t->sizes[2] = int64_t(1) << 15, t->strides[2] = 0;
  for (TensorView *t : {&a.k, &a.v})
    t->sizes[2] = int64_t(1) << 14, t->strides[2] = 0;
  a.probs.sizes = {1, 2, int64_t(1) << 15, int64_t(1) << 14};
  a.probs.strides = {0, 0, 0, 1};
  EXPECT_EQ((*kernel)->run(a).message(),
            "probs: [1, 2, 32768, 16384] is 1073741824 elements, more than the "
            "268435456 (1 GiB of f32) a call writes; the probs output is for "
            "inspecting attention at small sizes (fewer heads, shorter sequences, "
            "or a slice of the batch)");
}

} // namespace
