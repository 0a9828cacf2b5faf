// The runtime API: compile errors come back as a Status with a located
// message, run() rejects every inconsistent view, one kernel serves any
// length, and concurrent runs of one kernel are safe.
#include "TestUtil.h"

#include "runtime/CpuKernel.h"
#include "runtime/Reference.h"

#include <gtest/gtest.h>

#include <thread>

using namespace attnc;
using attnc::test::Buffer;

namespace {

KernelRequest smallSpec() {
  KernelRequest s;
  s.name = "small";
  s.qHeads = 4;
  s.kvHeads = 2;
  s.dQk = 32;
  s.dV = 16;
  s.mask = MaskKind::Causal;
  s.alignment = Alignment::BottomRight;
  s.schedule.threads = 2;
  return s;
}

std::unique_ptr<CpuKernel> compileOrDie(const KernelRequest &spec) {
  auto kernel = attnc::test::compileRequest(spec);
  EXPECT_TRUE(kernel.ok()) << kernel.status().message();
  return kernel.ok() ? std::move(*kernel) : nullptr;
}

/// Tensors for one call of the small kernel.
struct Call {
  std::mt19937_64 rng{attnc::test::testSeed()};
  Buffer q, k, v, o;
  std::vector<float> lse;
  AttentionArgs args;
  Call(const KernelSpec &s, int64_t batch, int64_t seqQ, int64_t seqKv)
      : q(s.layout, batch, seqQ, s.qHeads, s.dQk, false, rng),
        k(s.layout, batch, seqKv, s.kvHeads, s.dQk, false, rng),
        v(s.layout, batch, seqKv, s.kvHeads, s.dV, false, rng),
        o(s.layout, batch, seqQ, s.qHeads, s.dV, false, rng),
        lse(batch * s.qHeads * seqQ) {
    args = {q.view, k.view, v.view, o.view, {}};
    if (s.lse)
      args.lse = lseView(lse.data(), batch, s.qHeads, seqQ);
  }
};

TEST(Runtime, ResolvedSpecFillsEveryDefault) {
  auto kernel = compileOrDie(smallSpec());
  ASSERT_TRUE(kernel);
  const KernelSpec &s = kernel->spec();
  EXPECT_EQ(s.name, "small");
  EXPECT_EQ(s.kvHeads, 2);
  EXPECT_EQ(s.dV, 16);
  EXPECT_DOUBLE_EQ(s.scale, 1.0 / std::sqrt(32.0));
  EXPECT_EQ(s.alignment, Alignment::BottomRight);
  EXPECT_GT(s.blockM, 0);
  EXPECT_GT(s.blockN, 0);
  EXPECT_GT(s.microM, 0);
  EXPECT_EQ(s.microN % s.vectorWidth, 0);
  EXPECT_EQ(s.threads, 2);
}

TEST(Runtime, CompileErrorsCarryLocatedMessages) {
  auto bad = attnc::test::compileText(
      "attn.kernel @k attributes {q_heads = 6, kv_heads = 4, d_qk = 64, "
      "element_type = f32}",
      "my-spec.mlir");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("my-spec.mlir:1:1: error: "
                                        "'attn.kernel' op kv_heads (4) must "
                                        "divide q_heads (6)"),
            std::string::npos)
      << bad.status().message();

  auto syntax = attnc::test::compileText("attn.kernel @k attributes {q_heads = }");
  ASSERT_FALSE(syntax.ok());
  EXPECT_NE(syntax.status().message().find("invalid kernel spec"),
            std::string::npos);

  auto none = attnc::test::compileText("");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().message(),
            "<spec>: expected exactly one attn.kernel, found 0");

  auto unsupported = attnc::test::compileText(
      "attn.kernel @k attributes {q_heads = 4, d_qk = 64, element_type = f32, "
      "variant = #attn.variant<linear>}");
  ASSERT_FALSE(unsupported.ok());
  EXPECT_NE(unsupported.status().message().find(
                "is variant linear: the cpu backend compiles softmax attention; run linear attention with LinearKernel"),
            std::string::npos)
      << unsupported.status().message();
}

