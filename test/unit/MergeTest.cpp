// Merging partial attention (runtime/Merge.h): attention split over random
// key ranges and merged equals unsplit attention against the float64
// reference; the merge itself against a float64 formula in every element
// type; the non-finite conventions; merging in place; every rejection.
#include "TestUtil.h"

#include "runtime/Merge.h"
#include "runtime/Reference.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

using namespace attnc;
using attnc::test::Buffer;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

int64_t uniform(std::mt19937_64 &rng, int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}

/// The largest |element| of a host view.
double maxAbs(const TensorView &t) {
  double m = 0;
  for (int64_t b = 0; b < t.batch(); ++b)
    for (int64_t h = 0; h < t.heads(); ++h)
      for (int64_t s = 0; s < t.seq(); ++s)
        for (int64_t d = 0; d < t.dim(); ++d)
          m = std::max<double>(m, std::fabs(t.get(b, h, s, d)));
  return m;
}

/// `t` restricted to keys [lo, hi).
TensorView keys(TensorView t, int64_t lo, int64_t hi) {
  t.data = static_cast<char *>(t.data) + lo * t.strides[2] * sizeOf(t.dtype);
  t.sizes[2] = hi - lo;
  return t;
}

TEST(Merge, SplitAttentionEqualsUnsplitAttention) {
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed);
  const int64_t lengths[] = {1, 17, 113, 300, 1023};
  int cases = 0;
  for (int i = 0; i < 24; ++i) {
    const char *type = i % 3 == 2 ? (i % 2 ? "bf16" : "f16") : "f32";
    const int64_t kvHeads = uniform(rng, 1, 2), qHeads = kvHeads * uniform(rng, 1, 3);
    const int64_t dQk = std::vector<int64_t>{1, 16, 17, 64, 113}[i % 5],
                  dV = i % 4 == 1 ? 40 : dQk;
    auto kernel = attnc::test::compileText(fmt::format(
        "attn.kernel @part attributes {{q_heads = {}, kv_heads = {}, d_qk = {}, "
        "d_v = {}, element_type = {}, lse = true, layout = #attn.layout<{}>}}",
        qHeads, kvHeads, dQk, dV, type, i % 2 ? "bshd" : "bhsd"));
    ASSERT_TRUE(kernel.ok()) << kernel.status().message();
    const KernelSpec &s = (*kernel)->spec();
    const int64_t batch = uniform(rng, 1, 3),
                  seqQ = lengths[uniform(rng, 0, 2)],
                  seqKv = lengths[uniform(rng, 0, 4)];
    const bool padded = i % 3 == 1;
    Buffer q(s.layout, batch, seqQ, qHeads, dQk, padded, rng),
        k(s.layout, batch, seqKv, kvHeads, dQk, padded, rng),
        v(s.layout, batch, seqKv, kvHeads, dV, padded, rng),
        o(s.layout, batch, seqQ, qHeads, dV, padded, rng);
    const DType element = dtypeNamed(type);
    for (Buffer *b : {&q, &k, &v, &o})
      b->convertTo(element);
    // 1..8 ranges cut at random keys (empty ranges included).
    const int64_t parts = uniform(rng, 1, 8);
    std::vector<int64_t> cuts = {0, seqKv};
    for (int64_t p = 1; p < parts; ++p)
      cuts.push_back(uniform(rng, 0, seqKv));
    std::sort(cuts.begin(), cuts.end());
    std::vector<Buffer> outs;
    std::vector<std::vector<float>> lses(parts, std::vector<float>(batch * qHeads * seqQ));
    MergeArgs m;
    for (int64_t p = 0; p < parts; ++p) {
      outs.emplace_back(s.layout, batch, seqQ, qHeads, dV, padded, rng);
      outs.back().convertTo(element);
      AttentionArgs part{q.view, keys(k.view, cuts[p], cuts[p + 1]),
                         keys(v.view, cuts[p], cuts[p + 1]), outs.back().view,
                         lseView(lses[p].data(), batch, qHeads, seqQ)};
      Status st = (*kernel)->run(part);
      ASSERT_TRUE(st.ok()) << st.message();
      m.outputs.push_back(part.o);
      m.lses.push_back(part.lse);
    }
    std::vector<float> lse(batch * qHeads * seqQ);
    m.o = o.view;
    m.lse = lseView(lse.data(), batch, qHeads, seqQ);
    Status st = mergeAttention(m, i % 2 ? 1 : 0);
    ASSERT_TRUE(st.ok()) << st.message();
    AttentionArgs whole{q.view, k.view, v.view, o.view, m.lse};
    Comparison c = compareWithReference(s, whole);
    // 16-bit parts: each part's O was rounded once before the merge, an
    // error the unsplit kernel does not make. Rounded to nearest, part p's
    // O is off by at most u |O_p| (unit roundoff u: 2^-8 bf16, 2^-11
    // f16), and the merge weighs the parts by w_p >= 0 summing to 1, so
    // the merged O gains at most u max_p |O_p|.
    if (element != DType::F32) {
      double u = std::ldexp(1.0, element == DType::BF16 ? -8 : -11), parted = 0;
      for (const TensorView &part : m.outputs)
        parted = std::max(parted, maxAbs(part));
      c.tolerance += u * parted;
    }
    EXPECT_TRUE(c.passed()) << fmt::format(
        "seed {} case {}: {} {} parts cut at [{}], batch {}, seq_q {}: error "
        "{:.3g} (tol {:.3g}), lse {:.3g} (tol {:.3g}), non-finite {}, lse "
        "mismatch {}",
        seed, i, type, parts, fmt::join(cuts, ","), batch, seqQ, c.maxError,
        c.tolerance, c.lseError, c.lseTolerance, c.nonFinite, c.lseMismatch);
    ++cases;
  }
  std::printf("merge: %d split calls, seed %llu\n", cases,
              static_cast<unsigned long long>(seed));
}

