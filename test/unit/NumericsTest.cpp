// The numerics sweep: seeded random kernel specs and shapes, each compared
// with the float64 reference under design.md's tolerance rule.
#include "TestUtil.h"

#include "compiler/AttnToSCF/WorkSplit.h"
#include "compiler/Passes.h"
#include "runtime/CpuKernel.h"
#include "runtime/Reference.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include <sys/mman.h>
#include <unistd.h>

using namespace attnc;
using attnc::test::Buffer;

namespace {

constexpr int kSpecs = 60;         // distinct compiled kernels
constexpr int kShapesPerSpec = 5;  // run-time shapes per kernel: 300 cases
constexpr double kWorkBudget = 6e7; // multiply-adds per case, to bound time

const int64_t kHeadDims[] = {16, 32, 64, 80, 96, 128, 256};
const int64_t kOddDims[] = {1, 8, 20, 72, 100};
const int64_t kSeqs[] = {1, 2, 17, 64, 113, 255, 1023};

template <typename T, size_t N> T pick(std::mt19937_64 &rng, const T (&xs)[N]) {
  return xs[std::uniform_int_distribution<size_t>(0, N - 1)(rng)];
}
int64_t uniform(std::mt19937_64 &rng, int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}
bool chance(std::mt19937_64 &rng, double p) {
  return std::uniform_real_distribution<double>(0, 1)(rng) < p;
}

KernelRequest randomSpec(std::mt19937_64 &rng, int index) {
  KernelRequest s;
  s.name = fmt::format("sweep{}", index);
  s.kvHeads = pick(rng, {1, 1, 2, 3, 4});
  s.qHeads = s.kvHeads * pick(rng, {1, 1, 2, 3, 4}); // MHA, GQA, MQA
  s.dQk = chance(rng, 0.85) ? pick(rng, kHeadDims) : pick(rng, kOddDims);
  s.dV = chance(rng, 0.6) ? s.dQk : pick(rng, kHeadDims);
  switch (uniform(rng, 0, 3)) {
  case 0:
    s.mask = MaskKind::None;
    break;
  case 1:
  case 2:
    s.mask = MaskKind::Causal;
    break;
  default:
    s.mask = MaskKind::SlidingWindow;
    s.windowLeft = pick(rng, {0, 1, 16, 100, 4096});
    s.windowRight = pick(rng, {0, 0, 3, 64});
  }
  if (s.mask != MaskKind::None)
    s.alignment = chance(rng, 0.5) ? Alignment::TopLeft : Alignment::BottomRight;
  s.layout = chance(rng, 0.5) ? Layout::BSHD : Layout::BHSD;
  if (chance(rng, 0.15))
    s.mode = Mode::Decode; // a different schedule; any seq_q still works
  s.lse = chance(rng, 0.5);
  if (chance(rng, 0.2))
    s.softcap = pick(rng, {5.0, 30.0});
  if (chance(rng, 0.15))
    s.scale = pick(rng, {0.05, 1.0});
  if (chance(rng, 0.4)) { // an explicit schedule instead of the heuristic
    Schedule &c = s.schedule;
    c.vectorWidth = pick(rng, {4, 8, 16});
    c.microN = c.vectorWidth * pick(rng, {1, 2});
    c.blockN = c.microN * pick(rng, {1, 2, 4});
    c.microM = pick(rng, {1, 2, 4, 6});
    c.blockM = c.microM * pick(rng, {1, 3, 8});
  }
  s.schedule.threads = pick(rng, {1, 2, 3});
  return s;
}

/// The attnc command that compiles the same kernel (inputs differ).
std::string reproCommand(const KernelSpec &s, int64_t batch, int64_t seqQ,
                         int64_t seqKv) {
  std::string cmd = fmt::format(
      "attnc run --q-heads {} --kv-heads {} --d-qk {} --d-v {} --mask {}",
      s.qHeads, s.kvHeads, s.dQk, s.dV, toString(s.mask));
  if (s.alignment != Alignment::Unset)
    cmd += fmt::format(" --align {}", toString(s.alignment));
  if (s.mask == MaskKind::SlidingWindow)
    cmd += fmt::format(" --window-left {} --window-right {}", s.windowLeft,
                       s.windowRight);
  if (s.softcap)
    cmd += fmt::format(" --softcap {}", s.softcap);
  if (s.scale)
    cmd += fmt::format(" --scale {}", s.scale);
  cmd += fmt::format(" --layout {}{}", toString(s.layout), s.lse ? " --lse" : "");
  cmd += fmt::format(" --batch {} --seq-q {} --seq-kv {}", batch, seqQ, seqKv);
  return cmd;
}

/// Runs `specs` random kernels on kShapesPerSpec random shapes each against
/// the float64 reference; `types` gives spec i its q/o and k/v element types
/// (empty: f32); counts fully masked rows and prints the cases run.
void sweep(const char *what, int specs,
           const std::vector<std::pair<std::string, std::string>> &types,
           int &fullyMaskedRows, int64_t dot = 0) {
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed);
  int cases = 0, failures = 0;
  for (int specIndex = 0; specIndex < specs; ++specIndex) {
    KernelRequest request = randomSpec(rng, specIndex);
    if (!types.empty()) {
      const auto &[type, kvType] = types[specIndex % types.size()];
      request.elementType = type;
      if (kvType != type)
        request.kvElementType = kvType;
    }
    if (dot) { // products forced; they need 16 lanes
      request.schedule.dot = dot;
      Schedule &c = request.schedule;
      if (c.vectorWidth) {
        const int64_t vectors = c.microN / c.vectorWidth;
        const int64_t tiles = c.blockN / c.microN;
        c.vectorWidth = 16;
        c.microN = 16 * vectors;
        c.blockN = c.microN * tiles;
      }
    }
    auto ir = KernelIr::build(request);
    EXPECT_TRUE(ir.ok()) << "seed " << seed << ": " << ir.status().message();
    if (!ir.ok())
      return;
    auto kernel = CpuKernel::compile(*ir);
    EXPECT_TRUE(kernel.ok()) << "seed " << seed << ": " << ir->text() << "\n"
                             << kernel.status().message();
    if (!kernel.ok())
      return;
    const KernelSpec &resolved = (*kernel)->spec();
    if (dot) {
      EXPECT_EQ(resolved.dot, dot) << ir->text();
    }
    const DType type = dtypeNamed(resolved.elementType);
    const DType kvType = dtypeNamed(resolved.kvType());
    for (int shapeIndex = 0; shapeIndex < kShapesPerSpec; ++shapeIndex) {
      int64_t batch = uniform(rng, 1, 3);
      int64_t seqQ = chance(rng, 0.7) ? pick(rng, kSeqs) : uniform(rng, 1, 300);
      int64_t seqKv = chance(rng, 0.3) ? seqQ
                      : chance(rng, 0.7) ? pick(rng, kSeqs)
                                         : uniform(rng, 1, 300);
      // Keep the naive references affordable on CI's two cores.
      while (batch * resolved.qHeads * static_cast<double>(seqQ) * seqKv *
                 (resolved.dQk + resolved.dV) > kWorkBudget) {
        if (batch > 1)
          --batch;
        else if (seqQ >= seqKv)
          seqQ = std::max<int64_t>(1, seqQ / 2);
        else
          seqKv = std::max<int64_t>(1, seqKv / 2);
      }
      bool padded = chance(rng, 0.3);
      Layout layout = resolved.layout;
      Buffer q(layout, batch, seqQ, resolved.qHeads, resolved.dQk, padded, rng);
      Buffer k(layout, batch, seqKv, resolved.kvHeads, resolved.dQk, padded, rng);
      Buffer v(layout, batch, seqKv, resolved.kvHeads, resolved.dV, padded, rng);
      Buffer o(layout, batch, seqQ, resolved.qHeads, resolved.dV, padded, rng);
      q.convertTo(type);
      k.convertTo(kvType);
      v.convertTo(kvType);
      o.convertTo(type).fill(std::numeric_limits<float>::quiet_NaN());
      std::vector<float> lseStorage(batch * resolved.qHeads * seqQ + 1,
                                    std::numeric_limits<float>::quiet_NaN());
      AttentionArgs args{q.view, k.view, v.view, o.view, {}};
      if (resolved.lse)
        args.lse = lseView(lseStorage.data(), batch, resolved.qHeads, seqQ);
      // 0: the runtime's choice; otherwise a forced split-KV factor, so the
      // split path and its merge are checked on every kind of kernel.
      int64_t kvSplits = pick(rng, {0, 0, 1, 2, 3, 7});
      Status st = (*kernel)->run(args, 0, kvSplits);
      EXPECT_TRUE(st.ok()) << st.message();
      if (!st.ok())
        return;
      Comparison c = compareWithReference(resolved, args);
      ++cases;
      ModEvaluator mods(resolved, args);
      for (int64_t i = 0; i < seqQ; ++i) {
        bool anyVisible = false;
        for (int64_t j = 0; j < seqKv && !anyVisible; ++j)
          anyVisible = mods.visible(0, 0, i, j);
        fullyMaskedRows += !anyVisible;
      }
      bool ok = c.passed() && o.touchedOutsideView() == 0 &&
                std::isnan(lseStorage.back());
      if (!ok) {
        ++failures;
        ADD_FAILURE() << fmt::format(
            "{} case {} (seed {}): {}\n  batch {} seq_q {} seq_kv {} padded {} "
            "kv splits {}\n"
            "  max error {:.3g}, tolerance {:.3g}, LSE error {:.3g} vs {:.3g}, "
            "non-finite {}, lse mismatch {}, writes outside o {}\n"
            "  repro: ATTNC_TEST_SEED={} attnc-unit-tests "
            "--gtest_filter=Numerics.*\n  similar: {}",
            what, cases, seed, ir->text(), batch, seqQ, seqKv, padded,
            kvSplits, c.maxError, c.tolerance, c.lseError, c.lseTolerance,
            c.nonFinite, c.lseMismatch, o.touchedOutsideView(), seed,
            reproCommand(resolved, batch, seqQ, seqKv));
        if (failures >= 10) {
          ADD_FAILURE() << "stopping after 10 failures";
          return;
        }
      }
    }
  }
  std::printf("%s: %d cases, %d failures, seed %llu\n", what, cases, failures,
              static_cast<unsigned long long>(seed));
}

