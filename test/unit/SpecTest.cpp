#include "runtime/CpuKernel.h"
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

TEST(Spec, FlagsSpecSurvivesTheCompilerUnchanged) {
  KernelSpec in;
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
  in.blockM = 24;
  in.blockN = 16;
  in.microM = 3;
  in.microN = 16;
  in.vectorWidth = 8;
  in.threads = 5;
  auto kernel = CpuKernel::compile(in);
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  const KernelSpec &out = (*kernel)->spec();
  EXPECT_EQ(toMlir(out), toMlir(in));
}

} // namespace
