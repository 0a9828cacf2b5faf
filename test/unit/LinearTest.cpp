// Linear attention (runtime/Linear.h, docs/linear.md) against its
// definition computed quadratically in float64: every feature map, with
// and without normalisation, no mask and causal in both alignments, GQA,
// odd sizes; the chunked form equals the recurrent one over a long
// sequence; a state carries a sequence across calls; every rejection.
#include "LinearDefinition.h"
#include "TestUtil.h"

#include "runtime/Linear.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

using namespace attnc;
using attnc::test::Call;
using attnc::test::compare;
using attnc::test::definition;
using attnc::test::random;

namespace {

StatusOr<LinearKernel> kernelOf(const std::string &text) {
  auto ir = KernelIr::parse(text, "<linear>");
  if (!ir.ok())
    return ir.status();
  return LinearKernel::create(*ir);
}

TEST(Linear, MatchesItsDefinitionInFloat64) {
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed);
  const char *maps[] = {"elu1", "relu", "identity"};
  const char *masks[] = {"#attn.mask<none>", "#attn.mask<causal, top_left>",
                         "#attn.mask<causal, bottom_right>"};
  const std::pair<int64_t, int64_t> shapes[] = {{1, 1}, {17, 113}, {113, 17}, {300, 300}};
  int cases = 0;
  // Every feature map x mask x normalisation, except identity normalised
  // (its denominators can be near 0 or negative: the floor dominates, which
  // would make the tolerance meaningless); group, dims, chunk and shape
  // from the case number independently.
  for (int i = 0; i < 18; ++i) {
    const int map = i % 3, mask = i / 3 % 3;
    const bool normalize = i / 9 == 0 && map != 2;
    const int64_t kv = 1 + i % 2, qh = kv * (1 + (i / 2) % 3);
    const int64_t dk = i % 4 == 3 ? 17 : 32, dv = i % 5 == 4 ? 40 : dk;
    const std::string text = fmt::format(
        "attn.kernel @lin{} attributes {{q_heads = {}, kv_heads = {}, d_qk = {}, d_v = {}, "
        "element_type = f32, variant = #attn.variant<linear>, feature_map = "
        "#attn.feature_map<{}>, normalize = {}, mask = {}{}}}",
        i, qh, kv, dk, dv, maps[map], normalize ? "true" : "false", masks[mask],
        i % 4 == 1 ? ", schedule = #attn.schedule<block_n = 16>" : "");
    auto kernel = kernelOf(text);
    ASSERT_TRUE(kernel.ok()) << text << "\n" << kernel.status().message();
    const KernelSpec &s = kernel->spec();
    auto [seqQ, seqKv] = shapes[(i + i / 4) % 4];
    Call c(s, 2, seqQ, seqKv, rng);
    Status st = kernel->run(c.args, nullptr, i % 2 ? 1 : 0);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(compare(c.o, definition<double>(s, c.q, c.k, c.v, 2, seqQ, seqKv),
                      definition<float>(s, c.q, c.k, c.v, 2, seqQ, seqKv)),
              "")
        << "seed " << seed << ": " << text << " at " << seqQ << " x " << seqKv;
    ++cases;
  }
  std::printf("linear: %d cases, seed %llu\n", cases, static_cast<unsigned long long>(seed));
}

