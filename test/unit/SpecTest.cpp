#include "runtime/CpuKernel.h"
#include "runtime/KernelIr.h"
#include "runtime/Spec.h"

#include <gtest/gtest.h>

using namespace attnc;

namespace {

TEST(Spec, VisiblePairsMatchesThePredicate) {
  for (MaskKind mask :
       {MaskKind::None, MaskKind::Causal, MaskKind::SlidingWindow})
    for (Alignment align : {Alignment::TopLeft, Alignment::BottomRight})
      for (auto [seqQ, seqKv] : {std::pair<int64_t, int64_t>{1, 1},
                                 {17, 5},
                                 {5, 17},
                                 {64, 64}}) {
        KernelSpec s;
        s.mask = mask;
        s.alignment = align;
        s.windowLeft = 3;
        s.windowRight = 1;
        int64_t brute = 0;
        for (int64_t q = 0; q < seqQ; ++q)
          for (int64_t k = 0; k < seqKv; ++k)
            brute += isVisible(s, q, k, seqQ, seqKv);
        EXPECT_EQ(visiblePairs(s, seqQ, seqKv), brute)
            << toString(mask) << " " << toString(align) << " " << seqQ << "x"
            << seqKv;
      }
}

TEST(Spec, AlignmentPlacesTheDiagonal) {
  KernelSpec s;
  s.mask = MaskKind::Causal;
  s.alignment = Alignment::TopLeft;
  EXPECT_TRUE(isVisible(s, 0, 0, 2, 5));
  EXPECT_FALSE(isVisible(s, 0, 1, 2, 5));
  s.alignment = Alignment::BottomRight; // row 0 of 2 sees keys 0..3 of 5
  EXPECT_TRUE(isVisible(s, 0, 3, 2, 5));
  EXPECT_FALSE(isVisible(s, 0, 4, 2, 5));
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