TEST(Numerics, RandomSweepMatchesFloat64Reference) {
  int fullyMaskedRows = 0;
  sweep("numerics sweep (f32)", kSpecs, {}, fullyMaskedRows);
  // The sweep must have exercised the fully-masked-row rule.
  EXPECT_GT(fullyMaskedRows, 0) << "seed " << attnc::test::testSeed();
}

// Half precision on the CPU: bf16 and f16 kernels (f32 accumulation), f32
// and bf16 kernels reading a 16-bit KV cache of the other kind, and a bf16
// kernel over an f32 KV cache (the dialect allows it), under
// the same rule: 2x the error of naive attention in the kernel's dtype
// (scores, probabilities and output rounded to it), against float64.
TEST(Numerics, HalfPrecisionSweepMatchesFloat64Reference) {
  const std::vector<std::pair<std::string, std::string>> types = {
      {"bf16", "bf16"}, {"f16", "f16"}, {"f32", "f16"},
      {"f32", "bf16"},  {"bf16", "f16"}, {"bf16", "f32"}};
  constexpr int kHalfSpecs = 30;
  int fullyMaskedRows = 0;
  sweep("numerics sweep (f16/bf16)", kHalfSpecs, types, fullyMaskedRows);
}

// bf16 products (schedule dot = 16: vdpbf16ps on bf16 pairs, P rounded to
// bf16 for P V, except in the decode rows form, whose P V stays f32) under
// the same rule, on every kind of kernel of the sweep.
// The heuristic picks them on fast hosts only; here they are forced
// wherever the host has the instructions.
TEST(Numerics, Bf16ProductsSweepMatchesFloat64Reference) {
  if (!mlir::attn::hostHasBf16Dot())
    GTEST_SKIP() << "this host has no AVX512_BF16 (vdpbf16ps): bf16 products "
                    "cannot run here";
  int fullyMaskedRows = 0;
  sweep("numerics sweep (bf16 products)", 30, {{"bf16", "bf16"}},
        fullyMaskedRows, /*dot=*/16);
}