TEST(Runtime, OneKernelServesEveryLength) {
  KernelRequest spec = smallSpec();
  spec.lse = true;
  auto kernel = compileOrDie(spec);
  ASSERT_TRUE(kernel);
  for (auto [seqQ, seqKv] : {std::pair<int64_t, int64_t>{1, 1},
                             {17, 17},
                             {113, 1023},
                             {300, 7},
                             {1, 4096}}) {
    Call call(kernel->spec(), 2, seqQ, seqKv);
    ASSERT_TRUE(kernel->run(call.args).ok());
    Comparison c = compareWithReference(kernel->spec(), call.args);
    EXPECT_TRUE(c.passed()) << "seq_q " << seqQ << " seq_kv " << seqKv
                            << ": error " << c.maxError << " > " << c.tolerance;
  }
}

/// The K^T cache, capped below a call's tiles (down to a single slot), makes
/// tiles share slots round-robin: results must not change, bit for bit.
TEST(Runtime, KtCacheCapDoesNotChangeTheResult) {
  KernelRequest spec = smallSpec();
  spec.mask = MaskKind::SlidingWindow;
  spec.windowLeft = 150;
  spec.windowRight = 20;
  spec.schedule.blockN = 16;
  auto kernel = compileOrDie(spec);
  ASSERT_TRUE(kernel);
  Call full(kernel->spec(), 2, 300, 1023);
  ASSERT_TRUE(kernel->run(full.args, 2).ok());
  EXPECT_TRUE(compareWithReference(kernel->spec(), full.args).passed());
  const size_t tile = 4 * 32 * 16; // bytes: d_qk x block_n floats
  for (size_t cap : {size_t(1), 3 * tile, 17 * tile}) {
    size_t old = CpuKernel::setKtCacheLimit(cap);
    Call capped(kernel->spec(), 2, 300, 1023);
    capped.q.storage = full.q.storage;
    capped.k.storage = full.k.storage;
    capped.v.storage = full.v.storage;
    Status st = kernel->run(capped.args, 2);
    CpuKernel::setKtCacheLimit(old);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(capped.o.storage, full.o.storage) << "cap " << cap << " bytes";
  }
}

TEST(Runtime, ThreadCountDoesNotChangeTheResult) {
  auto kernel = compileOrDie(smallSpec());
  ASSERT_TRUE(kernel);
  Call one(kernel->spec(), 2, 200, 150), three(kernel->spec(), 2, 200, 150);
  three.q.storage = one.q.storage;
  three.k.storage = one.k.storage;
  three.v.storage = one.v.storage;
  ASSERT_TRUE(kernel->run(one.args, 1).ok());
  ASSERT_TRUE(kernel->run(three.args, 3).ok());
  EXPECT_EQ(one.o.storage, three.o.storage); // bitwise: same work per item
}

TEST(Runtime, ConcurrentRunsOfOneKernelAreIndependent) {
  auto kernel = compileOrDie(smallSpec());
  ASSERT_TRUE(kernel);
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < 8; ++i)
    calls.push_back(std::make_unique<Call>(kernel->spec(), 1, 64 + i, 90 - i));
  std::vector<std::thread> threads;
  for (auto &call : calls)
    threads.emplace_back([&] { ASSERT_TRUE(kernel->run(call->args).ok()); });
  for (std::thread &t : threads)
    t.join();
  for (auto &call : calls)
    EXPECT_TRUE(compareWithReference(kernel->spec(), call->args).passed());
}

