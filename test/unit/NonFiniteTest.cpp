// NaN and inf inputs follow PyTorch's scaled_dot_product_attention: a NaN
// (or a +inf) that reaches a visible score makes that row's O and LSE NaN;
// a NaN in v reaches the output columns of the rows that see its key; a
// fully masked row still gives 0 and LSE -inf. The float64 reference states
// the rule, the kernel must match it element by element, and each case also
// counts the NaN rows independently so that it cannot pass vacuously.
#include "TestUtil.h"

#include "runtime/CpuKernel.h"
#include "runtime/Reference.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace attnc;
using attnc::test::Buffer;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

struct Poison {
  const char *tensor; // "q", "k" or "v"
  int64_t head, pos, dim;
  float value;
};

struct Kernel {
  const char *name;
  KernelRequest request;
  int64_t seqQ, seqKv, splits;
};

std::vector<Kernel> kernels() {
  std::vector<Kernel> out;
  auto base = [] {
    KernelRequest r;
    r.qHeads = 4;
    r.kvHeads = 2;
    r.dQk = 40;
    r.dV = 24;
    r.lse = true;
    return r;
  };
  KernelRequest dense = base();
  dense.name = "dense";
  out.push_back({"dense prefill", dense, 113, 113, 1});
  KernelRequest causal = base();
  causal.name = "causal";
  causal.mask = MaskKind::Causal;
  causal.alignment = Alignment::BottomRight;
  // seq_q > seq_kv: the first 20 rows are fully masked.
  out.push_back({"causal, fully masked rows", causal, 77, 57, 1});
  KernelRequest decode = base();
  decode.name = "decode";
  decode.mode = Mode::Decode;
  out.push_back({"decode, 3 kv splits", decode, 3, 1023, 3});
  KernelRequest capped = base();
  capped.name = "capped";
  capped.softcap = 20;
  capped.mask = MaskKind::SlidingWindow;
  capped.alignment = Alignment::TopLeft;
  capped.windowLeft = 16;
  capped.windowRight = 0;
  out.push_back({"softcap, sliding window, 2 kv splits", capped, 64, 64, 2});
  return out;
}

