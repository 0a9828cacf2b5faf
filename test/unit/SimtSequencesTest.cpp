// Varlen batches and paged KV caches on the CUDA backend, executed by the
// SIMT emulator (the kernel text NVRTC gets, with every emulator check on)
// through simtRunFromHost: random packed batches and random page layouts
// (page sizes from 1, shuffled pages, both table forms, ragged and dense
// queries, zero lengths), regions and block masks per sequence, appends,
// against the float64 reference under FlashAttention's same-dtype rule,
// each sequence on its own; and mutants of the sequence code that must fail.
#include "RandomKernels.h"
#include "CudaSequenceCalls.h"
#include "SimtTestUtil.h"
#include "TestUtil.h"

#include "runtime/BlockMask.h"
#include "runtime/KernelCache.h"
#include "runtime/Reference.h"
#include "runtime/cuda/SimtKernel.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace attnc;
using attnc::test::Buffer;
using namespace attnc::test::sequences;

namespace {


StatusOr<std::shared_ptr<const cuda::SimtKernel>> compileSimt(KernelCache &cache,
                                                              const std::string &text) {
  auto ir = KernelIr::parse(text, "<test>");
  if (!ir.ok())
    return ir.status();
  auto kernel = cache.get(*ir, cuda::SimtBackend());
  if (!kernel.ok())
    return kernel.status();
  return std::static_pointer_cast<const cuda::SimtKernel>(*kernel);
}


Run fromHost(const cuda::SimtKernel &kernel) {
  return [&kernel](const AttentionArgs &a) { return cuda::simtRunFromHost(kernel, a); };
}

TEST(SimtSequences, RandomVarlenAndPagedCallsMatchFloat64Reference) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed ^ 0x5e9);
  KernelCache cache({"", /*disk=*/false});
  const auto specs = cudaSequenceSpecs(rng);
  int cases = 0;
  for (const auto &[text, sparse] : specs) {
    auto kernel = compileSimt(cache, text);
    ASSERT_TRUE(kernel.ok()) << text << "\n" << kernel.status().message();
    for (int n = 0; n < 3; ++n, ++cases) {
      std::string failed = runRandomCall((*kernel)->spec(), fromHost(**kernel), rng, sparse);
      EXPECT_EQ(failed, "") << "seed " << seed << ": " << text;
    }
  }
  std::printf("cuda-sim sequences: %d calls of %zu kernels, seed %llu\n", cases,
              specs.size(), static_cast<unsigned long long>(seed));
}

/// k_new/v_new through the emulated backend: the caller's pools get the
/// new rows (rounded to the element type), nothing else in them changes,
/// and attention sees them.
TEST(SimtSequences, AppendsReachTheCallersPools) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed ^ 0xa99);
  KernelCache cache({"", /*disk=*/false});
  auto kernel = compileSimt(cache, kAppendSpec);
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  checkAppends((*kernel)->spec(), fromHost(**kernel), seed, rng);
}

/// The sequence code the tests above pass is what they check: a kernel
/// whose paged rows read the wrong slot, whose varlen keys start at
/// sequence 0's, whose b is not the sequence's index, whose lse is not
/// moved to the sequence, or whose q keeps its batch stride fails them.
/// The kernel is the regions one, so that b (its [batch] inputs) and lse
/// matter.
TEST(SimtSequences, MutatedSequenceCodeFailsTheCheck) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  std::mt19937_64 rng(attnc::test::testSeed() ^ 0x3a7);
  struct Mutant {
    const char *layout, *from, *to;
  } mutants[] = {
      {"paged", "(long long)(r % page_size) * slot_stride",
       "(long long)((r + 1) % page_size) * slot_stride"},
      {"varlen", "  p.k += kv_first * p.k_stride[2];\n", ""},
      {"varlen", "return load_global(row + SEQ_INDEX * p.sequences_stride[1]);",
       "return 0;"},
      {"paged", "  p.lse += q_batch * p.lse_stride[0] + q_first * p.lse_stride[2];\n", ""},
      {"paged", "p.q_stride[0] = p.o_stride[0] = 0;", "p.o_stride[0] = 0;"},
  };
  for (const Mutant &m : mutants) {
    auto mutant =
        attnc::test::simt::mutantKernel(regionSpec("mutant", m.layout, "f16"), m.from, m.to);
    ASSERT_TRUE(mutant.ok()) << mutant.status().message();
    const cuda::SimtKernel &kernel = **mutant;
    // Random calls until one fails: some calls cannot tell a mutant (one
    // sequence starting at row 0 moves nothing), so a fixed few could pass.
    int calls = 0;
    bool caught = false;
    while (!caught && calls < 16)
      caught = !runRandomCall(kernel.spec(), fromHost(kernel), rng).empty(), ++calls;
    EXPECT_TRUE(caught) << m.layout << " mutant '" << m.to << "' passed " << calls
                        << " calls (seed " << attnc::test::testSeed() << ")";
  }
}