// bf16 products at the sizes where pairs have a tail: odd head dims (a last
// word holding one element and a 0), odd key counts (a last key pair with
// one key past the tile), short tiles, block_n 16 (a P vector packed with
// zeros), GQA, both masks, and the probs pass.
TEST(Numerics, Bf16ProductsOddSizesMatchFloat64Reference) {
  if (!mlir::attn::hostHasBf16Dot())
    GTEST_SKIP() << "this host has no AVX512_BF16 (vdpbf16ps): bf16 products "
                    "cannot run here";
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed);
  const int64_t dims[][2] = {{17, 17}, {33, 19}, {41, 40}, {3, 5}};
  const std::pair<int64_t, int64_t> shapes[] = {{1, 1}, {17, 17}, {5, 113}, {113, 33}};
  int cases = 0;
  for (int i = 0; i < 16; ++i) {
    KernelRequest r;
    r.name = fmt::format("odd{}", i);
    r.qHeads = 4;
    r.kvHeads = 1 + i % 2;
    r.dQk = dims[i % 4][0];
    r.dV = dims[i % 4][1];
    r.elementType = "bf16";
    if (i / 4 % 2) {
      r.mask = MaskKind::Causal;
      r.alignment = Alignment::BottomRight;
    }
    r.schedule.dot = 16;
    if (i % 3 == 0) {
      r.schedule.vectorWidth = 16;
      r.schedule.blockN = r.schedule.microN = 16;
    }
    auto ir = KernelIr::build(r);
    ASSERT_TRUE(ir.ok()) << ir.status().message();
    if (i % 5 == 1) { // the probs pass recomputes the same scores
      auto withProbs = ir->withProbs();
      ASSERT_TRUE(withProbs.ok()) << withProbs.status().message();
      ir = std::move(withProbs);
    }
    auto kernel = CpuKernel::compile(*ir);
    ASSERT_TRUE(kernel.ok()) << ir->text() << "\n" << kernel.status().message();
    const KernelSpec &s = (*kernel)->spec();
    ASSERT_EQ(s.dot, 16) << ir->text();
    auto [seqQ, seqKv] = shapes[i / 4];
    Buffer q(s.layout, 2, seqQ, s.qHeads, s.dQk, i % 2, rng),
        k(s.layout, 2, seqKv, s.kvHeads, s.dQk, i % 2, rng),
        v(s.layout, 2, seqKv, s.kvHeads, s.dV, i % 2, rng),
        o(s.layout, 2, seqQ, s.qHeads, s.dV, i % 2, rng);
    q.convertTo(DType::BF16);
    k.convertTo(DType::BF16);
    v.convertTo(DType::BF16);
    o.convertTo(DType::BF16);
    std::vector<float> probs(s.probs ? 2 * s.qHeads * seqQ * seqKv : 0, NAN);
    AttentionArgs args{q.view, k.view, v.view, o.view, {}};
    if (s.probs)
      args.probs = probsView(probs.data(), 2, s.qHeads, seqQ, seqKv);
    Status st = (*kernel)->run(args, 2);
    ASSERT_TRUE(st.ok()) << st.message();
    Comparison c = compareWithReference(s, args);
    EXPECT_TRUE(c.passed()) << ir->text() << " at " << seqQ << " x " << seqKv
                            << " (seed " << seed << "): error " << c.maxError << " vs "
                            << c.tolerance << ", probs error " << c.probsError;
    ++cases;
  }
  std::printf("bf16 products, odd sizes: %d cases, seed %llu\n", cases,
              static_cast<unsigned long long>(seed));
}

