// The probs output on the CUDA backend (the second pass after the fused
// one in FlashForward.cuh.inc), executed by the SIMT emulator with every
// access checked: P against the float64 softmax (Reference.cpp compares P
// with O and LSE) for built-in and custom masks, GQA, both half types and
// block masks; mutants of the pass that must fail.
#include "CudaProbsCases.h"
#include "SimtTestUtil.h"
#include "TestUtil.h"

#include "runtime/BlockMask.h"
#include "runtime/Infini.h"
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
      // The pass's synchronisation: the emulator reports the race or the
      // stale cp.async read.
      {"__syncthreads(); // every warp is done with stage 0", ";"},
      {"(sK, gk, n0, p.seq_kv);\n      cp_async_commit();\n      cp_async_wait<0>();",
       "(sK, gk, n0, p.seq_kv);\n      cp_async_commit();"},
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

/// A launch over "device" memory checks the f32 outputs' alignment (a
/// misaligned scalar store would fault on a GPU).
TEST(SimtProbs, MisalignedOutputsAreNamed) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  KernelCache cache({"", /*disk=*/false});
  auto ir = KernelIr::parse(specs()[0], "<test>");
  ASSERT_TRUE(ir.ok());
  auto kernel = cache.get(*ir, cuda::SimtBackend());
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  alignas(16) static uint16_t q[4 * 8 * 64], kv[2 * 8 * 64], o[4 * 8 * 64];
  alignas(16) static float lse[4 * 8], probs[4 * 8 * 8 + 1];
  auto view = [](uint16_t *data, int64_t heads) {
    TensorView t = denseView(nullptr, Layout::BSHD, 1, 8, heads, 64);
    t.data = data;
    t.dtype = DType::F16;
    return t;
  };
  AttentionArgs a{view(q, 4), view(kv, 2), view(kv, 2), view(o, 4),
                  lseView(lse, 1, 4, 8)};
  a.probs = probsView(probs, 1, 4, 8, 8);
  a.probs.data = reinterpret_cast<char *>(probs) + 2;
  EXPECT_EQ((*kernel)->launch(a, {}).message(),
            "probs: the address must be 4-byte aligned (f32) for the cuda backend");
  a.probs.data = probs;
  a.lse.data = reinterpret_cast<char *>(lse) + 1;
  EXPECT_EQ((*kernel)->launch(a, {}).message(),
            "lse: the address must be 4-byte aligned (f32) for the cuda backend");
}

/// Infini-attention's memory loops run on the host right after the local
/// kernel: a CUDA kernel (here the emulated one) is refused by name.
TEST(SimtProbs, InfiniRefusesACudaKernel) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  KernelCache cache({"", /*disk=*/false});
  auto ir = KernelIr::parse("attn.kernel @local attributes {q_heads = 2, d_qk = 64, "
                            "element_type = f16, mask = #attn.mask<causal, bottom_right>}",
                            "<test>");
  ASSERT_TRUE(ir.ok());
  auto kernel = cache.get(*ir, cuda::SimtBackend());
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  EXPECT_EQ(infiniAttention(**kernel, InfiniArgs{}).message(),
            "infini: kernel @local must be a cpu kernel (the memory's retrieval and "
            "update run on the host)");
}

} // namespace