/// The host-run entry point checks the caller's views before it reads,
/// sizes or rounds anything through them: a bad lse, a negative stride or
/// k_new inside the pool is refused by name, and q stays as it was.
TEST(SimtSequences, HostViewsAreCheckedBeforeStaging) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  std::mt19937_64 rng(attnc::test::testSeed() ^ 0x51a);
  KernelCache cache({"", /*disk=*/false});
  auto kernel = compileSimt(cache, "attn.kernel @hostile attributes {q_heads = 2, "
                                   "d_qk = 16, element_type = f16, lse = true, "
                                   "layout = #attn.layout<paged>}");
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  const KernelSpec &s = (*kernel)->spec();
  PagedLayout pages({5, 9}, 4, rng);
  Buffer k(Layout::BSHD, pages.numPages, 4, s.kvHeads, s.dQk, false, rng);
  Buffer v(Layout::BSHD, pages.numPages, 4, s.kvHeads, s.dV, false, rng);
  Buffer q(Layout::BSHD, 2, 3, s.qHeads, s.dQk, false, rng);
  Buffer o(Layout::BSHD, 2, 3, s.qHeads, s.dV, false, rng);
  Buffer kNew(Layout::BSHD, 2, 3, s.kvHeads, s.dQk, false, rng);
  std::vector<float> lse(2 * s.qHeads * 3);
  AttentionArgs good{q.view, k.view, v.view, o.view,
                     lseView(lse.data(), 2, s.qHeads, 3)};
  pages.bind(good.sequences, /*flashInfer=*/false);
  const std::vector<float> q0 = q.storage;
  struct Case {
    const char *what;
    std::function<void(AttentionArgs &)> spoil;
    const char *message;
  } cases[] = {
      {"lse one row short", [&](AttentionArgs &a) { a.lse = lseView(lse.data(), 2, s.qHeads, 2); },
       "lse: shape [2, 2, 2] must be [batch, q_heads, seq_q] = [2, 2, 3]"},
      {"lse in f16", [&](AttentionArgs &a) { a.lse.dtype = DType::F16; }, "lse: element type is f16, but LSE is f32"},
      {"q seq stride negative", [&](AttentionArgs &a) { a.q.strides[2] = -a.q.strides[2]; },
       "q: strides must be >= 0, got [96, 16, -32, 1]"},
      {"k_new inside the k pool", [&](AttentionArgs &a) {
         a.sequences.kNew = denseView(k.storage.data(), Layout::BSHD, 2, 3, s.kvHeads, s.dQk);
         a.sequences.vNew = kNew.view;
       }, "k_new: its memory overlaps the k pool; the new rows must be a buffer of "
       "their own"},
      {"k_new in f16", [&](AttentionArgs &a) {
         a.sequences.kNew = a.sequences.vNew = kNew.view;
         a.sequences.kNew.dtype = DType::F16;
       }, "simtRunFromHost runs from f32 host tensors (it rounds and converts "
       "them); got a f16 tensor for k_new"},
  };
  for (const Case &c : cases) {
    AttentionArgs a = good;
    c.spoil(a);
    EXPECT_EQ(cuda::simtRunFromHost(**kernel, a).message(), c.message) << c.what;
    EXPECT_EQ(q.storage, q0) << c.what << ": q was rounded before the refusal";
  }
  ASSERT_TRUE(cuda::simtRunFromHost(**kernel, good).ok());
  EXPECT_NE(q.storage, q0) << "the good call rounds q to f16 in place";
}

TEST(SimtSequences, LimitsAndDeviceMemoryAreNamed) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  KernelCache cache({"", /*disk=*/false});
  auto kernel = compileSimt(cache, "attn.kernel @many attributes {q_heads = 1, "
                                   "d_qk = 16, element_type = f16, layout = "
                                   "#attn.layout<varlen>}");
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  const KernelSpec &s = (*kernel)->spec();
  // One query and one key each for 65536 sequences: one more than grid.z.
  const int64_t n = 65536;
  std::vector<float> q(n * 16, 0.5f), o(n * 16);
  std::vector<int32_t> cu(n + 1);
  for (int64_t i = 0; i <= n; ++i)
    cu[i] = static_cast<int32_t>(i);
  AttentionArgs args{denseView(q.data(), Layout::BSHD, 1, n, 1, 16),
                     denseView(q.data(), Layout::BSHD, 1, n, 1, 16),
                     denseView(q.data(), Layout::BSHD, 1, n, 1, 16),
                     denseView(o.data(), Layout::BSHD, 1, n, 1, 16), {}};
  args.sequences.cuSeqlensQ = args.sequences.cuSeqlensK = ints(cu);
  EXPECT_EQ(cuda::simtRunFromHost(**kernel, args).message(),
            "65536 sequences have queries, but the cuda backend runs at most "
            "65535 in one call (grid.z)");
  // Over device memory the tables cannot be read: named, with the way out.
  // (validateCall takes the kernel's element type: f16 views.)
  std::vector<uint16_t> bits(n * 16);
  AttentionArgs device = args;
  for (TensorView *t : {&device.q, &device.k, &device.v, &device.o}) {
    t->data = bits.data();
    t->dtype = DType::F16;
  }
  EXPECT_EQ(validateCall(s, device, Memory::Device).message(),
            "kernel @many has layout varlen: its sequence arrays are read on "
            "the host, which a launch over device memory does not do yet; run "
            "it from host tensors (runFromHost, attnc run --target cuda) or on "
            "the cpu backend");
}

} // namespace