/// A custom feature map (the kernel's 'feature' region): softplus,
/// log(1 + e^x), which no built-in is, and elu + 1 written as a region,
/// which must give what the built-in gives. Both masks, with and without
/// normalisation, against the definition with phi written out in C++.
TEST(Linear, CustomFeatureMapMatchesItsDefinition) {
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed);
  const char *softplus = attnc::test::kSoftplusFeature;
  const char *elu1 = R"( feature {
    ^bb0(%x: f32):
      %zero = arith.constant 0.0 : f32
      %one = arith.constant 1.0 : f32
      %pos = arith.cmpf ogt, %x, %zero : f32
      %a = arith.addf %x, %one : f32
      %b = math.exp %x : f32
      %y = arith.select %pos, %a, %b : f32
      attn.yield %y : f32
    })";
  for (int i = 0; i < 8; ++i) {
    const bool causal = i % 2, normalize = i / 2 % 2, isSoftplus = i < 4;
    const std::string text = fmt::format(
        "attn.kernel @custom{} attributes {{q_heads = 4, kv_heads = 2, d_qk = 17, "
        "element_type = f32, variant = #attn.variant<linear>, feature_map = "
        "#attn.feature_map<custom>, normalize = {}, mask = {}{}}}{}",
        i, normalize ? "true" : "false",
        causal ? "#attn.mask<causal, bottom_right>" : "#attn.mask<none>",
        i % 4 == 3 ? ", schedule = #attn.schedule<block_n = 16>" : "",
        isSoftplus ? softplus : elu1);
    auto kernel = kernelOf(text);
    ASSERT_TRUE(kernel.ok()) << text << "\n" << kernel.status().message();
    const KernelSpec &s = kernel->spec();
    ASSERT_EQ(s.featureMap, FeatureMap::Custom);
    const int64_t seqQ = causal ? 113 : 17, seqKv = 113;
    Call c(s, 2, seqQ, seqKv, rng);
    Status st = kernel->run(c.args, nullptr, i % 3 ? 1 : 0);
    ASSERT_TRUE(st.ok()) << st.message();
    auto phi = [&](auto x) -> decltype(x) {
      if (isSoftplus)
        return std::log1p(std::exp(x));
      return x > 0 ? x + 1 : std::exp(x);
    };
    EXPECT_EQ(compare(c.o,
                      definition<double>(s, c.q, c.k, c.v, 2, seqQ, seqKv, 0,
                                         [&](double x) { return phi(x); }),
                      definition<float>(s, c.q, c.k, c.v, 2, seqQ, seqKv, 0,
                                        [&](float x) { return phi(x); })),
              "")
        << "seed " << seed << ": " << text;
    if (!isSoftplus) { // the same as the built-in elu1, to rounding
      std::string builtIn = text.substr(0, text.find(" feature {"));
      builtIn.replace(builtIn.find("#attn.feature_map<custom>"),
                      std::string("#attn.feature_map<custom>").size(),
                      "#attn.feature_map<elu1>");
      auto reference = kernelOf(builtIn);
      ASSERT_TRUE(reference.ok()) << builtIn << "\n" << reference.status().message();
      std::vector<float> region = c.o;
      ASSERT_TRUE(reference->run(c.args).ok());
      for (size_t e = 0; e < region.size(); ++e)
        ASSERT_NEAR(region[e], c.o[e], 1e-6 * (1 + std::abs(c.o[e]))) << builtIn;
    }
  }
}

