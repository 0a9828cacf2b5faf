// The CUDA linear-attention kernel (compiler/Target/CUDA/LinearKernel.cuh.inc)
// under the SIMT emulator, every access checked, against linear attention's
// definition in float64 (LinearDefinition.h) under FlashAttention's rule:
// each feature map (a custom region included), with and without
// normalisation, no mask and causal in both alignments, GQA, odd head dims
// and lengths, d_v over one CTA's 32 columns, chunks of 16 and 32; and the
// CUDA kernel's own limits.
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
