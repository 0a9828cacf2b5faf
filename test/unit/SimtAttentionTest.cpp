// attnc's generated CUDA kernels executed by the SIMT emulator on the CPU,
// against the float64 reference under FlashAttention's same-dtype rule;
// every check of the emulator is on, so a race, an out-of-bounds access or
// an uninitialised or stale shared read fails the case too.
#include "SimtTestUtil.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <thread>

using namespace attnc;
using namespace attnc::test::simt;

namespace {

std::string specText(const std::string &name, int qHeads, int kvHeads, int dQk,
                     int dV, const char *type, const char *mask, bool lse,
                     const std::string &extra = "") {
  return fmt::format(
      "attn.kernel @{} attributes {{q_heads = {}, kv_heads = {}, d_qk = {}, "
      "d_v = {}, element_type = {}, mask = {}, lse = {}{}}}",
      name, qHeads, kvHeads, dQk, dV, type, mask, lse ? "true" : "false",
      extra);
}

struct SweepKernel {
  std::string spec;
  std::vector<Shape> shapes;
};

/// Few kernels (each costs a host compile), each run at several lengths
/// and both layouts, since lengths and strides are run-time values.
/// Together: f16 and bf16; masks none, causal top-left and bottom-right,
/// sliding window (both alignments); MHA, GQA, MQA; head dims 16 to 256
/// with d_v != d_qk; lengths 1, 17, 113, 300 with seq_q != seq_kv both
/// ways; LSE on and off; softcap; 2, 3 and 4 stages; 2 and 4 warps.
std::vector<SweepKernel> sweep() {
  const Layout bshd = Layout::BSHD, bhsd = Layout::BHSD;
  return {
      {specText("mha_f16_d64", 4, 4, 64, 64, "f16", "#attn.mask<none>", false),
       {{2, 1, 1, bshd}, {1, 17, 17, bhsd}, {2, 113, 113, bshd, 8}}},
      {specText("gqa_bf16_d128_causal_tl", 4, 2, 128, 128, "bf16",
                "#attn.mask<causal, top_left>", true),
       {{1, 113, 17, bshd}, {2, 17, 113, bhsd}}},
      // seq_q > seq_kv bottom-right: the first rows see no key (O 0, LSE -inf).
      {specText("mqa_f16_d40_72_causal_br", 4, 1, 40, 72, "f16",
                "#attn.mask<causal, bottom_right>", true),
       {{1, 17, 113, bhsd}, {2, 113, 17, bshd, 8}}},
      {specText(
           "mha_bf16_d256_128_window_br", 2, 2, 256, 128, "bf16",
           "#attn.mask<sliding_window, left = 37, right = 3, bottom_right>",
           true),
       {{1, 113, 113, bshd}, {1, 17, 300, bhsd}}},
      {specText("gqa_bf16_d16_softcap", 8, 2, 16, 16, "bf16",
                "#attn.mask<none>", true, ", softcap = 30.0"),
       {{2, 1, 17, bhsd}, {1, 113, 113, bshd}}},
      {specText(
           "mha_f16_d96_window_tl_3stages", 2, 2, 96, 96, "f16",
           "#attn.mask<sliding_window, left = 16, right = 40, top_left>", true,
           ", schedule = #attn.schedule<warps = 2, block_n = 32, stages = 3>"),
       {{1, 300, 300, bshd}, {1, 1, 113, bhsd}}},
      {specText("gqa_f16_d64_causal_br_4stages", 4, 2, 64, 64, "f16",
                "#attn.mask<causal, bottom_right>", false,
                ", schedule = #attn.schedule<block_n = 16, stages = 4>"),
       {{1, 113, 300, bhsd}, {2, 17, 17, bshd}}},
  };
}

TEST(SimtAttention, GeneratedKernelsMatchTheFloat64Reference) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  std::mt19937_64 rng(attnc::test::testSeed());
  int cases = 0;
  for (const SweepKernel &kernel : sweep()) {
    const EmulatedKernel &k = compiledKernel(kernel.spec);
    ASSERT_TRUE(k.module) << kernel.spec;
    for (const Shape &shape : kernel.shapes) {
      ++cases;
      std::string what = fmt::format(
          "{}\n  batch {} seq_q {} seq_kv {} {}{} (seed {})", kernel.spec,
          shape.batch, shape.seqQ, shape.seqKv, toString(shape.layout),
          shape.rowPad ? " padded rows" : "", attnc::test::testSeed());
      auto start = std::chrono::steady_clock::now();
      RunResult r = runAttention(k.translation, *k.module, shape, rng);
      double ms = std::chrono::duration<double, std::milli>(
                      std::chrono::steady_clock::now() - start)
                      .count();
      std::printf("  %-32s b%lld %4lldx%-4lld %s: %llu CTAs, %.0f ms, O error "
                  "%.2g (tol %.2g)\n",
                  k.translation.spec.name.c_str(), (long long)shape.batch,
                  (long long)shape.seqQ, (long long)shape.seqKv,
                  toString(shape.layout), (unsigned long long)r.report.ctasRun,
                  ms, r.comparison.maxError, r.comparison.tolerance);
      EXPECT_TRUE(r.launch.ok()) << what << "\n" << r.launch.message();
      EXPECT_TRUE(r.guards.ok()) << what << "\n" << r.guards.message();
      EXPECT_TRUE(r.comparison.passed())
          << what << "\n  " << describe(r.comparison);
    }
  }
  std::printf("emulated CUDA numerics: %d cases\n", cases);
}