/// The chunked causal form (one call, chunks of 64) and the recurrent one
/// (a call a token, carrying the state) over 2049 tokens.
TEST(Linear, ChunkedEqualsRecurrentOverALongSequence) {
  std::mt19937_64 rng(attnc::test::testSeed() ^ 0x11);
  auto kernel = kernelOf(
      "attn.kernel @causal attributes {q_heads = 4, kv_heads = 2, d_qk = 32, d_v = 24, "
      "element_type = f32, variant = #attn.variant<linear>, mask = #attn.mask<causal, "
      "bottom_right>}");
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  const KernelSpec &s = kernel->spec();
  const int64_t n = 2049;
  Call whole(s, 1, n, n, rng);
  ASSERT_TRUE(kernel->run(whole.args).ok());
  std::vector<float> S(s.kvHeads * s.dQk * s.dV, 0.f), z(s.kvHeads * s.dQk, 0.f);
  LinearState state{denseView(S.data(), Layout::BHSD, 1, s.dQk, s.kvHeads, s.dV),
                    denseView(z.data(), Layout::BHSD, 1, 1, s.kvHeads, s.dQk)};
  std::vector<float> step(whole.o.size());
  for (int64_t t = 0; t < n; ++t) {
    AttentionArgs a = whole.args;
    for (TensorView *view : {&a.q, &a.k, &a.v})
      view->data = static_cast<float *>(view->data) + t * view->strides[2];
    a.o = denseView(step.data(), Layout::BHSD, 1, n, s.qHeads, s.dV);
    a.o.data = step.data() + t * a.o.strides[2];
    for (TensorView *view : {&a.q, &a.k, &a.v, &a.o})
      view->sizes[2] = 1;
    Status st = kernel->run(a, &state);
    ASSERT_TRUE(st.ok()) << st.message();
  }
  double apart = 0;
  for (size_t e = 0; e < step.size(); ++e)
    apart = std::max(apart, double(std::abs(step[e] - whole.o[e])));
  EXPECT_LE(apart, 1e-5) << "chunked and recurrent forms differ by " << apart;
  // Both against the definition in float64.
  EXPECT_EQ(compare(whole.o, definition<double>(s, whole.q, whole.k, whole.v, 1, n, n),
                    definition<float>(s, whole.q, whole.k, whole.v, 1, n, n)),
            "");
}

/// A state carries a sequence across calls: 300 tokens, then 77 more with
/// the state, equal the last 77 rows of one call over 377.
TEST(Linear, StateCarriesASequenceAcrossCalls) {
  std::mt19937_64 rng(attnc::test::testSeed() ^ 0x22);
  auto kernel = kernelOf(
      "attn.kernel @causal attributes {q_heads = 2, d_qk = 16, element_type = f32, variant "
      "= #attn.variant<linear>, feature_map = #attn.feature_map<relu>, mask = "
      "#attn.mask<causal, bottom_right>}");
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  const KernelSpec &s = kernel->spec();
  Call whole(s, 2, 377, 377, rng);
  ASSERT_TRUE(kernel->run(whole.args).ok());
  std::vector<float> S(2 * s.kvHeads * s.dQk * s.dV, 0.f), z(2 * s.kvHeads * s.dQk, 0.f),
      o(whole.o.size());
  LinearState state{denseView(S.data(), Layout::BHSD, 2, s.dQk, s.kvHeads, s.dV),
                    denseView(z.data(), Layout::BHSD, 2, 1, s.kvHeads, s.dQk)};
  for (auto [first, count] : {std::pair<int64_t, int64_t>{0, 300}, {300, 77}}) {
    AttentionArgs a = whole.args;
    a.o.data = o.data();
    for (TensorView *view : {&a.q, &a.k, &a.v, &a.o}) {
      view->data = static_cast<float *>(view->data) + first * view->strides[2];
      view->sizes[2] = count;
    }
    Status st = kernel->run(a, &state);
    ASSERT_TRUE(st.ok()) << st.message();
  }
  double apart = 0;
  for (size_t e = 0; e < o.size(); ++e)
    apart = std::max(apart, double(std::abs(o[e] - whole.o[e])));
  EXPECT_LE(apart, 1e-5);
}