/// The merge of random parts (LSEs in [-30, 30], some -inf) against the
/// same formula in float64, per element type of the parts and of o.
TEST(Merge, MatchesTheFormulaInFloat64) {
  std::mt19937_64 rng(attnc::test::testSeed() ^ 0x3e7);
  for (DType type : {DType::F32, DType::F16, DType::BF16}) {
    const int64_t batch = 2, heads = 3, seq = 17, dim = 33, parts = 5;
    std::vector<Buffer> outs;
    std::vector<std::vector<float>> lses(parts, std::vector<float>(batch * heads * seq));
    MergeArgs m;
    for (int64_t p = 0; p < parts; ++p) {
      outs.emplace_back(Layout::BSHD, batch, seq, heads, dim, p % 2, rng);
      outs.back().convertTo(type);
      for (float &l : lses[p])
        l = uniform(rng, 0, 9) == 0 ? -kInf
                                    : std::uniform_real_distribution<float>(-30, 30)(rng);
      m.outputs.push_back(outs.back().view);
      m.lses.push_back(lseView(lses[p].data(), batch, heads, seq));
    }
    Buffer o(Layout::BHSD, batch, seq, heads, dim, false, rng);
    o.convertTo(type);
    std::vector<float> lse(batch * heads * seq);
    m.o = o.view;
    m.lse = lseView(lse.data(), batch, heads, seq);
    ASSERT_TRUE(mergeAttention(m).ok());
    // Output rounding of o's type, plus a few f32 ulps of accumulation.
    const double ulp = type == DType::F32 ? 0x1p-23 : type == DType::F16 ? 0x1p-10 : 0x1p-7;
    double worst = 0, worstLse = 0;
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t s = 0; s < seq; ++s) {
          double mx = -INFINITY;
          for (int64_t p = 0; p < parts; ++p)
            mx = std::max(mx, double(m.lses[p].at(b, h, s, 0)));
          double sum = 0;
          std::vector<double> want(dim, 0.0);
          for (int64_t p = 0; p < parts; ++p) {
            double l = m.lses[p].at(b, h, s, 0);
            if (l == -INFINITY)
              continue;
            double w = std::exp(l - mx);
            sum += w;
            for (int64_t d = 0; d < dim; ++d)
              want[d] += w * m.outputs[p].get(b, h, s, d);
          }
          if (mx == -INFINITY) {
            EXPECT_EQ(m.lse.at(b, h, s, 0), -kInf);
            for (int64_t d = 0; d < dim; ++d)
              EXPECT_EQ(o.view.get(b, h, s, d), 0.f);
            continue;
          }
          for (int64_t d = 0; d < dim; ++d)
            worst = std::max(worst, std::abs(o.view.get(b, h, s, d) - want[d] / sum) /
                                        std::max(1.0, std::abs(want[d] / sum)));
          worstLse = std::max(worstLse, std::abs(m.lse.at(b, h, s, 0) - (mx + std::log(sum))));
        }
    EXPECT_LE(worst, ulp + 8 * 0x1p-23) << toString(type);
    EXPECT_LE(worstLse, 1e-5) << toString(type);
  }
}