// The CUDA kernel's NaN and inf semantics, the CPU kernel's and PyTorch's
// (NonFiniteTest.cpp): a NaN reaching a visible score makes the row's O and
// LSE NaN, a +inf score too (exp(inf - inf)); a fully masked row stays 0
// and -inf. Checked against the float64 reference and by counting rows.
TEST(SimtAttention, NaNAndInfFollowPyTorch) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  std::mt19937_64 rng(attnc::test::testSeed());
  const EmulatedKernel &k =
      compiledKernel(specText("nan_bf16_causal", 2, 1, 64, 64, "bf16",
                              "#attn.mask<causal, bottom_right>", true));
  ASSERT_TRUE(k.module);
  // seq_q 40 > seq_kv 33: rows 0..6 see no key.
  const Shape shape{1, 40, 33, Layout::BSHD};
  struct Case {
    const char *what;
    char tensor;
    int64_t head, pos;
    float value;
    int64_t nanRows; // rows of O (over both heads) that must be NaN
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const Case cases[] = {
      // q row 39 of head 1 sees every key: that row only.
      {"NaN in q", 'q', 1, 39, nan, 1},
      // Key 32 is seen by row 39 of each head (the one kv head serves both).
      {"NaN in k", 'k', 0, 32, nan, 2},
      // Key 0 is seen by rows 7..39 of both heads.
      {"NaN in k, early key", 'k', 0, 0, nan, 66},
      // +inf in q: some of its 33 scores are +inf (those whose k element
      // is positive; all 33 negative has odds 2^-33), so exp(inf - inf).
      {"+inf in q", 'q', 1, 39, inf, 1},
      // A fully masked row (3) with a NaN in its own q: still 0 and -inf.
      {"NaN in a fully masked row's q", 'q', 0, 3, nan, 0},
  };
  for (const Case &c : cases) {
    RunResult r = runAttention(
        k.translation, *k.module, shape, rng, true, 0,
        [&](HalfTensor &q, HalfTensor &kk, HalfTensor &, HalfKind kind) {
          (c.tensor == 'q' ? q : kk).set(0, c.head, c.pos, 5, c.value, kind);
        });
    EXPECT_TRUE(r.launch.ok()) << c.what << ": " << r.launch.message();
    EXPECT_TRUE(r.comparison.passed())
        << c.what << ": " << describe(r.comparison);
    int64_t nanRows = 0, nanLse = 0;
    for (int64_t row = 0; row < 2 * shape.seqQ; ++row) {
      nanRows += std::isnan(r.o[row * 64]);
      nanLse += std::isnan(r.lse[row]);
    }
    EXPECT_EQ(nanRows, c.nanRows) << c.what;
    EXPECT_EQ(nanLse, c.nanRows) << c.what;
    for (int64_t row = 0; row < 7; ++row) // fully masked: 0 and -inf
      for (int64_t h = 0; h < 2; ++h) {
        EXPECT_EQ(r.o[(h * shape.seqQ + row) * 64], 0.f) << c.what;
        EXPECT_EQ(r.lse[h * shape.seqQ + row], -inf) << c.what;
      }
  }
}

TEST(SimtAttention, ResultsDoNotDependOnTheNumberOfOsThreads) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  const EmulatedKernel &k =
      compiledKernel(specText("determinism", 2, 1, 64, 64, "bf16",
                              "#attn.mask<causal, bottom_right>", true));
  ASSERT_TRUE(k.module);
  const Shape shape{2, 113, 150, Layout::BHSD};
  std::mt19937_64 one(attnc::test::testSeed()), two(attnc::test::testSeed());
  RunResult a = runAttention(k.translation, *k.module, shape, one, true, 1);
  RunResult b = runAttention(k.translation, *k.module, shape, two, true, 2);
  ASSERT_TRUE(a.launch.ok()) << a.launch.message();
  ASSERT_TRUE(b.launch.ok()) << b.launch.message();
  EXPECT_TRUE(a.comparison.passed()) << describe(a.comparison);
  EXPECT_EQ(a.out, b.out)
      << "CTAs are independent: 1 or 2 OS threads, same bits";
}

