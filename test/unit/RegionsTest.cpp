// Programmable masks and score modifiers on the CPU: random mask and score
// regions, generated from a small grammar of arith and math ops over the
// (b, h, q, k) indices, the sequence lengths and loads of declared inputs,
// compiled and compared with the float64 reference (which interprets the
// same regions) under design.md's tolerance rule, on fresh random inputs.
#include "TestUtil.h"

#include "dialect/Mods.h"
#include "runtime/CpuKernel.h"
#include "runtime/Reference.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace attnc;
using attnc::test::Buffer;

namespace {

int64_t uniform(std::mt19937_64 &rng, int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}
bool chance(std::mt19937_64 &rng, double p) {
  return std::uniform_real_distribution<double>(0, 1)(rng) < p;
}

/// Writes region code as SSA text. Integer (index) and boolean expressions
/// are exact in any precision; float expressions are continuous in the
/// score, so that f32 and f64 evaluation never take different branches.
class RegionWriter {
public:
  RegionWriter(std::mt19937_64 &rng, bool hasIds, bool hasBias)
      : rng(rng), hasIds(hasIds), hasBias(hasBias) {}

  std::string body;

  std::string fresh() { return fmt::format("%v{}", next++); }
  std::string emit(const std::string &rhs) {
    std::string v = fresh();
    body += fmt::format("  {} = {}\n", v, rhs);
    return v;
  }
  std::string constIndex(int64_t c) {
    return emit(fmt::format("arith.constant {} : index", c));
  }
  std::string constF32(double c) {
    return emit(fmt::format("arith.constant {:.6e} : f32", c));
  }

  /// An index expression.
  std::string index(int depth) {
    if (depth == 0 || chance(rng, 0.3)) {
      switch (uniform(rng, 0, hasIds ? 7 : 6)) {
      case 0:
        return "%b";
      case 1:
        return "%h";
      case 2:
      case 3:
        return "%q";
      case 4:
        return "%k";
      case 5:
        return constIndex(uniform(rng, -3, 9));
      case 6:
        return emit(chance(rng, 0.5) ? "attn.seq_len q" : "attn.seq_len kv");
      default: { // a declared i32 input, at an index of our making
        std::string i = index(depth - 1 < 0 ? 0 : depth - 1);
        std::string id = emit(fmt::format("attn.load @ids[{}] : i32", i));
        return emit(fmt::format("arith.index_cast {} : i32 to index", id));
      }
      }
    }
    static const char *binary[] = {"addi",     "subi",     "muli",
                                   "divsi",    "remsi",    "floordivsi",
                                   "ceildivsi", "maxsi",   "minsi",
                                   "andi",     "ori",      "xori",
                                   "divui",    "remui"};
    int pick = static_cast<int>(uniform(rng, 0, 16));
    if (pick < 14) {
      std::string x = index(depth - 1), y = index(depth - 1);
      return emit(fmt::format("arith.{} {}, {} : index", binary[pick], x, y));
    }
    if (pick == 14) { // shifts by amounts that are sometimes too large
      std::string x = index(depth - 1);
      std::string by = constIndex(uniform(rng, 0, 70));
      return emit(fmt::format("arith.{} {}, {} : index",
                              chance(rng, 0.5) ? "shli" : "shrsi", x, by));
    }
    std::string c = boolean(depth - 1);
    std::string x = index(depth - 1), y = index(depth - 1);
    return emit(fmt::format("arith.select {}, {}, {} : index", c, x, y));
  }

  /// A boolean expression.
  std::string boolean(int depth) {
    static const char *predicates[] = {"eq",  "ne",  "slt", "sle", "sgt",
                                       "sge", "ult", "ule", "ugt", "uge"};
    if (depth <= 0 || chance(rng, 0.6)) {
      std::string x = index(depth), y = index(depth);
      return emit(fmt::format("arith.cmpi {}, {}, {} : index",
                              predicates[uniform(rng, 0, 9)], x, y));
    }
    static const char *logic[] = {"andi", "ori", "xori"};
    std::string x = boolean(depth - 1), y = boolean(depth - 1);
    return emit(fmt::format("arith.{} {}, {} : i1", logic[uniform(rng, 0, 2)],
                            x, y));
  }