TEST(NonFinite, NaNAndInfFollowPyTorchOnTheCpu) {
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed);
  int nanRowsSeen = 0;
  for (const Kernel &kc : kernels()) {
    auto kernel = attnc::test::compileRequest(kc.request);
    ASSERT_TRUE(kernel.ok()) << kernel.status().message();
    const KernelSpec &s = (*kernel)->spec();
    const int64_t group = s.qHeads / s.kvHeads;
    // Positions inside every shape: the key seq_kv - 1 is seen by the last
    // rows of every mask here, key 0 by none past the window.
    const int64_t lastKey = kc.seqKv - 1, row = kc.seqQ - 1;
    const Poison poisons[] = {
        {"q", 1, row, 3, kNaN},    {"k", 0, lastKey, 7, kNaN},
        {"q", 2, row, 0, kInf},    {"k", 1, lastKey, 5, -kInf},
        {"v", 1, lastKey, 2, kNaN}, {"q", 3, 0, 1, kNaN},
    };
    for (const Poison &poison : poisons) {
      Layout layout = s.layout;
      Buffer q(layout, 1, kc.seqQ, s.qHeads, s.dQk, false, rng);
      Buffer k(layout, 1, kc.seqKv, s.kvHeads, s.dQk, false, rng);
      Buffer v(layout, 1, kc.seqKv, s.kvHeads, s.dV, false, rng);
      Buffer o(layout, 1, kc.seqQ, s.qHeads, s.dV, false, rng);
      Buffer &target = poison.tensor[0] == 'q' ? q
                       : poison.tensor[0] == 'k' ? k
                                                 : v;
      target.view.at(0, poison.head, poison.pos, poison.dim) = poison.value;
      std::vector<float> lse(s.qHeads * kc.seqQ, 0.f);
      AttentionArgs args{q.view, k.view, v.view, o.view,
                         lseView(lse.data(), 1, s.qHeads, kc.seqQ)};
      ASSERT_TRUE((*kernel)->run(args, 0, kc.splits).ok());
      Comparison c = compareWithReference(s, args);
      const std::string what =
          fmt::format("{}: {}[head {}, pos {}, dim {}] = {} (seed {})", kc.name,
                      poison.tensor, poison.head, poison.pos, poison.dim,
                      poison.value, seed);
      EXPECT_TRUE(c.passed())
          << what << ": error " << c.maxError << " vs " << c.tolerance
          << (c.nonFinite ? ", NaN/inf where the reference is finite" : "")
          << (c.nanMissing ? ", a number where the reference is NaN" : "")
          << (c.lseMismatch ? ", LSE -inf mismatch" : "");
      // Independently: which rows must be NaN. A poisoned product q_d k_d
      // makes the score NaN when it is NaN, +inf or -inf by its sign (a
      // softcap maps +-inf to +-cap: finite); a NaN or +inf score makes
      // the row NaN. A v poison: the rows that see its key, in column
      // `dim` only.
      ModEvaluator mods(s, args);
      auto poisonsRow = [&](float product) {
        return std::isnan(product) || (s.softcap == 0 && product == kInf);
      };
      int64_t expectRows = 0, gotRows = 0;
      for (int64_t h = 0; h < s.qHeads; ++h)
        for (int64_t i = 0; i < kc.seqQ; ++i) {
          bool any = false, poisoned = false;
          for (int64_t j = 0; j < kc.seqKv; ++j) {
            if (!mods.visible(0, h, i, j))
              continue;
            any = true;
            float product =
                q.view.at(0, h, i, poison.dim) * k.view.at(0, h / group, j, poison.dim);
            if (poison.tensor[0] == 'q')
              poisoned |= h == poison.head && i == poison.pos && poisonsRow(product);
            else if (h / group == poison.head && j == poison.pos)
              poisoned |= poison.tensor[0] == 'v' || poisonsRow(product);
          }
          expectRows += poisoned;
          int64_t d = poison.tensor[0] == 'v' ? poison.dim : 0;
          bool nanRow = std::isnan(o.view.at(0, h, i, d));
          gotRows += nanRow;
          if (poison.tensor[0] != 'v') {
            EXPECT_EQ(std::isnan(lse[h * kc.seqQ + i]), poisoned)
                << what << ": LSE of head " << h << " row " << i;
          }
          if (!any) {
            EXPECT_EQ(o.view.at(0, h, i, 0), 0.f) << what << ": masked row " << i;
            EXPECT_EQ(lse[h * kc.seqQ + i], -kInf) << what << ": masked row " << i;
          }
        }
      // A v poison must reach the rows that see its key, and may reach
      // others whose tiles hold it (masked probability 0 times NaN).
      if (poison.tensor[0] == 'v')
        EXPECT_GE(gotRows, expectRows) << what;
      else
        EXPECT_EQ(gotRows, expectRows) << what;
      nanRowsSeen += gotRows;
    }
  }
  EXPECT_GT(nanRowsSeen, 24) << "the poisons must reach some rows";
}

} // namespace

namespace {

// The check itself: a number where the reference is NaN fails it, and so
// does a NaN where the reference is a number.
TEST(NonFinite, TheCheckRejectsNaNWhereTheReferenceHasANumberAndBack) {
  std::mt19937_64 rng(attnc::test::testSeed());
  KernelRequest r;
  r.qHeads = 2;
  r.dQk = r.dV = 16;
  auto kernel = attnc::test::compileRequest(r);
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  const KernelSpec &s = (*kernel)->spec();
  Buffer q(s.layout, 1, 9, 2, 16, false, rng), k(s.layout, 1, 9, 2, 16, false, rng),
      v(s.layout, 1, 9, 2, 16, false, rng), o(s.layout, 1, 9, 2, 16, false, rng);
  q.view.at(0, 1, 4, 0) = kNaN;
  AttentionArgs args{q.view, k.view, v.view, o.view, {}};
  ASSERT_TRUE((*kernel)->run(args, 1).ok());
  Comparison c = compareWithReference(s, args);
  EXPECT_TRUE(c.passed());
  ASSERT_TRUE(std::isnan(o.view.at(0, 1, 4, 7)));
  o.view.at(0, 1, 4, 7) = 0.f; // a number where the reference is NaN
  c = compareWithReference(s, args);
  EXPECT_TRUE(c.nanMissing);
  EXPECT_FALSE(c.passed());
  o.view.at(0, 1, 4, 7) = kNaN;
  o.view.at(0, 0, 2, 3) = kNaN; // NaN where the reference is a number
  c = compareWithReference(s, args);
  EXPECT_TRUE(c.nonFinite);
  EXPECT_FALSE(c.passed());
}

} // namespace
