// Block-sparse kernels (#attn.block_sparse) on the CPU: random block masks
// of random density, with and without a mask of their own, against the
// float64 reference (which applies the same block mask); the block-mask
// builder against brute force; and every rejection of a bad block mask.
#include "RandomKernels.h"
#include "TestUtil.h"

#include "compiler/AttnToSCF/WorkSplit.h"
#include "runtime/BlockMask.h"
#include "runtime/CpuKernel.h"
#include "runtime/Reference.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

using namespace attnc;
using attnc::test::Buffer;
using attnc::test::regions::chance;
using attnc::test::regions::randomBlockMask;
using attnc::test::regions::uniform;

namespace {

std::string maskFor(std::mt19937_64 &rng) {
  switch (uniform(rng, 0, 3)) {
  case 0:
    return "mask = #attn.mask<none>";
  case 1:
    return "mask = #attn.mask<causal, bottom_right>";
  case 2:
    return "mask = #attn.mask<sliding_window, left = 40, right = 5, top_left>";
  default: // a custom mask that depends on h
    return "mask = #attn.mask<custom>} mask {\n^bb0(%b: index, %h: index, %q: "
           "index, %k: index):\n  %d = arith.addi %q, %h : index\n  %c = "
           "arith.cmpi sge, %d, %k : index\n  attn.yield %c : i1\n}";
  }
}

TEST(BlockSparse, RandomBlockMasksMatchFloat64Reference) {
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed ^ 0xb10c);
  int failures = 0;
  for (int n = 0; n < 12; ++n) {
    int64_t blockKv = 16 * uniform(rng, 1, 4), blockQ = 16 * uniform(rng, 1, 4);
    int64_t kvHeads = uniform(rng, 1, 2), qHeads = kvHeads * uniform(rng, 1, 3);
    int64_t d = chance(rng, 0.5) ? 32 : uniform(rng, 1, 70);
    int64_t dV = chance(rng, 0.7) ? d : uniform(rng, 1, 70);
    std::string mask = maskFor(rng);
    size_t close = mask.find('}');
    std::string attrs = mask.substr(0, close), regions =
        close == std::string::npos ? "" : mask.substr(close + 1);
    // Block masks combine with every score modifier.
    switch (uniform(rng, 0, 3)) {
    case 0:
      break;
    case 1:
      attrs += ", softcap = 3.0";
      break;
    case 2:
      attrs += ", score_mod = #attn.score_mod<alibi>";
      break;
    default: // a custom score that depends on h, q and k
      attrs += ", score_mod = #attn.score_mod<custom>";
      regions += " score {\n^bb0(%s: f32, %b: index, %h: index, %q: index, "
                 "%k: index):\n  %d = arith.subi %q, %k : index\n  %i = "
                 "arith.addi %d, %h : index\n  %n = arith.index_cast %i : "
                 "index to i64\n  %f = arith.sitofp %n : i64 to f32\n  %c = "
                 "arith.constant 0.01 : f32\n  %t = arith.mulf %f, %c : f32\n  "
                 "%r = arith.subf %s, %t : f32\n  attn.yield %r : f32\n}";
      break;
    }
    // One kernel in three is a decode kernel of 4-row tiles, which takes
    // the rows form (scores from K's rows, V in place).
    const bool rows = n % 3 == 2;
    if (rows)
      attrs += ", mode = #attn.mode<decode>, schedule = #attn.schedule<block_m = 4>";
    std::string text = fmt::format(
        "attn.kernel @sparse{} attributes {{q_heads = {}, kv_heads = {}, d_qk "
        "= {}, d_v = {}, element_type = f32, lse = {}, block_sparse = "
        "#attn.block_sparse<block_q = {}, block_kv = {}>, {}}}{}",
        n, qHeads, kvHeads, d, dV, n % 2 ? "true" : "false", blockQ, blockKv,
        attrs, regions);
    auto kernel = attnc::test::compileText(text, "<block sparse>");
    ASSERT_TRUE(kernel.ok()) << text << "\n" << kernel.status().message();
    const KernelSpec &s = (*kernel)->spec();
    EXPECT_EQ(mlir::attn::takesDecodeRowsForm(s.mode == Mode::Decode, s.blockM), rows)
        << text;
    EXPECT_EQ(blockQ % s.blockM, 0) << text;
    EXPECT_EQ(blockKv % s.blockN, 0) << text;
    for (int shape = 0; shape < 3; ++shape) {
      int64_t batch = uniform(rng, 1, 2), seqQ = uniform(rng, 1, 200),
              seqKv = uniform(rng, 1, 260);
      Buffer q(s.layout, batch, seqQ, s.qHeads, s.dQk, false, rng);
      Buffer k(s.layout, batch, seqKv, s.kvHeads, s.dQk, false, rng);
      Buffer v(s.layout, batch, seqKv, s.kvHeads, s.dV, false, rng);
      Buffer o(s.layout, batch, seqQ, s.qHeads, s.dV, false, rng);
      std::vector<float> lse(batch * s.qHeads * seqQ);
      AttentionArgs args{q.view, k.view, v.view, o.view, {}};
      if (s.lse)
        args.lse = lseView(lse.data(), batch, s.qHeads, seqQ);
      double density = std::uniform_real_distribution<double>(0.05, 1)(rng);
      BlockMask m = randomBlockMask(rng, s, batch, seqQ, seqKv, density);
      args.blockMask = m.args();
      Status st = (*kernel)->run(args, 2);
      ASSERT_TRUE(st.ok()) << st.message();
      Comparison c = compareWithReference(s, args);
      if (!c.passed() && ++failures <= 5)
        ADD_FAILURE() << fmt::format(
            "seed {}: {}\n  batch {} seq_q {} seq_kv {} density {:.2f} (b {} "
            "h {}): error {:.3g} > {:.3g}, non-finite {}, lse mismatch {}",
            seed, text, batch, seqQ, seqKv, density, m.batch, m.heads,
            c.maxError, c.tolerance, c.nonFinite, c.lseMismatch);
    }
  }
}