  /// A float built from an index expression (exact: small integers).
  std::string fromIndex(int depth) {
    std::string i = index(depth);
    std::string r = emit(fmt::format("arith.remsi {}, {} : index", i,
                                     constIndex(64)));
    std::string n = emit(fmt::format("arith.index_cast {} : index to i64", r));
    std::string f = emit(fmt::format("arith.sitofp {} : i64 to f32", n));
    return emit(fmt::format("arith.mulf {}, {} : f32", f, constF32(0.05)));
  }

  /// A float expression of bounded magnitude, continuous in `s`.
  std::string real(int depth, const std::string &s) {
    if (depth == 0 || chance(rng, 0.25)) {
      switch (uniform(rng, 0, hasBias ? 3 : 2)) {
      case 0:
        return s;
      case 1:
        return constF32(std::uniform_real_distribution<double>(-1, 1)(rng));
      case 2:
        return fromIndex(1);
      default: {
        std::string i = index(1);
        return emit(fmt::format("attn.load @bias[%h, {}] : f32", i));
      }
      }
    }
    std::string x = real(depth - 1, s);
    switch (uniform(rng, 0, 13)) {
    case 0:
      return emit(fmt::format("arith.addf {}, {} : f32", x, real(depth - 1, s)));
    case 1:
      return emit(fmt::format("arith.subf {}, {} : f32", x, real(depth - 1, s)));
    case 2:
      return emit(fmt::format("arith.mulf {}, {} : f32", x,
                              constF32(std::uniform_real_distribution<double>(
                                  -1.5, 1.5)(rng))));
    case 3:
      return emit(fmt::format("math.tanh {} : f32", x));
    case 4: { // exp(-|x|) <= 1
      std::string a = emit(fmt::format("math.absf {} : f32", x));
      std::string n = emit(fmt::format("arith.negf {} : f32", a));
      return emit(fmt::format("math.exp {} : f32", n));
    }
    case 5:
      return emit(fmt::format("math.sin {} : f32", x));
    case 6:
      return emit(fmt::format("math.cos {} : f32", x));
    case 7:
      return emit(fmt::format("math.erf {} : f32", x));
    case 8: { // sqrt(1 + |x|), log1p(|x|)
      std::string a = emit(fmt::format("math.absf {} : f32", x));
      if (chance(rng, 0.5))
        return emit(fmt::format("math.log1p {} : f32", a));
      std::string p = emit(fmt::format("arith.addf {}, {} : f32", a, constF32(1)));
      return emit(fmt::format("math.sqrt {} : f32", p));
    }
    case 9:
      return emit(fmt::format("arith.{} {}, {} : f32",
                              chance(rng, 0.5) ? "maximumf" : "minnumf", x,
                              real(depth - 1, s)));
    case 10:
      return emit(fmt::format("math.fma {}, {}, {} : f32", x,
                              constF32(0.5), real(depth - 1, s)));
    case 11: { // x / (1 + |y|)
      std::string y = emit(fmt::format("math.absf {} : f32", real(depth - 1, s)));
      std::string d = emit(fmt::format("arith.addf {}, {} : f32", y, constF32(1)));
      return emit(fmt::format("arith.divf {}, {} : f32", x, d));
    }
    case 12: {
      std::string c = boolean(1);
      return emit(fmt::format("arith.select {}, {}, {} : f32", c, x,
                              real(depth - 1, s)));
    }
    default: // a step of an index-derived value: exact
      return emit(fmt::format("arith.addf {}, {} : f32", x,
                              emit(fmt::format("math.floor {} : f32",
                                               fromIndex(1)))));
    }
  }

private:
  std::mt19937_64 &rng;
  bool hasIds, hasBias;
  int next = 0;
};

struct RandomKernel {
  std::string text;
  bool hasIds = false, hasBias = false;
  int64_t biasWidth = 7;
};

RandomKernel randomKernel(std::mt19937_64 &rng, int index) {
  RandomKernel r;
  r.hasIds = chance(rng, 0.5);
  r.hasBias = chance(rng, 0.5);
  int64_t kvHeads = uniform(rng, 1, 2);
  int64_t qHeads = kvHeads * uniform(rng, 1, 3);
  int64_t dQk = chance(rng, 0.5) ? 32 : uniform(rng, 1, 80);
  int64_t dV = chance(rng, 0.7) ? dQk : uniform(rng, 1, 80);
  bool customMask = chance(rng, 0.7), customScore = chance(rng, 0.6);
  if (!customMask && !customScore)
    customMask = true;
  std::vector<std::string> inputs;
  if (r.hasIds)
    inputs.push_back("#attn.input<\"ids\", i32, [seq_kv]>");
  if (r.hasBias)
    inputs.push_back("#attn.input<\"bias\", f32, [q_heads, any]>");
  std::string attrs = fmt::format(
      "q_heads = {}, kv_heads = {}, d_qk = {}, d_v = {}, element_type = f32, "
      "lse = {}",
      qHeads, kvHeads, dQk, dV, chance(rng, 0.5) ? "true" : "false");
  if (!inputs.empty())
    attrs += fmt::format(", inputs = [{}]", fmt::join(inputs, ", "));
  std::string regions;
  if (customMask) {
    attrs += ", mask = #attn.mask<custom>";
    RegionWriter w(rng, r.hasIds, r.hasBias);
    std::string v = w.boolean(3);
    regions += fmt::format(
        " mask {{\n^bb0(%b: index, %h: index, %q: index, %k: index):\n{}  "
        "attn.yield {} : i1\n}}",
        w.body, v);
  } else if (chance(rng, 0.5)) {
    attrs += ", mask = #attn.mask<causal, bottom_right>";
  }
  if (customScore) {
    attrs += ", score_mod = #attn.score_mod<custom>";
    RegionWriter w(rng, r.hasIds, r.hasBias);
    std::string v = w.real(4, "%s");
    regions += fmt::format(
        " score {{\n^bb0(%s: f32, %b: index, %h: index, %q: index, %k: "
        "index):\n{}  attn.yield {} : f32\n}}",
        w.body, v);
  }
  if (chance(rng, 0.2))
    attrs += ", softcap = 4.0";
  if (chance(rng, 0.3))
    attrs += fmt::format(", schedule = #attn.schedule<block_n = {}>",
                         chance(rng, 0.5) ? 32 : 64);
  r.text = fmt::format("attn.kernel @regions{} attributes {{{}}}{}", index,
                       attrs, regions);
  return r;
}

TEST(Regions, RandomMaskAndScoreRegionsMatchFloat64Reference) {
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed ^ 0x5eed);
  const int kernels = 24, shapes = 3;
  int cases = 0, failures = 0, maskedPairs = 0, visiblePairsSeen = 0;
  for (int n = 0; n < kernels; ++n) {
    RandomKernel r = randomKernel(rng, n);
    auto kernel = attnc::test::compileText(r.text, "<random region>");
    ASSERT_TRUE(kernel.ok()) << "seed " << seed << ":\n"
                             << r.text << "\n" << kernel.status().message();
    const KernelSpec &s = (*kernel)->spec();
    for (int shape = 0; shape < shapes; ++shape) {
      int64_t batch = uniform(rng, 1, 2);
      int64_t seqQ = chance(rng, 0.3) ? 1 : uniform(rng, 1, 150);
      int64_t seqKv = chance(rng, 0.3) ? seqQ : uniform(rng, 1, 200);
      Buffer q(s.layout, batch, seqQ, s.qHeads, s.dQk, false, rng);
      Buffer k(s.layout, batch, seqKv, s.kvHeads, s.dQk, false, rng);
      Buffer v(s.layout, batch, seqKv, s.kvHeads, s.dV, false, rng);
      Buffer o(s.layout, batch, seqQ, s.qHeads, s.dV, false, rng);
      o.fill(std::numeric_limits<float>::quiet_NaN());
      std::vector<float> lse(batch * s.qHeads * seqQ);
      AttentionArgs args{q.view, k.view, v.view, o.view, {}};
      if (s.lse)
        args.lse = lseView(lse.data(), batch, s.qHeads, seqQ);
      std::vector<int32_t> ids(seqKv);
      for (int32_t &id : ids)
        id = static_cast<int32_t>(uniform(rng, -2, 6));
      std::vector<float> bias = uniformInputs(s.qHeads * r.biasWidth, rng);
      if (r.hasIds)
        args.inputs.push_back({"ids", ids.data(), DType::I32, {seqKv}, {1}});
      if (r.hasBias)
        args.inputs.push_back({"bias", bias.data(), DType::F32,
                               {s.qHeads, r.biasWidth}, {r.biasWidth, 1}});
      int64_t kvSplits = chance(rng, 0.3) ? 3 : 0;
      Status st = (*kernel)->run(args, 2, kvSplits);
      ASSERT_TRUE(st.ok()) << st.message();
      Comparison c = compareWithReference(s, args);
      ModEvaluator mods(s, args);
      for (int64_t i = 0; i < seqQ; ++i)
        for (int64_t j = 0; j < seqKv; ++j) {
          bool vis = mods.visible(0, 0, i, j);
          visiblePairsSeen += vis;
          maskedPairs += !vis;
        }
      ++cases;
      if (!c.passed()) {
        ++failures;
        ADD_FAILURE() << fmt::format(
            "seed {}: batch {} seq_q {} seq_kv {} kv splits {}: error {:.3g} "
            "> tolerance {:.3g}, non-finite {}, lse mismatch {}\n{}\n  repro: "
            "ATTNC_TEST_SEED={} attnc-unit-tests --gtest_filter=Regions.*",
            seed, batch, seqQ, seqKv, kvSplits, c.maxError, c.tolerance,
            c.nonFinite, c.lseMismatch, r.text, seed);
        if (failures >= 5)
          FAIL() << "stopping after 5 failures";
      }
    }
  }
  EXPECT_EQ(cases, kernels * shapes);
  // The sweep must exercise both sides of the masks.
  EXPECT_GT(maskedPairs, 0) << "seed " << seed;
  EXPECT_GT(visiblePairsSeen, 0) << "seed " << seed;
  std::printf("region sweep: %d cases, %d failures, seed %llu\n", cases,
              failures, static_cast<unsigned long long>(seed));
}

