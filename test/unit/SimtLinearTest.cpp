// The CUDA linear-attention kernel (compiler/Target/CUDA/LinearKernel.cuh.inc)
// under the SIMT emulator, every access checked, against linear attention's
// definition in float64 (LinearDefinition.h) under FlashAttention's rule:
// each feature map (a custom region included), with and without
// normalisation, no mask and causal in both alignments, GQA, odd head dims
// and lengths, d_v over one CTA's 32 columns, chunks of 16 and 32; the
// recurrent state against the definition and the CPU kernel's state; and
// the CUDA kernel's own limits.
#include "LinearDefinition.h"
#include "SimtTestUtil.h"
#include "TestUtil.h"

#include "runtime/cuda/CudaLinear.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace attnc;
using attnc::test::Call;
using attnc::test::compare;
using attnc::test::definition;

namespace {

StatusOr<cuda::CudaLinear> kernelOf(const std::string &text) {
  auto ir = KernelIr::parse(text, "<linear>");
  if (!ir.ok())
    return ir.status();
  return cuda::CudaLinear::create(*ir);
}

TEST(SimtLinear, MatchesItsDefinitionInFloat64) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed);
  const char *maps[] = {"elu1", "relu", "identity", "custom"};
  const char *masks[] = {"#attn.mask<none>", "#attn.mask<causal, top_left>",
                         "#attn.mask<causal, bottom_right>"};
  const std::pair<int64_t, int64_t> shapes[] = {{1, 1}, {17, 113}, {113, 17}, {70, 70}};
  int cases = 0;
  for (int i = 0; i < 12; ++i) {
    const int map = i % 4, mask = i % 3;
    const bool normalize = map != 2 && i / 4 % 2 == 0;
    const int64_t kv = 1 + i % 2, qh = kv * (1 + i / 3 % 2 * 2);
    const int64_t dk = i % 3 == 1 ? 17 : 32, dv = i % 4 == 1 ? 40 : dk;
    const std::string text = fmt::format(
        "attn.kernel @lin{} attributes {{q_heads = {}, kv_heads = {}, d_qk = {}, d_v = {}, "
        "element_type = f32, variant = #attn.variant<linear>, feature_map = "
        "#attn.feature_map<{}>, normalize = {}, mask = {}{}}}{}",
        i, qh, kv, dk, dv, maps[map], normalize ? "true" : "false", masks[mask],
        i % 5 == 2 ? ", schedule = #attn.schedule<block_n = 16>" : "",
        map == 3 ? attnc::test::kSoftplusFeature : "");
    auto kernel = kernelOf(text);
    ASSERT_TRUE(kernel.ok()) << text << "\n" << kernel.status().message();
    const KernelSpec &s = kernel->spec();
    auto [seqQ, seqKv] = shapes[i / 3]; // every mask meets every shape
    Call c(s, 2, seqQ, seqKv, rng);
    Status st = kernel->runSimt(c.args);
    ASSERT_TRUE(st.ok()) << text << "\n" << st.message();
    auto softplus = [](auto x) -> decltype(x) { return std::log1p(std::exp(x)); };
    EXPECT_EQ(compare(c.o,
                      definition<double>(s, c.q, c.k, c.v, 2, seqQ, seqKv, 0,
                                         [&](double x) { return softplus(x); }),
                      definition<float>(s, c.q, c.k, c.v, 2, seqQ, seqKv, 0,
                                        [&](float x) { return softplus(x); })),
              "")
        << "seed " << seed << ": " << text << " at " << seqQ << " x " << seqKv;
    ++cases;
  }
  std::printf("simt linear: %d cases, seed %llu\n", cases,
              static_cast<unsigned long long>(seed));
}

