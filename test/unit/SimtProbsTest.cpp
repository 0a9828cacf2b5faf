// The probs output on the CUDA backend (the second pass after the fused
// one in FlashForward.cuh.inc), executed by the SIMT emulator with every
// access checked: P against the float64 softmax (Reference.cpp compares P
// with O and LSE) for built-in and custom masks, GQA, both half types and
// block masks; mutants of the pass that must fail.
#include "CudaProbsCases.h"
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
using namespace attnc::test::probs;

namespace {

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