/// The builder's blocks are exactly what the mask says, pair by pair.
TEST(BlockSparse, BuilderClassifiesBlocksExactly) {
  std::mt19937_64 rng(attnc::test::testSeed());
  const char *masks[] = {
      "mask = #attn.mask<causal, bottom_right>}",
      "mask = #attn.mask<sliding_window, left = 70, right = 9, top_left>}",
      "mask = #attn.mask<none>}",
      // a custom causal mask and a document mask over an input
      "mask = #attn.mask<custom>} mask {\n^bb0(%b: index, %h: index, %q: "
      "index, %k: index):\n  %c = arith.cmpi ule, %k, %q : index\n  "
      "attn.yield %c : i1\n}",
      "mask = #attn.mask<custom>, inputs = [#attn.input<\"doc\", i32, [batch, "
      "seq_kv]>]} mask {\n^bb0(%b: index, %h: index, %q: index, %k: "
      "index):\n  %dq = attn.load @doc[%b, %q] : i32\n  %dk = attn.load "
      "@doc[%b, %k] : i32\n  %c = arith.cmpi eq, %dq, %dk : i32\n  attn.yield "
      "%c : i1\n}"};
  for (const char *mask : masks) {
    std::string text = fmt::format(
        "attn.kernel @built attributes {{q_heads = 2, d_qk = 16, element_type "
        "= f32, block_sparse = #attn.block_sparse<block_q = 32, block_kv = "
        "16>, {}",
        mask);
    auto ir = KernelIr::parse(text);
    ASSERT_TRUE(ir.ok()) << text << "\n" << ir.status().message();
    const KernelSpec &s = ir->view();
    int64_t batch = 2, seqQ = uniform(rng, 1, 150), seqKv = uniform(rng, 1, 150);
    AttentionArgs a;
    a.q.sizes = {batch, 2, seqQ, 16};
    a.k.sizes = {batch, 2, seqKv, 16};
    std::vector<int32_t> doc(batch * seqKv);
    for (int64_t i = 0; i < batch * seqKv; ++i)
      doc[i] = static_cast<int32_t>((i % seqKv) / 23 + i / seqKv);
    if (!s.inputs.empty())
      a.inputs.push_back({"doc", doc.data(), DType::I32, {batch, seqKv}, {seqKv, 1}});
    auto m = buildBlockMask(s, a);
    ASSERT_TRUE(m.ok()) << m.status().message();
    // Broadcast only where the mask reads neither b nor h.
    EXPECT_EQ(m->batch, s.inputs.empty() ? 1 : batch) << text;
    EXPECT_EQ(m->heads, 1) << text;
    ModEvaluator plain(s, a);
    AttentionArgs withBlocks = a;
    withBlocks.blockMask = m->args();
    ASSERT_TRUE(validateBlockMask(s, withBlocks).ok());
    ModEvaluator blocked(s, withBlocks);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t q = 0; q < seqQ; ++q)
        for (int64_t k = 0; k < seqKv; ++k)
          ASSERT_EQ(blocked.visible(b, 1, q, k), plain.visible(b, 1, q, k))
              << text << "\n b " << b << " q " << q << " k " << k;
    // And the lists are tight: a full block has no masked pair, a partial
    // one has both kinds.
    for (int64_t qb = 0; qb < m->qBlocks; ++qb)
      for (int list = 0; list < 2; ++list) {
        const auto &counts = list ? m->fullNumBlocks : m->numBlocks;
        const auto &indices = list ? m->fullIndices : m->indices;
        for (int32_t j = 0; j < counts[qb]; ++j) {
          int64_t kb = indices[qb * m->kvBlocks + j];
          bool visible = false, masked = false;
          for (int64_t q = qb * 32; q < std::min(seqQ, qb * 32 + 32); ++q)
            for (int64_t k = kb * 16; k < std::min(seqKv, kb * 16 + 16); ++k)
              (plain.visible(0, 0, q, k) ? visible : masked) = true;
          EXPECT_TRUE(visible) << text;
          EXPECT_EQ(masked, list == 0) << text << " block " << qb << "," << kb;
        }
      }
  }
}