/// Fully masked parts, all-masked rows, NaN and +inf LSEs, NaN outputs.
TEST(Merge, NonFiniteRowsFollowTheConventions) {
  const int64_t dim = 4, rows = 7;
  // Two parts of [1, 1, rows, dim]; row r tests case r.
  std::vector<float> o0(rows * dim, 1.f), o1(rows * dim, 3.f), l0(rows), l1(rows);
  std::vector<float> out(rows * dim, -7.f), lse(rows, -7.f);
  // 0: both finite, equal; 1: part 1 masked (its O is NaN garbage); 2: both
  // masked; 3: a NaN LSE; 4: a +inf LSE; 5: a NaN in part 0's O; 6: part 1
  // 120 below part 0, its weight 0 in f32 (its O is NaN garbage, unread).
  const float ls0[] = {0.f, 2.f, -kInf, kNaN, kInf, 0.f, 0.f};
  const float ls1[] = {0.f, -kInf, -kInf, 0.f, 0.f, 0.f, -120.f};
  for (int64_t r = 0; r < rows; ++r)
    l0[r] = ls0[r], l1[r] = ls1[r];
  for (int64_t d = 0; d < dim; ++d)
    o1[1 * dim + d] = o1[6 * dim + d] = kNaN;
  o0[5 * dim + 2] = kNaN;
  MergeArgs m;
  m.outputs = {denseView(o0.data(), Layout::BHSD, 1, rows, 1, dim),
               denseView(o1.data(), Layout::BHSD, 1, rows, 1, dim)};
  m.lses = {lseView(l0.data(), 1, 1, rows), lseView(l1.data(), 1, 1, rows)};
  m.o = denseView(out.data(), Layout::BHSD, 1, rows, 1, dim);
  m.lse = lseView(lse.data(), 1, 1, rows);
  ASSERT_TRUE(mergeAttention(m).ok());
  auto at = [&](int64_t r, int64_t d) { return out[r * dim + d]; };
  for (int64_t d = 0; d < dim; ++d) {
    EXPECT_FLOAT_EQ(at(0, d), 2.f);
    EXPECT_FLOAT_EQ(at(1, d), 1.f) << "a masked part's O is not read";
    EXPECT_EQ(at(2, d), 0.f);
    EXPECT_TRUE(std::isnan(at(3, d)));
    EXPECT_TRUE(std::isnan(at(4, d)));
    EXPECT_EQ(std::isnan(at(5, d)), d == 2) << d;
    EXPECT_FLOAT_EQ(at(6, d), 1.f) << "a part of weight 0 is not read";
  }
  EXPECT_FLOAT_EQ(lse[0], std::log(2.f));
  EXPECT_FLOAT_EQ(lse[1], 2.f);
  EXPECT_EQ(lse[2], -kInf);
  EXPECT_TRUE(std::isnan(lse[3]));
  EXPECT_TRUE(std::isnan(lse[4]));
  EXPECT_FLOAT_EQ(lse[5], std::log(2.f));
  EXPECT_FLOAT_EQ(lse[6], 0.f);
}