TEST(SimtAttention, ConcurrentLaunchesDoNotInterfere) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  // Each OS thread has its own shared memory and current fiber; two
  // launches at once (of the same module) must both come out right.
  const EmulatedKernel &k = compiledKernel(
      specText("concurrent", 2, 2, 64, 64, "f16", "#attn.mask<none>", true));
  ASSERT_TRUE(k.module);
  RunResult results[2];
  std::thread threads[2];
  for (int i = 0; i < 2; ++i)
    threads[i] = std::thread([&, i] {
      std::mt19937_64 rng(attnc::test::testSeed() + i);
      results[i] = runAttention(k.translation, *k.module,
                                {1, 100, 100, Layout::BSHD}, rng);
    });
  for (std::thread &t : threads)
    t.join();
  for (const RunResult &r : results) {
    EXPECT_TRUE(r.launch.ok()) << r.launch.message();
    EXPECT_TRUE(r.comparison.passed()) << describe(r.comparison);
  }
}

} // namespace

namespace {

/// `text` with its one occurrence of `from` replaced by `to`; fails the
/// test if `from` does not occur exactly once, so that a change to the
/// kernel template cannot turn a mutation test into a test of nothing.
std::string mutate(const std::string &text, const std::string &from,
                   const std::string &to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos)
      << "the kernel text no longer contains: " << from;
  EXPECT_EQ(text.find(from, at + 1), std::string::npos)
      << "not unique: " << from;
  if (at == std::string::npos)
    return text;
  return text.substr(0, at) + to + text.substr(at + from.size());
}

struct Mutant {
  const EmulatedKernel &original;
  std::unique_ptr<Module> module;
};

Mutant compileMutant(const std::string &spec, const std::string &from,
                     const std::string &to) {
  const EmulatedKernel &k = compiledKernel(spec);
  Mutant m{k, nullptr};
  if (!k.module)
    return m;
  CompileOptions options;
  options.fileName = "mutant.cu";
  auto module =
      Module::compile(mutate(k.translation.source, from, to), options);
  EXPECT_TRUE(module.ok()) << module.status().message();
  if (module.ok())
    m.module = std::move(*module);
  return m;
}

const Report *find(const LaunchReport &r, ReportKind kind) {
  for (const Report &report : r.reports)
    if (report.kind == kind)
      return &report;
  return nullptr;
}

std::string listing(const LaunchReport &r) {
  std::string s;
  for (const Report &report : r.reports)
    s += fmt::format("\n  [{}] {} (x{})", toString(report.kind), report.message,
                     report.occurrences);
  return s;
}

const std::string kMutantSpec =
    "attn.kernel @mutant attributes {q_heads = 2, kv_heads = 1, d_qk = 64, d_v "
    "= 64, "
    "element_type = f16, mask = #attn.mask<none>, lse = true}";

TEST(SimtMutation, SwappedFragmentIndexGivesWrongNumbersAndNoReport) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  std::mt19937_64 rng(attnc::test::testSeed());
  Mutant m =
      compileMutant(kMutantSpec, "mma16816<T>(s_acc[n + 1], a, kb[2], kb[3]);",
                    "mma16816<T>(s_acc[n + 1], a, kb[3], kb[2]);");
  ASSERT_TRUE(m.module);
  RunResult r =
      runAttention(m.original.translation, *m.module, {1, 37, 37}, rng);
  EXPECT_TRUE(r.launch.ok()) << r.launch.message();
  EXPECT_FALSE(r.comparison.passed()) << describe(r.comparison);
}

TEST(SimtMutation, RemovedBarrierBeforeTheProductsIsARace) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  std::mt19937_64 rng(attnc::test::testSeed());
  Mutant m = compileMutant(kMutantSpec, "__syncthreads();\n    const T *k_tile",
                           "const T *k_tile");
  ASSERT_TRUE(m.module);
  RunResult r =
      runAttention(m.original.translation, *m.module, {1, 37, 37}, rng);
  EXPECT_FALSE(r.launch.ok());
  const Report *race = find(r.report, ReportKind::SharedRace);
  ASSERT_TRUE(race) << listing(r.report);
  EXPECT_NE(race->message.find("ldmatrix_x4"), std::string::npos)
      << race->message;
  EXPECT_NE(race->message.find("cp_async16"), std::string::npos)
      << race->message;
  std::printf("removed __syncthreads reports:%s\n", listing(r.report).c_str());
}