// The rows form of decode (GQA groups of up to 8 rows: scores from K's
// rows, lanes summed by a shuffle tree, V read in place) at fixed sizes:
// vector widths 4, 8 and 16 (each tree depth), head dims that are and are
// not multiples of the width (masked tails; d_v != d_qk), groups of 2, 4
// and 8 rows (8 rows at width 4 and 8: two row groups of micro_m 4), f32,
// f16 and bf16 caches, causal or not, one or three queries, and key counts
// of 1, 17, a tile plus 3 (a short last tile) and 300; split-KV on one case
// in three. Every case is checked to take the rows form.
TEST(Numerics, DecodeRowsFormMatchesFloat64Reference) {
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed);
  const int64_t widths[] = {4, 8, 16};
  const int64_t dims[][2] = {{20, 20}, {128, 128}, {17, 40}, {33, 7}};
  const int64_t groups[][2] = {{8, 2}, {6, 3}, {8, 1}}; // q heads, kv heads
  const char *kvTypes[] = {"f32", "f16", "bf16"};
  int cases = 0;
  // Kernels 12-15: bf16 q, k, v and o with bf16 products (dot 16: the
  // scores multiply bf16 pairs in place, P V in f32), on hosts with
  // AVX512_BF16 only.
  const int kernels = mlir::attn::hostHasBf16Dot() ? 16 : 12;
  if (kernels == 12)
    std::printf("rows form with bf16 products: skipped, the host has no "
                "AVX512_BF16\n");
  for (int i = 0; i < kernels; ++i) {
    KernelRequest r;
    r.name = fmt::format("rows{}", i);
    r.mode = Mode::Decode;
    r.qHeads = groups[i % 3][0];
    r.kvHeads = groups[i % 3][1];
    r.dQk = dims[i % 4][0];
    r.dV = dims[i % 4][1];
    const bool pairs = i >= 12;
    if (pairs) {
      r.elementType = "bf16";
      r.schedule.dot = 16;
    } else if (const char *kv = kvTypes[i / 4]; std::string(kv) != "f32") {
      r.kvElementType = kv;
    }
    if (i % 2) {
      r.mask = MaskKind::Causal;
      r.alignment = Alignment::BottomRight;
    }
    r.layout = i % 2 ? Layout::BSHD : Layout::BHSD;
    r.schedule.vectorWidth = pairs ? 16 : widths[i % 3];
    r.schedule.threads = 2;
    // Prefetches into L1 and into L2 (whichever the host's heuristic picks,
    // the other is covered too).
    r.schedule.prefetch = 1 + (i / 2) % 2;
    auto ir = KernelIr::build(r);
    ASSERT_TRUE(ir.ok()) << ir.status().message();
    auto kernel = CpuKernel::compile(*ir);
    ASSERT_TRUE(kernel.ok()) << ir->text() << "\n" << kernel.status().message();
    const KernelSpec &s = (*kernel)->spec();
    ASSERT_TRUE(mlir::attn::takesDecodeRowsForm(true, s.blockM))
        << ir->text() << ": block_m " << s.blockM << ", dot " << s.dot;
    ASSERT_EQ(s.prefetch, r.schedule.prefetch) << ir->text();
    ASSERT_EQ(s.dot, pairs ? 16 : 0) << ir->text();
    const DType kvType = dtypeNamed(s.kvType());
    const DType qType = dtypeNamed(s.elementType);
    for (int64_t seqKv : {int64_t(1), int64_t(17), s.blockN + 3, int64_t(300)})
      for (int64_t seqQ : {1, 3}) {
        Buffer q(s.layout, 2, seqQ, s.qHeads, s.dQk, i % 2, rng),
            k(s.layout, 2, seqKv, s.kvHeads, s.dQk, i % 2, rng),
            v(s.layout, 2, seqKv, s.kvHeads, s.dV, i % 2, rng),
            o(s.layout, 2, seqQ, s.qHeads, s.dV, i % 2, rng);
        k.convertTo(kvType);
        v.convertTo(kvType);
        q.convertTo(qType);
        o.convertTo(qType);
        o.fill(std::numeric_limits<float>::quiet_NaN());
        AttentionArgs args{q.view, k.view, v.view, o.view, {}};
        const int64_t splits = cases % 3 == 0 ? 3 : 0;
        Status st = (*kernel)->run(args, 2, splits);
        ASSERT_TRUE(st.ok()) << st.message();
        Comparison c = compareWithReference(s, args);
        EXPECT_TRUE(c.passed() && o.touchedOutsideView() == 0)
            << ir->text() << " at " << seqQ << " x " << seqKv << ", splits " << splits
            << " (seed " << seed << "): error " << c.maxError << " vs " << c.tolerance
            << ", non-finite " << c.nonFinite << ", writes outside o "
            << o.touchedOutsideView();
        ++cases;
      }
  }
  std::printf("decode rows form: %d cases, seed %llu\n", cases,
              static_cast<unsigned long long>(seed));
}