/// o may be part 0 itself (and lse part 0's LSE): the same result.
TEST(Merge, InPlaceEqualsOutOfPlace) {
  std::mt19937_64 rng(attnc::test::testSeed() ^ 0x1b);
  Buffer a(Layout::BSHD, 2, 9, 2, 24, true, rng), b(Layout::BSHD, 2, 9, 2, 24, true, rng),
      out(Layout::BSHD, 2, 9, 2, 24, true, rng);
  std::vector<float> la(36), lb(36), lo(36);
  for (float &l : la)
    l = std::uniform_real_distribution<float>(-3, 3)(rng);
  for (float &l : lb)
    l = std::uniform_real_distribution<float>(-3, 3)(rng);
  MergeArgs m;
  m.outputs = {a.view, b.view};
  m.lses = {lseView(la.data(), 2, 2, 9), lseView(lb.data(), 2, 2, 9)};
  m.o = out.view;
  m.lse = lseView(lo.data(), 2, 2, 9);
  ASSERT_TRUE(mergeAttention(m).ok());
  m.o = a.view;
  m.lse = m.lses[0];
  Status st = mergeAttention(m);
  ASSERT_TRUE(st.ok()) << st.message();
  for (int64_t bb = 0; bb < 2; ++bb)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t s = 0; s < 9; ++s) {
        for (int64_t d = 0; d < 24; ++d)
          ASSERT_EQ(a.view.get(bb, h, s, d), out.view.get(bb, h, s, d));
        ASSERT_EQ(m.lses[0].at(bb, h, s, 0), lo[(bb * 2 + h) * 9 + s]);
      }
}

TEST(Merge, BadArgumentsAreNamed) {
  std::mt19937_64 rng(attnc::test::testSeed());
  Buffer a(Layout::BSHD, 1, 4, 2, 8, false, rng), b(Layout::BSHD, 1, 4, 2, 8, false, rng),
      out(Layout::BSHD, 1, 4, 2, 8, false, rng);
  std::vector<float> la(8, 0.f), lb(8, 0.f), lo(8);
  MergeArgs good;
  good.outputs = {a.view, b.view};
  good.lses = {lseView(la.data(), 1, 2, 4), lseView(lb.data(), 1, 2, 4)};
  good.o = out.view;
  good.lse = lseView(lo.data(), 1, 2, 4);
  ASSERT_TRUE(mergeAttention(good).ok());
  struct Case {
    std::function<void(MergeArgs &)> spoil;
    const char *message;
  } cases[] = {
      {[](MergeArgs &m) { m.outputs.clear(), m.lses.clear(); },
       "merge: no parts given (at least one output and its LSE)"},
      {[](MergeArgs &m) { m.lses.pop_back(); },
       "merge: 2 outputs but 1 LSEs; each part is an output and its LSE"},
      {[](MergeArgs &m) { m.o.data = nullptr; }, "o: data pointer is null"},
      {[](MergeArgs &m) { m.outputs[1].dtype = DType::I32; },
       "outputs[1]: element type is i32, but outputs are f32, f16 or bf16"},
      {[](MergeArgs &m) { m.lses[0].dtype = DType::F16; },
       "lses[0]: element type is f16, but LSE is f32"},
      {[](MergeArgs &m) { m.outputs[1].sizes[2] = 3; },
       "outputs[1]: shape [1, 2, 3, 8] differs from o's [1, 2, 4, 8]"},
      {[](MergeArgs &m) { m.lses[1].sizes[1] = 1; },
       "lses[1]: shape [1, 1, 4, 1] differs from o's rows, [batch, heads, seq, "
       "1] = [1, 2, 4, 1]"},
      {[](MergeArgs &m) { m.o.strides[2] = 0; },
       "o: sizes [1, 2, 4, 8] with strides [64, 8, 0, 1] may make elements "
       "share memory; an output's elements need their own (ordered by stride, "
       "each stride at least what the dimensions inside it span)"},
      {[](MergeArgs &m) { m.outputs[0].strides[2] = -m.outputs[0].strides[2]; },
       "outputs[0]: strides must be >= 0, got [64, 8, -16, 1]"},
      {[](MergeArgs &m) { m.o.strides[3] = 2; },
       "o: the head-dim stride must be 1, got 2"},
      {[&](MergeArgs &m) { m.lse = lseView(la.data() + 1, 1, 2, 4); },
       "merge: lse overlaps lses[0] without being the same view (merging in "
       "place takes exactly a part's data, type, sizes and strides)"},
      {[&](MergeArgs &m) { m.lse = lseView(static_cast<float *>(m.o.data), 1, 2, 4); },
       "merge: o and lse overlap"},
      {[&](MergeArgs &m) {
         m.o.data = static_cast<float *>(b.view.data) + 8;
       },
       "merge: o overlaps outputs[1] without being the same view (merging in "
       "place takes exactly a part's data, type, sizes and strides)"},
  };
  for (const Case &c : cases) {
    MergeArgs m = good;
    c.spoil(m);
    EXPECT_EQ(mergeAttention(m).message(), c.message);
  }
}

} // namespace