/// ALiBi means BLOOM's and MPT's slopes: written here independently, as
/// BLOOM's get_slopes computes them, and compared with what the score
/// region (through the reference's interpreter) adds.
TEST(Regions, AlibiUsesBloomSlopes) {
  for (int64_t heads : {1, 8, 12, 16, 40}) {
    std::vector<double> slopes;
    auto powerOfTwo = [](int64_t n) {
      double start = std::exp2(-std::exp2(-(std::log2(double(n)) - 3)));
      std::vector<double> out;
      for (int64_t i = 0; i < n; ++i)
        out.push_back(start * std::pow(start, double(i)));
      return out;
    };
    int64_t closest = int64_t(1) << static_cast<int>(std::floor(std::log2(double(heads))));
    slopes = powerOfTwo(closest);
    if (closest != heads) {
      std::vector<double> extra = powerOfTwo(2 * closest);
      for (int64_t i = 0; i < heads - closest; ++i)
        slopes.push_back(extra[2 * i]);
    }
    KernelRequest r;
    r.qHeads = heads;
    r.dQk = 8;
    r.scoreMod = ScoreMod::Alibi;
    KernelIr ir = attnc::test::irOf(r);
    AttentionArgs a;
    a.q.sizes = {1, heads, 5, 8};
    a.k.sizes = {1, heads, 9, 8};
    ModEvaluator mods(ir.view(), a);
    for (int64_t h = 0; h < heads; ++h) {
      EXPECT_NEAR(mlir::attn::alibiSlope(h, heads), slopes[h], 1e-12 * slopes[h])
          << heads << " heads, head " << h;
      // Query 1 of 5 against key 2 of 9: the bottom-right diagonal is at
      // key 1 + 4 = 5, so the distance is 3.
      double got = mods.score<double>(0.25, 0, h, 1, 2);
      EXPECT_NEAR(got, 0.25 - slopes[h] * 3, 1e-6) << heads << " heads, head " << h;
    }
  }
}

} // namespace