/// A copy of dense view `t`'s elements that ends where an inaccessible page
/// begins, so that reading one element past the view faults.
class EndGuardedCopy {
public:
  explicit EndGuardedCopy(const TensorView &t) : view(t) {
    const size_t bytes = static_cast<size_t>(sizeOf(t.dtype) * t.sizes[0] * t.sizes[1] *
                                             t.sizes[2] * t.sizes[3]);
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t dataBytes = (bytes + page - 1) / page * page;
    length_ = dataBytes + page;
    void *base = mmap(nullptr, length_, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED || mprotect(static_cast<char *>(base) + dataBytes, page, PROT_NONE))
      std::abort();
    base_ = static_cast<char *>(base);
    view.data = base_ + dataBytes - bytes;
    std::memcpy(view.data, t.data, bytes);
  }
  ~EndGuardedCopy() { munmap(base_, length_); }
  EndGuardedCopy(const EndGuardedCopy &) = delete;
  EndGuardedCopy &operator=(const EndGuardedCopy &) = delete;
  TensorView view;

private:
  char *base_ = nullptr;
  size_t length_ = 0;
};

// Decode reads no K or V row past the cache: K and V end where an
// inaccessible page begins (a read past them faults, and the test binary
// dies), for the rows form at each vector width (a short last tile, masked
// head-dim tails, f16) and for K^T tiles (MQA).
TEST(Numerics, DecodeReadsNothingPastTheKvCache) {
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed);
  int cases = 0;
  // Kernels 8 and 9: the rows form with bf16 products (bf16 pairs loaded
  // from K's rows, masked at an odd head-dim tail), where the host has them.
  const int kernels = mlir::attn::hostHasBf16Dot() ? 10 : 8;
  if (kernels == 8)
    std::printf("rows form with bf16 products at the cache's end: skipped, "
                "the host has no AVX512_BF16\n");
  for (int i = 0; i < kernels; ++i) {
    KernelRequest r;
    r.name = fmt::format("edge{}", i);
    r.mode = Mode::Decode;
    r.qHeads = i < 6 || i >= 8 ? 8 : 16;
    r.kvHeads = i < 6 || i >= 8 ? 2 : 1;
    r.dQk = r.dV = i >= 8 ? (i == 9 ? 19 : 128) : i % 2 ? 20 : 128;
    r.layout = Layout::BHSD;
    if (i % 4 >= 2 && i < 8)
      r.kvElementType = "f16";
    const int64_t widths[] = {4, 8, 16};
    r.schedule.vectorWidth = widths[i % 3];
    if (i >= 8) {
      r.elementType = "bf16";
      r.schedule.dot = 16;
      r.schedule.vectorWidth = 16;
    }
    r.schedule.threads = 1;
    auto ir = KernelIr::build(r);
    ASSERT_TRUE(ir.ok()) << ir.status().message();
    auto kernel = CpuKernel::compile(*ir);
    ASSERT_TRUE(kernel.ok()) << ir->text() << "\n" << kernel.status().message();
    const KernelSpec &s = (*kernel)->spec();
    EXPECT_EQ(mlir::attn::takesDecodeRowsForm(true, s.blockM), i < 6 || i >= 8)
        << ir->text();
    const DType kvType = dtypeNamed(s.kvType());
    for (int64_t seqKv : {int64_t(1), int64_t(17), s.blockN + 3}) {
      Buffer q(s.layout, 1, 1, s.qHeads, s.dQk, false, rng),
          k(s.layout, 1, seqKv, s.kvHeads, s.dQk, false, rng),
          v(s.layout, 1, seqKv, s.kvHeads, s.dV, false, rng),
          o(s.layout, 1, 1, s.qHeads, s.dV, false, rng);
      k.convertTo(kvType);
      v.convertTo(kvType);
      q.convertTo(dtypeNamed(s.elementType));
      o.convertTo(dtypeNamed(s.elementType));
      EndGuardedCopy guardedK(k.view), guardedV(v.view);
      AttentionArgs args{q.view, guardedK.view, guardedV.view, o.view, {}};
      Status st = (*kernel)->run(args, 1);
      ASSERT_TRUE(st.ok()) << st.message();
      Comparison c = compareWithReference(s, args);
      EXPECT_TRUE(c.passed()) << ir->text() << " at seq_kv " << seqKv << " (seed " << seed
                              << "): error " << c.maxError << " vs " << c.tolerance;
      ++cases;
    }
  }
  std::printf("decode at the cache's end: %d cases, seed %llu\n", cases,
              static_cast<unsigned long long>(seed));
}