/// A kernel given its own mask's block mask computes what it computes
/// densely.
TEST(BlockSparse, OwnBlockMaskMatchesTheDenseKernel) {
  std::mt19937_64 rng(attnc::test::testSeed());
  auto kernel = attnc::test::compileText(
      "attn.kernel @causal_blocks attributes {q_heads = 4, kv_heads = 2, "
      "d_qk = 32, element_type = f32, block_sparse = "
      "#attn.block_sparse<block_q = 64, block_kv = 64>, mask = "
      "#attn.mask<custom>} mask {\n^bb0(%b: index, %h: index, %q: index, %k: "
      "index):\n  %c = arith.cmpi ule, %k, %q : index\n  attn.yield %c : "
      "i1\n}");
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  const KernelSpec &s = (*kernel)->spec();
  Buffer q(s.layout, 1, 300, 4, 32, false, rng), k(s.layout, 1, 300, 2, 32, false, rng),
      v(s.layout, 1, 300, 2, 32, false, rng), o(s.layout, 1, 300, 4, 32, false, rng);
  AttentionArgs args{q.view, k.view, v.view, o.view, {}};
  auto m = buildBlockMask(s, args);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_NEAR(m->density(), 15.0 / 25.0, 1e-12); // 5 x 5 blocks, causal
  args.blockMask = m->args();
  ASSERT_TRUE((*kernel)->run(args).ok());
  EXPECT_TRUE(compareWithReference(s, args).passed());
  // No queries: the built mask has no query blocks, and the call runs (its
  // empty arrays once had null data and read as "no block mask given").
  args.q.sizes[2] = args.o.sizes[2] = 0;
  auto empty = buildBlockMask(s, args);
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  args.blockMask = empty->args();
  Status st = (*kernel)->run(args);
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST(BlockSparse, BadBlockMasksAreErrors) {
  auto kernel = attnc::test::compileText(
      "attn.kernel @checked attributes {q_heads = 2, d_qk = 16, element_type = "
      "f32, block_sparse = #attn.block_sparse<block_q = 16, block_kv = 16>}");
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  const KernelSpec &s = (*kernel)->spec();
  std::mt19937_64 rng(1);
  Buffer q(s.layout, 1, 40, 2, 16, false, rng), k(s.layout, 1, 50, 2, 16, false, rng),
      v(s.layout, 1, 50, 2, 16, false, rng), o(s.layout, 1, 40, 2, 16, false, rng);
  AttentionArgs args{q.view, k.view, v.view, o.view, {}};
  EXPECT_EQ((*kernel)->run(args).message(),
            "block mask: kernel @checked is block-sparse (block_q = 16, "
            "block_kv = 16); give its block mask (see buildBlockMask)");
  auto good = buildBlockMask(s, args);
  ASSERT_TRUE(good.ok());
  ASSERT_EQ(good->qBlocks, 3);
  ASSERT_EQ(good->kvBlocks, 4);
  auto expect = [&](BlockMask m, const std::string &message) {
    AttentionArgs a = args;
    a.blockMask = m.args();
    EXPECT_EQ((*kernel)->run(a).message(), message);
  };
  BlockMask m = *good;
  m.fullNumBlocks[1] = 5;
  expect(m, "block mask: full_kv_num_blocks[0, 0, 1] = 5 is outside [0, 4] (the "
            "kv blocks of seq_kv 50)");
  m = *good;
  m.fullIndices[2] = 4;
  expect(m, "block mask: full_kv_indices[0, 0, 0, 2] = 4 is outside [0, 4)");
  m = *good;
  m.numBlocks[0] = 1;
  m.indices[0] = 3; // also in the full list
  expect(m, "block mask: kv block 3 is listed twice for (b 0, h 0, query block "
            "0); each block is partial, full or absent");
  m = *good;
  m.qBlocks = 2;
  m.numBlocks.resize(2), m.fullNumBlocks.resize(2);
  expect(m, "block mask: kv_num_blocks has shape [1, 1, 2]; it must be [1, 1, "
            "3] (b 1 or 1, h 1 or 2; 3 query blocks of 16 for seq_q 40, 4 kv "
            "blocks of 16 for seq_kv 50)");
  m = *good;
  m.heads = 3;
  m.numBlocks.resize(9), m.fullNumBlocks.resize(9), m.indices.resize(36),
      m.fullIndices.resize(36);
  expect(m, "block mask: batch (1) must be 1 or 1 and heads (3) 1 or q_heads (2)");
  AttentionArgs split = args;
  split.blockMask = good->args();
  EXPECT_EQ((*kernel)->run(split, 0, 2).message(),
            "kvSplits: block-sparse kernels do not split their keys (got 2)");
  // A dense kernel takes no block mask.
  auto dense = attnc::test::compileText(
      "attn.kernel @dense attributes {q_heads = 2, d_qk = 16, element_type = f32}");
  ASSERT_TRUE(dense.ok());
  EXPECT_EQ((*dense)->run(split).message(),
            "block mask: kernel @dense is not block-sparse (it has no "
            "#attn.block_sparse)");
}

TEST(BlockSparse, TileSizesMustTileTheBlocks) {
  auto bad = attnc::test::compileText(
      "attn.kernel @k attributes {q_heads = 2, d_qk = 16, element_type = f32, "
      "block_sparse = #attn.block_sparse<block_q = 48, block_kv = 32>, "
      "schedule = #attn.schedule<block_m = 32>}");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(
                "block_q (48) must be a multiple of block_m (32) for the cpu "
                "backend"),
            std::string::npos)
      << bad.status().message();
  auto width = attnc::test::compileText(
      "attn.kernel @k attributes {q_heads = 2, d_qk = 16, element_type = f32, "
      "block_sparse = #attn.block_sparse<block_q = 48, block_kv = 20>, "
      "schedule = #attn.schedule<vector_width = 8>}");
  ASSERT_FALSE(width.ok());
  EXPECT_NE(width.status().message().find(
                "block_kv (20) must be a multiple of the vector width (8) for "
                "the cpu backend"),
            std::string::npos)
      << width.status().message();
}

} // namespace