TEST(Runtime, RunRejectsInconsistentViews) {
  auto kernel = compileOrDie(smallSpec());
  ASSERT_TRUE(kernel);
  Call base(kernel->spec(), 2, 10, 12);
  auto expectError = [&](AttentionArgs args, const std::string &message) {
    Status st = kernel->run(args);
    EXPECT_FALSE(st.ok());
    EXPECT_EQ(st.message(), message);
  };
  AttentionArgs a = base.args;
  a.q.data = nullptr;
  expectError(a, "q: data pointer is null");
  a = base.args;
  a.q.sizes[1] = 8;
  expectError(a, "q: has 8 heads, but the kernel has q_heads = 4");
  a = base.args;
  a.k.sizes[1] = 4;
  expectError(a, "k: has 4 heads, but the kernel has kv_heads = 2");
  a = base.args;
  a.k.sizes[3] = 64;
  expectError(a, "k: head dim is 64, but the kernel has d_qk = 32");
  a = base.args;
  a.v.sizes[3] = 32;
  expectError(a, "v: head dim is 32, but the kernel has d_v = 16");
  a = base.args;
  a.o.strides[3] = 2;
  expectError(a, "o: the head-dim stride must be 1, got 2");
  a = base.args;
  a.v.sizes[2] = 11;
  expectError(a, "k and v disagree on seq_kv (12 vs 11)");
  a = base.args;
  a.o.sizes[2] = 9;
  expectError(a, "q and o disagree on seq_q (10 vs 9)");
  a = base.args;
  a.k.sizes[0] = 1;
  expectError(a, "q and k disagree on batch (2 vs 1)");
  a = base.args;
  a.q.sizes[2] = -1;
  expectError(a, "q: sizes must be >= 0, got [2, 4, -1, 32]");
  a = base.args;
  a.lse = lseView(base.lse.data(), 2, 4, 10);
  expectError(a, "lse: a buffer was given, but the kernel was compiled with "
                 "lse = false");

  KernelRequest withLse = smallSpec();
  withLse.lse = true;
  auto lseKernel = compileOrDie(withLse);
  ASSERT_TRUE(lseKernel);
  Status missing = lseKernel->run(base.args);
  EXPECT_EQ(missing.message(), "lse: the kernel was compiled with lse = true, "
                               "but no lse buffer was given");
  AttentionArgs wrongLse = base.args;
  wrongLse.lse = lseView(base.lse.data(), 2, 4, 9);
  EXPECT_EQ(lseKernel->run(wrongLse).message(),
            "lse: shape [2, 4, 9] must be [batch, q_heads, seq_q] = [2, 4, 10]");
}

TEST(Runtime, SplitKvDecodeMatchesTheReference) {
  // MQA decode, batch 1: a single tile, so only split-KV can use more than
  // one thread.
  KernelRequest spec;
  spec.name = "mqa_decode";
  spec.qHeads = 8;
  spec.kvHeads = 1;
  spec.dQk = 64;
  spec.dV = 40;
  spec.mask = MaskKind::Causal;
  spec.alignment = Alignment::BottomRight;
  spec.mode = Mode::Decode;
  spec.lse = true;
  auto kernel = compileOrDie(spec);
  ASSERT_TRUE(kernel);
  EXPECT_EQ(kernel->spec().blockM, 8); // the whole group in one tile
  EXPECT_GT(kernel->kvSplitsFor(1, 1, 4096, 2), 1);
  EXPECT_EQ(kernel->kvSplitsFor(8, 512, 512, 2), 1); // enough tiles already
  for (int64_t splits : {1, 2, 5, 64}) {
    Call call(kernel->spec(), 1, 1, 3000);
    ASSERT_TRUE(kernel->run(call.args, 2, splits).ok());
    Comparison c = compareWithReference(kernel->spec(), call.args);
    EXPECT_TRUE(c.passed()) << splits << " splits: error " << c.maxError
                            << " > " << c.tolerance;
  }
  // More splits than key tiles: the empty splits merge away.
  Call few(kernel->spec(), 1, 3, 5);
  ASSERT_TRUE(kernel->run(few.args, 2, 7).ok());
  EXPECT_TRUE(compareWithReference(kernel->spec(), few.args).passed());
}

TEST(Runtime, KvSplitsOutOfRangeIsAnError) {
  auto kernel = compileOrDie(smallSpec());
  ASSERT_TRUE(kernel);
  Call call(kernel->spec(), 1, 4, 4);
  EXPECT_EQ(kernel->run(call.args, 1, -1).message(),
            "kvSplits must be in [0, 64] (0 chooses), got -1");
  EXPECT_EQ(kernel->run(call.args, 1, 65).message(),
            "kvSplits must be in [0, 64] (0 chooses), got 65");
}

TEST(Runtime, EmptySequencesAreNoOps) {
  auto kernel = compileOrDie(smallSpec());
  ASSERT_TRUE(kernel);
  Call call(kernel->spec(), 1, 0, 5);
  EXPECT_TRUE(kernel->run(call.args).ok());
  // No keys at all: every row is fully masked, output 0.
  Call noKeys(kernel->spec(), 1, 6, 0);
  ASSERT_TRUE(kernel->run(noKeys.args).ok());
  for (int64_t h = 0; h < 4; ++h)
    for (int64_t s = 0; s < 6; ++s)
      for (int64_t d = 0; d < 16; ++d)
        EXPECT_EQ(noKeys.args.o.at(0, h, s, d), 0.f);
}

} // namespace