// The heuristic's prefetch level for the decode rows form follows the
// host's L1d (48 KiB or more: into L1, else into L2); kernels without the
// rows form get none.
TEST(Numerics, DecodePrefetchLevelFollowsTheHost) {
  const int64_t l1d = mlir::attn::hostL1dBytes();
  std::printf("host L1d: %lld bytes\n", static_cast<long long>(l1d));
  KernelRequest r;
  r.mode = Mode::Decode;
  r.qHeads = 32;
  r.dQk = 128;
  for (int64_t kvHeads : {8, 1}) {
    r.kvHeads = kvHeads;
    auto ir = KernelIr::build(r);
    ASSERT_TRUE(ir.ok()) << ir.status().message();
    auto kernel = CpuKernel::compile(*ir);
    ASSERT_TRUE(kernel.ok()) << kernel.status().message();
    EXPECT_EQ((*kernel)->spec().prefetch,
              kvHeads == 1                                    ? 0
              : l1d >= mlir::attn::kMinL1dBytesForL1Prefetch ? 1
                                                              : 2)
        << "kv heads " << kvHeads;
  }
}

// The heuristic picks bf16 products where the host multiplies bf16 pairs
// fast; a kernel that asks for them explicitly compiles only where the host
// has the instructions, and is refused by name elsewhere.
TEST(Numerics, Bf16ProductsFollowTheHost) {
  KernelRequest r;
  r.qHeads = 4;
  r.kvHeads = 2;
  r.dQk = r.dV = 64;
  r.elementType = "bf16";
  auto ir = KernelIr::build(r);
  ASSERT_TRUE(ir.ok()) << ir.status().message();
  auto heuristic = CpuKernel::compile(*ir);
  ASSERT_TRUE(heuristic.ok()) << heuristic.status().message();
  EXPECT_EQ((*heuristic)->spec().dot,
            mlir::attn::hostHasFastBf16Dot() ? 16 : 0);

  r.schedule.dot = 16;
  auto forced = KernelIr::build(r);
  ASSERT_TRUE(forced.ok()) << forced.status().message();
  auto kernel = CpuKernel::compile(*forced);
  if (mlir::attn::hostHasBf16Dot()) {
    ASSERT_TRUE(kernel.ok()) << kernel.status().message();
    EXPECT_EQ((*kernel)->spec().dot, 16);
  } else {
    ASSERT_FALSE(kernel.ok());
    EXPECT_NE(kernel.status().message().find(
                  "has schedule dot = 16 (bf16 products by vdpbf16ps), but "
                  "this host's CPU ("),
              std::string::npos)
        << kernel.status().message();
    EXPECT_NE(kernel.status().message().find(") has no AVX512_BF16; use dot = 32"),
              std::string::npos)
        << kernel.status().message();
  }
}

} // namespace

