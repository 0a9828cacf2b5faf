// The probs output on the CUDA backend (the second pass after the fused
// one in FlashForward.cuh.inc), executed by the SIMT emulator with every
// access checked: P against the float64 softmax (Reference.cpp compares P
// with O and LSE) for built-in and custom masks, GQA, both half types and
// block masks; mutants of the pass that must fail.
#include "RandomKernels.h"
#include "SequenceCases.h"
#include "SimtTestUtil.h"
#include "TestUtil.h"

#include "runtime/BlockMask.h"
#include "runtime/KernelCache.h"
#include "runtime/Reference.h"
#include "runtime/cuda/SimtKernel.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <limits>

using namespace attnc;
using attnc::test::Buffer;

namespace {

/// One call of `s` from f32 host tensors with a probs buffer (padded, NaN
/// outside the view); `run` runs it. Returns what failed ("" if passed).
std::string probsCall(const KernelSpec &s, int64_t batch, int64_t seqQ, int64_t seqKv,
                      std::mt19937_64 &rng,
                      const std::function<Status(const AttentionArgs &)> &run) {
  Buffer q(s.layout, batch, seqQ, s.qHeads, s.dQk, false, rng),
      k(s.layout, batch, seqKv, s.kvHeads, s.dQk, false, rng),
      v(s.layout, batch, seqKv, s.kvHeads, s.dV, false, rng),
      o(s.layout, batch, seqQ, s.qHeads, s.dV, false, rng),
      p(Layout::BHSD, batch, seqQ, s.qHeads, seqKv, true, rng);
  p.fill(std::numeric_limits<float>::quiet_NaN());
  std::vector<float> lse(batch * s.qHeads * seqQ);
  AttentionArgs a{q.view, k.view, v.view, o.view, {}};
  if (s.lse)
    a.lse = lseView(lse.data(), batch, s.qHeads, seqQ);
  a.probs = p.view;
  std::vector<int32_t> shift;
  std::vector<float> bias;
  for (const InputDecl &d : s.inputs) // the regions kernel's [batch] inputs
    if (d.type == DType::I32) {
      for (int64_t i = 0; i < batch; ++i)
        shift.push_back(static_cast<int32_t>(attnc::test::regions::uniform(rng, -3, 20)));
      a.inputs.push_back({d.name, shift.data(), DType::I32, {batch}, {1}});
    } else {
      for (int64_t i = 0; i < batch; ++i)
        bias.push_back(std::uniform_real_distribution<float>(-0.05f, 0.05f)(rng));
      a.inputs.push_back({d.name, bias.data(), DType::F32, {batch}, {1}});
    }
  BlockMask blocks;
  if (s.blockQ > 0) {
    blocks = attnc::test::regions::randomBlockMask(rng, s, batch, seqQ, seqKv, 0.6);
    a.blockMask = blocks.args();
  }
  Status st = run(a);
  if (!st.ok())
    return st.message();
  Comparison c = compareWithReference(s, a);
  const int64_t outside = p.touchedOutsideView();
  if (c.passed() && outside == 0)
    return "";
  return fmt::format("{}x{}: P error {:.3g} (tol {:.3g}), O error {:.3g} (tol {:.3g}), "
                     "NaN missing {}, non-finite {}, writes outside {}",
                     seqQ, seqKv, c.probsError, c.probsTolerance, c.maxError,
                     c.tolerance, c.nanMissing, c.nonFinite, outside);
}

std::vector<std::string> specs() {
  return {
      "attn.kernel @causal attributes {q_heads = 4, kv_heads = 2, d_qk = 64, element_type "
      "= f16, lse = true, probs = true, mask = #attn.mask<causal, bottom_right>}",
      "attn.kernel @window attributes {q_heads = 2, d_qk = 40, d_v = 72, element_type = "
      "bf16, probs = true, softcap = 20.0, mask = #attn.mask<sliding_window, left = 30, "
      "right = 5, bottom_right>, schedule = #attn.schedule<warps = 2, block_n = 32, stages = 3>}",
      "attn.kernel @sparse attributes {q_heads = 2, d_qk = 64, element_type = f16, probs = "
      "true, block_sparse = #attn.block_sparse<block_q = 64, block_kv = 64>}",
      attnc::test::sequences::regionSpec("regions", "bshd", "f16"),
  };
}

TEST(SimtProbs, MatchTheFloat64Softmax) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed);
  KernelCache cache({"", /*disk=*/false});
  const std::pair<int64_t, int64_t> shapes[] = {{1, 1}, {17, 113}, {70, 45}};
  for (std::string text : specs()) {
    if (text.find("@regions") != std::string::npos) // probs on the regions kernel
      text.replace(text.find("lse = true"), 10, "lse = true, probs = true");
    auto ir = KernelIr::parse(text, "<test>");
    ASSERT_TRUE(ir.ok()) << text << "\n" << ir.status().message();
    auto kernel = cache.get(*ir, cuda::SimtBackend());
    ASSERT_TRUE(kernel.ok()) << text << "\n" << kernel.status().message();
    auto simt = std::static_pointer_cast<const cuda::SimtKernel>(*kernel);
    for (auto [seqQ, seqKv] : shapes)
      EXPECT_EQ(probsCall(simt->spec(), 2, seqQ, seqKv, rng,
                          [&](const AttentionArgs &a) {
                            return cuda::simtRunFromHost(*simt, a);
                          }),
                "")
          << "seed " << seed << ": " << text;
  }
}

/// The pass's zero fill and its exponent are what the test checks.
TEST(SimtProbs, MutatedPassFailsTheCheck) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  std::mt19937_64 rng(attnc::test::testSeed() ^ 0x9b);
  struct Mutant {
    const char *from, *to;
  } mutants[] = {
      {"store_prob(p, b, h, row, col, 0.f);", ";"},
      {"exp2f(fminf(d, 0.f))", "exp2f(fminf(d, 0.f) * 0.5f)"},
  };
  for (const Mutant &m : mutants) {
    auto mutant = attnc::test::simt::mutantKernel(specs()[0], m.from, m.to);
    ASSERT_TRUE(mutant.ok()) << mutant.status().message();
    const cuda::SimtKernel &kernel = **mutant;
    // 150 queries over 70 keys, bottom-right: the first CTA sees no key and
    // visits no tile, so only the zero fill writes its rows.
    EXPECT_NE(probsCall(kernel.spec(), 1, 150, 70, rng,
                        [&](const AttentionArgs &a) { return cuda::simtRunFromHost(kernel, a); }),
              "")
        << "mutant '" << m.to << "' passed";
  }
}

} // namespace