TEST(SimtMutation, RemovedBarrierAtTheEndOfAStageIsARace) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  std::mt19937_64 rng(attnc::test::testSeed());
  Mutant m = compileMutant(
      kMutantSpec, "__syncthreads(); // the stage is refilled next iteration",
      "");
  ASSERT_TRUE(m.module);
  // Three key tiles or more: the stage read in one iteration is refilled
  // in the next.
  RunResult r =
      runAttention(m.original.translation, *m.module, {1, 20, 200}, rng);
  EXPECT_FALSE(r.launch.ok());
  const Report *race = find(r.report, ReportKind::SharedRace);
  ASSERT_TRUE(race) << listing(r.report);
  std::printf("removed end-of-stage __syncthreads reports:%s\n",
              listing(r.report).c_str());
}

TEST(SimtMutation, RemovedCpAsyncWaitReadsStaleData) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  std::mt19937_64 rng(attnc::test::testSeed());
  Mutant m = compileMutant(kMutantSpec, "cp_async_wait<STAGES - 1>();", "");
  ASSERT_TRUE(m.module);
  RunResult r =
      runAttention(m.original.translation, *m.module, {1, 37, 100}, rng);
  EXPECT_FALSE(r.launch.ok());
  const Report *stale = find(r.report, ReportKind::StaleCpAsyncRead);
  ASSERT_TRUE(stale) << listing(r.report);
  EXPECT_FALSE(r.comparison.passed())
      << "the stale data must show in the output";
  std::printf("removed cp_async_wait reports:%s\n", listing(r.report).c_str());
}

TEST(SimtMutation, WaitingForOneGroupTooFewReadsStaleData) {
  // The pipeline bug a GPU hides most of the time: the tile is usually
  // there already. The emulator lands a copy only at its wait.
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  std::mt19937_64 rng(attnc::test::testSeed());
  Mutant m = compileMutant(kMutantSpec, "cp_async_wait<STAGES - 1>();",
                           "cp_async_wait<STAGES>();");
  ASSERT_TRUE(m.module);
  RunResult r =
      runAttention(m.original.translation, *m.module, {1, 37, 200}, rng);
  EXPECT_FALSE(r.launch.ok());
  const Report *stale = find(r.report, ReportKind::StaleCpAsyncRead);
  ASSERT_TRUE(stale) << listing(r.report);
  std::printf("wait<STAGES> reports:%s\n", listing(r.report).c_str());
}

TEST(SimtMutation, OffByOneTailPredicateReadsOutOfBounds) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  std::mt19937_64 rng(attnc::test::testSeed());
  Mutant m = compileMutant(kMutantSpec, "row0 + r < count", "row0 + r <= count");
  ASSERT_TRUE(m.module);
  RunResult r =
      runAttention(m.original.translation, *m.module, {2, 17, 33}, rng);
  EXPECT_FALSE(r.launch.ok());
  const Report *oob = find(r.report, ReportKind::GlobalOutOfBounds);
  ASSERT_TRUE(oob) << listing(r.report);
  EXPECT_NE(oob->message.find("cp_async16"), std::string::npos) << oob->message;
  EXPECT_NE(oob->message.find("which has"), std::string::npos) << oob->message;
  std::printf("off-by-one tail reports:%s\n", listing(r.report).c_str());
}

TEST(SimtMutation, OffByOneStorePredicateWritesOutOfBoundsAndHitsTheGuard) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  std::mt19937_64 rng(attnc::test::testSeed());
  Mutant m = compileMutant(kMutantSpec, "if (row < p.seq_q) {",
                           "if (row <= p.seq_q) {");
  ASSERT_TRUE(m.module);
  RunResult r =
      runAttention(m.original.translation, *m.module, {1, 17, 17}, rng);
  EXPECT_FALSE(r.launch.ok());
  const Report *oob = find(r.report, ReportKind::GlobalOutOfBounds);
  ASSERT_TRUE(oob) << listing(r.report);
  EXPECT_NE(oob->message.find("store_global"), std::string::npos)
      << oob->message;
  EXPECT_NE(oob->message.find("'o'"), std::string::npos) << oob->message;
  EXPECT_TRUE(r.guards.ok())
      << "a checked store must not be performed: " << r.guards.message();
  // Without the bounds check the store lands in o's guard zone.
  RunResult unchecked =
      runAttention(m.original.translation, *m.module, {1, 17, 17}, rng,
                   /*globalBounds=*/false);
  EXPECT_TRUE(unchecked.launch.ok()) << unchecked.launch.message();
  EXPECT_FALSE(unchecked.guards.ok());
  EXPECT_NE(unchecked.guards.message().find("'o'"), std::string::npos)
      << unchecked.guards.message();
  std::printf("off-by-one store reports:%s\n  unchecked: %s\n",
              listing(r.report).c_str(), unchecked.guards.message().c_str());
}

} // namespace