/// A state holding earlier keys, against the definition with those keys
/// first: both alignments, seq_q != seq_kv (rows that see none of the
/// call's keys included), GQA, batch 2.
TEST(Linear, StateMatchesTheDefinitionWithItsKeysFirst) {
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed ^ 0x33);
  for (const char *align : {"top_left", "bottom_right"})
    for (auto [seqQ, seqKv] : {std::pair<int64_t, int64_t>{40, 25}, {25, 40}}) {
      auto kernel = kernelOf(fmt::format(
          "attn.kernel @state attributes {{q_heads = 4, kv_heads = 2, d_qk = 16, d_v = 8, "
          "element_type = f32, variant = #attn.variant<linear>, mask = "
          "#attn.mask<causal, {}>, schedule = #attn.schedule<block_n = 16>}}",
          align));
      ASSERT_TRUE(kernel.ok()) << kernel.status().message();
      const KernelSpec &s = kernel->spec();
      const int64_t B = 2, prior = 30;
      // The earlier keys go into the state through a call of their own
      // (bottom-right: its rows see them all; its output is not checked).
      auto first = kernelOf(
          "attn.kernel @first attributes {q_heads = 4, kv_heads = 2, d_qk = 16, d_v = 8, "
          "element_type = f32, variant = #attn.variant<linear>, mask = "
          "#attn.mask<causal, bottom_right>}");
      ASSERT_TRUE(first.ok());
      Call earlier(s, B, prior, prior, rng);
      std::vector<float> S(B * 2 * 16 * 8, 0.f), z(B * 2 * 16, 0.f);
      LinearState state{denseView(S.data(), Layout::BHSD, B, 16, 2, 8),
                        denseView(z.data(), Layout::BHSD, B, 1, 2, 16)};
      ASSERT_TRUE(first->run(earlier.args, &state).ok());
      Call c(s, B, seqQ, seqKv, rng);
      Status st = kernel->run(c.args, &state);
      ASSERT_TRUE(st.ok()) << st.message();
      // k and v with the earlier keys first, per (batch, kv head).
      const std::vector<float> k = attnc::test::concatKeys(
                                   {{&earlier.k, prior}, {&c.k, seqKv}}, B, 2, 16),
                               v = attnc::test::concatKeys(
                                   {{&earlier.v, prior}, {&c.v, seqKv}}, B, 2, 8);
      EXPECT_EQ(compare(c.o, definition<double>(s, c.q, k, v, B, seqQ, seqKv, prior),
                        definition<float>(s, c.q, k, v, B, seqQ, seqKv, prior)),
                "")
          << "seed " << seed << ": " << align << " " << seqQ << " x " << seqKv;
    }
}

TEST(Linear, BadKernelsAndCallsAreNamed) {
  std::mt19937_64 rng(attnc::test::testSeed());
  EXPECT_EQ(kernelOf("attn.kernel @soft attributes {q_heads = 2, d_qk = 8, element_type = "
                     "f32}").status().message(),
            "kernel @soft is softmax attention; LinearKernel runs variant = linear");
  EXPECT_EQ(kernelOf("attn.kernel @half attributes {q_heads = 2, d_qk = 8, element_type = "
                     "f16, variant = #attn.variant<linear>}").status().message(),
            "kernel @half: linear attention runs f32 tensors for now, got element_type f16 "
            "and kv_element_type f16");
  EXPECT_EQ(kernelOf("attn.kernel @paged attributes {q_heads = 2, d_qk = 8, element_type = "
                     "f32, variant = #attn.variant<linear>, layout = #attn.layout<paged>}")
                .status()
                .message(),
            "kernel @paged: linear attention takes layout bshd or bhsd for now, got paged");
  auto plain = kernelOf(attnc::test::kPlainLinear);
  auto causal = kernelOf(attnc::test::kCausalLinear);
  ASSERT_TRUE(plain.ok() && causal.ok());
  Call c(plain->spec(), 1, 5, 5, rng);
  attnc::test::expectStateErrors(
      [&](const AttentionArgs &a, const LinearState *st) { return plain->run(a, st); },
      [&](const AttentionArgs &a, const LinearState *st) { return causal->run(a, st); }, c);
  AttentionArgs wrong = c.args;
  wrong.o.sizes[3] = 7;
  EXPECT_EQ(causal->run(wrong).message(), "o: head dim is 7, but the kernel has d_v = 8");
  wrong = c.args;
  wrong.o.data = c.v.data();
  EXPECT_EQ(causal->run(wrong).message(),
            "o overlaps v; linear attention writes o while it reads v");
  wrong = c.args;
  wrong.o.strides[1] = 0;
  EXPECT_NE(causal->run(wrong).message().find("o: sizes [1, 2, 5, 8] with strides"),
            std::string::npos);
}

} // namespace