namespace {

// Whatever the verifier accepts either runs correctly or is rejected by
// name: the extreme corners of the schedule space (tiles from 1 row to 1024,
// head dims 1 to 512), each run at a length with a tail, on the pool's
// threads. A schedule whose tiles would overflow a thread's stack is
// refused with the stack rule's message, never a crash.
TEST(Numerics, ExtremeSchedulesRunOrAreRejectedByName) {
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed);
  struct Corner {
    int64_t blockM, blockN, microM, microN, width, d, seq;
    bool runs; // the stack rule's verdict, which the run must agree with
  };
  const Corner corners[] = {
      {1, 4, 1, 4, 4, 1, 37, true},            // the smallest tile, d 1
      {1024, 16, 16, 16, 16, 64, 1100, true},  // tallest tile
      {16, 1024, 1, 128, 16, 64, 1100, true},  // widest tile
      {128, 128, 8, 32, 16, 512, 300, true},   // largest head dim
      {512, 512, 8, 32, 16, 128, 600, true},   // 1.5 MiB of tiles
      {1024, 512, 16, 32, 16, 256, 1100, false}, // 3 MiB
      {1024, 1024, 16, 128, 16, 512, 1100, false},
  };
  for (const Corner &c : corners) {
    KernelRequest r;
    r.name = "corner";
    r.qHeads = 2;
    r.kvHeads = 1;
    r.dQk = r.dV = c.d;
    r.mask = MaskKind::Causal;
    r.alignment = Alignment::BottomRight;
    r.schedule.blockM = c.blockM;
    r.schedule.blockN = c.blockN;
    r.schedule.microM = c.microM;
    r.schedule.microN = c.microN;
    r.schedule.vectorWidth = c.width;
    r.schedule.threads = 2;
    const std::string what = fmt::format(
        "block_m {} block_n {} micro {}x{} width {} d {} (seed {})", c.blockM,
        c.blockN, c.microM, c.microN, c.width, c.d, seed);
    auto kernel = attnc::test::compileRequest(r);
    if (!c.runs) {
      ASSERT_FALSE(kernel.ok()) << what;
      EXPECT_NE(kernel.status().message().find(
                    "KiB of stack for its tiles; the cpu backend allows at "
                    "most 2048 KiB"),
                std::string::npos)
          << what << ": " << kernel.status().message();
      continue;
    }
    ASSERT_TRUE(kernel.ok()) << what << ": " << kernel.status().message();
    const KernelSpec &s = (*kernel)->spec();
    Buffer q(s.layout, 1, c.seq, 2, c.d, false, rng),
        k(s.layout, 1, c.seq, 1, c.d, false, rng),
        v(s.layout, 1, c.seq, 1, c.d, false, rng),
        o(s.layout, 1, c.seq, 2, c.d, false, rng);
    AttentionArgs args{q.view, k.view, v.view, o.view, {}};
    ASSERT_TRUE((*kernel)->run(args, 2).ok()) << what;
    Comparison cmp = compareWithReference(s, args);
    EXPECT_TRUE(cmp.passed()) << what << ": error " << cmp.maxError
                              << " vs " << cmp.tolerance;
  }
}

} // namespace
