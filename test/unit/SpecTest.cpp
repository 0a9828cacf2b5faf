#include "TestUtil.h"

#include "runtime/CpuKernel.h"
#include "runtime/KernelIr.h"
#include "runtime/Reference.h"
#include "runtime/Spec.h"

#include <gtest/gtest.h>

using namespace attnc;

namespace {

/// Call arguments that give only the shape (no data): what the mask and
/// range programs read.
AttentionArgs shapeOnly(int64_t batch, int64_t seqQ, int64_t seqKv,
                        int64_t heads) {
  AttentionArgs a;
  a.q.sizes = {batch, heads, seqQ, 8};
  a.k.sizes = {batch, heads, seqKv, 8};
  return a;
}

KernelIr maskKernel(MaskKind mask, Alignment align, int64_t left = 3,
                    int64_t right = 1) {
  KernelRequest r;
  r.qHeads = 2;
  r.dQk = 8;
  r.mask = mask;
  r.alignment = mask == MaskKind::None ? Alignment::Unset : align;
  if (mask == MaskKind::SlidingWindow)
    r.windowLeft = left, r.windowRight = right;
  return attnc::test::irOf(r);
}

TEST(Spec, VisiblePairsCountsTheMask) {
  for (MaskKind mask :
       {MaskKind::None, MaskKind::Causal, MaskKind::SlidingWindow})
    for (Alignment align : {Alignment::TopLeft, Alignment::BottomRight})
      for (auto [seqQ, seqKv] : {std::pair<int64_t, int64_t>{1, 1},
                                 {17, 5},
                                 {5, 17},
                                 {64, 64}}) {
        KernelIr ir = maskKernel(mask, align);
        AttentionArgs a = shapeOnly(2, seqQ, seqKv, 2);
        ModEvaluator mods(ir.view(), a);
        int64_t brute = 0;
        for (int64_t b = 0; b < 2; ++b)
          for (int64_t h = 0; h < 2; ++h)
            for (int64_t q = 0; q < seqQ; ++q)
              for (int64_t k = 0; k < seqKv; ++k)
                brute += mods.visible(b, h, q, k);
        EXPECT_EQ(visiblePairs(ir.view(), a), brute)
            << toString(mask) << " " << toString(align) << " " << seqQ << "x"
            << seqKv;
      }
}

TEST(Spec, AlignmentPlacesTheDiagonal) {
  AttentionArgs a = shapeOnly(1, 2, 5, 2);
  ModEvaluator topLeft(maskKernel(MaskKind::Causal, Alignment::TopLeft).view(), a);
  EXPECT_TRUE(topLeft.visible(0, 0, 0, 0));
  EXPECT_FALSE(topLeft.visible(0, 0, 0, 1));
  // Row 0 of 2 sees keys 0..3 of 5.
  ModEvaluator bottomRight(
      maskKernel(MaskKind::Causal, Alignment::BottomRight).view(), a);
  EXPECT_TRUE(bottomRight.visible(0, 0, 0, 3));
  EXPECT_FALSE(bottomRight.visible(0, 0, 0, 4));
}

/// The key range of every built-in mask is sound (no visible key outside
/// [lo, hi), no masked key inside [full_lo, full_hi)) and, for one row,
/// exact: the backends skip and trust tiles by it.
TEST(Spec, BuiltinKeyRangesAreSoundAndExactForOneRow) {
  std::mt19937_64 rng(attnc::test::testSeed());
  auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  for (int trial = 0; trial < 300; ++trial) {
    MaskKind mask = trial % 3 == 0   ? MaskKind::None
                    : trial % 3 == 1 ? MaskKind::Causal
                                     : MaskKind::SlidingWindow;
    Alignment align = trial % 2 ? Alignment::TopLeft : Alignment::BottomRight;
    KernelIr ir = maskKernel(mask, align, uniform(0, 40), uniform(0, 40));
    int64_t seqQ = uniform(1, 90), seqKv = uniform(1, 90);
    ModEvaluator mods(ir.view(), shapeOnly(1, seqQ, seqKv, 2));
    int64_t qFirst = uniform(0, seqQ - 1), qLast = uniform(qFirst, seqQ - 1);
    int64_t r[4];
    ASSERT_TRUE(mods.range(qFirst, qLast, r));
    for (int64_t q = qFirst; q <= qLast; ++q)
      for (int64_t k = 0; k < seqKv; ++k) {
        bool visible = mods.visible(0, 0, q, k);
        if (visible) {
          ASSERT_TRUE(k >= r[0] && k < r[1])
              << ir.text() << " rows " << qFirst << ".." << qLast << " key "
              << k;
        }
        if (k >= r[2] && k < r[3]) {
          ASSERT_TRUE(visible) << ir.text() << " row " << q << " key " << k;
        }
      }
    int64_t one[4];
    mods.range(qFirst, qFirst, one);
    for (int64_t k = 0; k < seqKv; ++k)
      ASSERT_EQ(mods.visible(0, 0, qFirst, k), k >= one[2] && k < one[3])
          << ir.text() << " row " << qFirst << " key " << k;
  }
}

TEST(Spec, RequestedFieldsSurviveTheCompilerUnchanged) {
  KernelRequest in;
  in.name = "roundtrip";
  in.qHeads = 6;
  in.kvHeads = 3;
  in.dQk = 48;
  in.dV = 24;
  in.scale = 0.3;
  in.softcap = 12.5;
  in.mask = MaskKind::SlidingWindow;
  in.alignment = Alignment::TopLeft;
  in.windowLeft = 7;
  in.windowRight = 2;
  in.layout = Layout::BHSD;
  in.mode = Mode::Decode;
  in.lse = true;
  in.schedule.blockM = 24;
  in.schedule.blockN = 16;
  in.schedule.microM = 3;
  in.schedule.microN = 16;
  in.schedule.vectorWidth = 8;
  in.schedule.threads = 5;
  auto ir = KernelIr::build(in);
  ASSERT_TRUE(ir.ok()) << ir.status().message();
  auto kernel = CpuKernel::compile(*ir);
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  const KernelSpec &out = (*kernel)->spec();
  EXPECT_EQ(out.name, in.name);
  EXPECT_EQ(out.qHeads, in.qHeads);
  EXPECT_EQ(out.kvHeads, in.kvHeads);
  EXPECT_EQ(out.dQk, in.dQk);
  EXPECT_EQ(out.dV, in.dV);
  EXPECT_EQ(out.scale, in.scale);
  EXPECT_EQ(out.softcap, in.softcap);
  EXPECT_EQ(out.mask, in.mask);
  EXPECT_EQ(out.alignment, in.alignment);
  EXPECT_EQ(out.windowLeft, in.windowLeft);
  EXPECT_EQ(out.windowRight, in.windowRight);
  EXPECT_EQ(out.layout, in.layout);
  EXPECT_EQ(out.mode, in.mode);
  EXPECT_EQ(out.lse, in.lse);
  EXPECT_EQ(out.blockM, in.schedule.blockM);
  EXPECT_EQ(out.blockN, in.schedule.blockN);
  EXPECT_EQ(out.microM, in.schedule.microM);
  EXPECT_EQ(out.microN, in.schedule.microN);
  EXPECT_EQ(out.vectorWidth, in.schedule.vectorWidth);
  EXPECT_EQ(out.threads, in.schedule.threads);
}

TEST(Spec, BuiltAndParsedKernelsAreOneIdentity) {
  KernelRequest r;
  r.name = "same";
  r.qHeads = 8;
  r.kvHeads = 2;
  r.dQk = 64;
  r.mask = MaskKind::Causal;
  r.alignment = Alignment::BottomRight;
  auto built = KernelIr::build(r);
  ASSERT_TRUE(built.ok()) << built.status().message();
  // The same kernel written by hand, with other spacing and attribute order.
  auto parsed = KernelIr::parse(
      "attn.kernel @same attributes {mask = #attn.mask<causal, bottom_right>,"
      "\n  d_qk = 64, kv_heads = 2, q_heads = 8, element_type = f32,"
      " layout = #attn.layout<bshd>}");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(built->text(), parsed->text());
  EXPECT_EQ(built->problemKey(), parsed->problemKey());
  // Defaults written out compute the same thing: same problem, other text.
  auto explicitDefaults = KernelIr::parse(
      "attn.kernel @other_name attributes {q_heads = 8, kv_heads = 2, "
      "d_qk = 64, d_v = 64, element_type = f32, scale = 0.125, "
      "mask = #attn.mask<causal, bottom_right>, "
      "schedule = #attn.schedule<block_m = 32>}");
  ASSERT_TRUE(explicitDefaults.ok()) << explicitDefaults.status().message();
  EXPECT_NE(explicitDefaults->text(), built->text());
  EXPECT_EQ(explicitDefaults->problemKey(), built->problemKey());
  // Another mask alignment is another problem.
  r.alignment = Alignment::TopLeft;
  auto other = KernelIr::build(r);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->problemKey(), built->problemKey());
}

TEST(Spec, WithScheduleSetsOnlyTheGivenFields) {
  auto ir = KernelIr::parse(
      "attn.kernel @k attributes {q_heads = 2, d_qk = 16, element_type = f32, "
      "schedule = #attn.schedule<block_m = 32, threads = 3>}");
  ASSERT_TRUE(ir.ok()) << ir.status().message();
  Schedule s;
  s.blockN = 64;
  s.threads = 2;
  auto tuned = ir->withSchedule(s);
  ASSERT_TRUE(tuned.ok()) << tuned.status().message();
  EXPECT_EQ(tuned->view().blockM, 32);
  EXPECT_EQ(tuned->view().blockN, 64);
  EXPECT_EQ(tuned->view().threads, 2);
  EXPECT_EQ(tuned->problemKey(), ir->problemKey());
  s.blockM = -4;
  auto bad = ir->withSchedule(s);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(
                "schedule 'block_m' (-4) must be >= 0 (0 means unset)"),
            std::string::npos)
      << bad.status().message();
}

} // namespace