/// The recurrent state on the CUDA kernel: a sequence fed through five
/// calls (a prompt, one-token decode steps, and a call with more queries
/// than keys, whose first rows see only the state), each call's output
/// against the definition in float64 over every key so far, and S and z
/// after each call against LinearKernel's with its own state. Both
/// alignments, GQA, d_v over two and three slices of 32 columns (one CTA
/// a (batch, kv head) runs them all), a custom map, chunks of 16.
TEST(SimtLinear, RecurrentStateMatchesTheDefinitionAndTheCpu) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed ^ 0x51);
  const std::pair<int64_t, int64_t> calls[] = {{23, 23}, {1, 1}, {5, 2}, {1, 1}, {9, 9}};
  auto softplus = [](auto x) -> decltype(x) { return std::log1p(std::exp(x)); };
  for (int i = 0; i < 4; ++i) {
    const int64_t dk = i % 2 ? 17 : 32, dv = i < 2 ? 40 : 72, B = 2;
    const std::string text = fmt::format(
        "attn.kernel @rec{} attributes {{q_heads = 4, kv_heads = 2, d_qk = {}, d_v = {}, "
        "element_type = f32, variant = #attn.variant<linear>, feature_map = "
        "#attn.feature_map<{}>, mask = #attn.mask<causal, {}>{}}}{}",
        i, dk, dv, i == 3 ? "custom" : "elu1", i % 2 ? "top_left" : "bottom_right",
        i == 2 ? ", schedule = #attn.schedule<block_n = 16>" : "",
        i == 3 ? attnc::test::kSoftplusFeature : "");
    auto ir = KernelIr::parse(text, "<linear>");
    ASSERT_TRUE(ir.ok()) << ir.status().message();
    auto gpu = cuda::CudaLinear::create(*ir);
    auto cpu = LinearKernel::create(*ir);
    ASSERT_TRUE(gpu.ok() && cpu.ok()) << text;
    const KernelSpec &s = gpu->spec();
    std::vector<float> S[2], z[2]; // [0]: the CUDA kernel's, [1]: the CPU's
    LinearState state[2];
    for (int t = 0; t < 2; ++t) {
      S[t].assign(B * 2 * dk * dv, 0.f);
      z[t].assign(B * 2 * dk, 0.f);
      state[t] = {denseView(S[t].data(), Layout::BHSD, B, dk, 2, dv),
                  denseView(z[t].data(), Layout::BHSD, B, 1, 2, dk)};
    }
    std::vector<float> keys, values; // every key so far, BHSD-packed
    int64_t prior = 0;
    for (auto [seqQ, seqKv] : calls) {
      Call c(s, B, seqQ, seqKv, rng);
      Status st = gpu->runSimt(c.args, &state[0]);
      ASSERT_TRUE(st.ok()) << text << "\n" << st.message();
      std::vector<float> cpuO(c.o.size());
      AttentionArgs onCpu = c.args;
      onCpu.o.data = cpuO.data();
      ASSERT_TRUE(cpu->run(onCpu, &state[1]).ok());
      const std::vector<float> k = attnc::test::concatKeys({{&keys, prior}, {&c.k, seqKv}},
                                                           B, 2, dk),
                               v = attnc::test::concatKeys(
                                   {{&values, prior}, {&c.v, seqKv}}, B, 2, dv);
      EXPECT_EQ(compare(c.o,
                        definition<double>(s, c.q, k, v, B, seqQ, seqKv, prior,
                                           [&](double x) { return softplus(x); }),
                        definition<float>(s, c.q, k, v, B, seqQ, seqKv, prior,
                                          [&](float x) { return softplus(x); })),
                "")
          << "seed " << seed << ": " << text << " after " << prior << " keys, call "
          << seqQ << " x " << seqKv;
      for (int t = 0; t < 2; ++t) {
        const std::vector<float> &got = t ? z[0] : S[0], &want = t ? z[1] : S[1];
        for (size_t e = 0; e < got.size(); ++e)
          ASSERT_NEAR(got[e], want[e], 1e-4 * (1 + std::abs(want[e])))
              << "seed " << seed << ": " << text << (t ? " z " : " S ") << e
              << " after " << prior + seqKv << " keys";
      }
      keys = k;
      values = v;
      prior += seqKv;
    }
  }
}

TEST(SimtLinear, StateCallsAreCheckedLikeTheCpus) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  std::mt19937_64 rng(attnc::test::testSeed());
  auto plain = kernelOf(attnc::test::kPlainLinear);
  auto causal = kernelOf(attnc::test::kCausalLinear);
  ASSERT_TRUE(plain.ok() && causal.ok());
  Call c(plain->spec(), 1, 5, 5, rng);
  // The emulator's runs, and the GPU launch (its checks come first).
  attnc::test::expectStateErrors(
      [&](const AttentionArgs &a, const LinearState *st) { return plain->runSimt(a, st); },
      [&](const AttentionArgs &a, const LinearState *st) { return causal->runSimt(a, st); },
      c);
  attnc::test::expectStateErrors(
      [&](const AttentionArgs &a, const LinearState *st) { return plain->launch(a, st); },
      [&](const AttentionArgs &a, const LinearState *st) { return causal->launch(a, st); },
      c);
  std::vector<float> z(2 * 8);
  // One CTA a (batch, kv head) with a state, a slice of 32 v columns each
  // without.
  auto wide = kernelOf("attn.kernel @wide attributes {q_heads = 2, d_qk = 8, d_v = 72, "
                       "element_type = f32, variant = #attn.variant<linear>, mask = "
                       "#attn.mask<causal, top_left>}");
  ASSERT_TRUE(wide.ok());
  Call w(wide->spec(), 1, 5, 5, rng);
  std::vector<float> wideS(2 * 8 * 72);
  LinearState wideState{denseView(wideS.data(), Layout::BHSD, 1, 8, 2, 72),
                        denseView(z.data(), Layout::BHSD, 1, 1, 2, 8)};
  EXPECT_EQ(wide->grid(w.args), (std::array<unsigned, 3>{2, 3, 1}));
  EXPECT_EQ(wide->grid(w.args, &wideState), (std::array<unsigned, 3>{2, 1, 1}));
}

TEST(SimtLinear, LimitsAreNamed) {
  auto half = kernelOf("attn.kernel @half attributes {q_heads = 2, d_qk = 8, element_type "
                       "= f16, variant = #attn.variant<linear>}");
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.status().message().find("linear attention runs f32 tensors for now"),
            std::string::npos)
      << half.status().message();
  auto wide = kernelOf("attn.kernel @wide attributes {q_heads = 2, d_qk = 256, element_type "
                       "= f32, variant = #attn.variant<linear>, mask = #attn.mask<causal, "
                       "top_left>, schedule = #attn.schedule<block_n = 64>}");
  ASSERT_FALSE(wide.ok());
  EXPECT_NE(wide.status().message().find(
                "linear attention with d_qk 256 and chunk (block_n) 64 needs 111616 bytes "
                "of shared memory a CTA; the cuda kernel allows 49152 (choose a smaller "
                "block_n)"),
            std::string::npos)
      << wide.status().message();
  auto soft = kernelOf("attn.kernel @soft attributes {q_heads = 2, d_qk = 8, element_type = "
                       "f32}");
  ASSERT_FALSE(soft.ok());
  EXPECT_EQ(soft.status().message(),
            "kernel @soft is softmax attention; LinearKernel runs variant = linear");
}

} // namespace
