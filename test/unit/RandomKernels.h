#ifndef ATTNC_TEST_UNIT_RANDOMKERNELS_H
#define ATTNC_TEST_UNIT_RANDOMKERNELS_H

// Random test material for the CPU sweeps and the emulated CUDA ones: mask
// and score regions from a small grammar of arith and math ops over the
// (b, h, q, k) indices, the sequence lengths and loads of the declared
// inputs `ids` (i32 [seq_kv]) and `bias` (f32 [q_heads, any]); and block
// masks of a chosen density.

#include "runtime/BlockMask.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include <random>
#include <string>
#include <vector>

namespace attnc::test::regions {

inline int64_t uniform(std::mt19937_64 &rng, int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}
inline bool chance(std::mt19937_64 &rng, double p) {
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
                                   "divui",    "remui",    "maxui",
                                   "minui"};
    int pick = static_cast<int>(uniform(rng, 0, 20));
    if (pick < 16) {
      std::string x = index(depth - 1), y = index(depth - 1);
      return emit(fmt::format("arith.{} {}, {} : index", binary[pick], x, y));
    }
    if (pick == 16) { // shifts by amounts that are sometimes too large
      static const char *shifts[] = {"shli", "shrsi", "shrui"};
      std::string x = index(depth - 1);
      std::string by = constIndex(uniform(rng, 0, 70));
      return emit(fmt::format("arith.{} {}, {} : index",
                              shifts[uniform(rng, 0, 2)], x, by));
    }
    if (pick == 17) { // through i64 and i32 and back: wraps and extensions
      std::string x = index(depth - 1);
      std::string a = emit(fmt::format("arith.index_cast {} : index to i64", x));
      if (chance(rng, 0.3))
        a = emit(fmt::format("math.absi {} : i64", a));
      std::string t = emit(fmt::format("arith.trunci {} : i64 to i32", a));
      std::string e = emit(fmt::format("arith.{} {} : i32 to i64",
                                       chance(rng, 0.5) ? "extsi" : "extui", t));
      return emit(fmt::format("arith.{} {} : i64 to index",
                              chance(rng, 0.5) ? "index_cast" : "index_castui",
                              e));
    }
    if (pick == 18) { // float to integer, from exact halves
      std::string f = emit(fmt::format("arith.mulf {}, {} : f32",
                                       integerReal(depth - 1), constF32(0.5)));
      std::string i = emit(fmt::format("arith.{} {} : f32 to i64",
                                       chance(rng, 0.5) ? "fptosi" : "fptoui", f));
      return emit(fmt::format("arith.index_cast {} : i64 to index", i));
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
    if (chance(rng, 0.2)) { // compare exact floats
      static const char *fpredicates[] = {"oeq", "one", "olt", "ole", "ogt",
                                          "oge", "ueq", "une", "ult", "uge"};
      std::string x = integerReal(depth), y = integerReal(depth);
      return emit(fmt::format("arith.cmpf {}, {}, {} : f32",
                              fpredicates[uniform(rng, 0, 9)], x, y));
    }
    static const char *logic[] = {"andi", "ori", "xori"};
    std::string x = boolean(depth - 1), y = boolean(depth - 1);
    return emit(fmt::format("arith.{} {}, {} : i1", logic[uniform(rng, 0, 2)],
                            x, y));
  }

  /// An integer in (-64, 64) as a float: exact in any precision
  /// (sitofp of a signed remainder, or uitofp of an unsigned one).
  std::string integerReal(int depth) {
    std::string i = index(depth);
    bool isUnsigned = chance(rng, 0.3);
    std::string r = emit(fmt::format("arith.{} {}, {} : index",
                                     isUnsigned ? "remui" : "remsi", i,
                                     constIndex(64)));
    std::string n = emit(fmt::format("arith.index_cast {} : index to i64", r));
    return emit(fmt::format("arith.{} {} : i64 to f32",
                            isUnsigned ? "uitofp" : "sitofp", n));
  }

  /// A float built from an index expression (exact: small integers).
  std::string fromIndex(int depth) {
    return emit(fmt::format("arith.mulf {}, {} : f32", integerReal(depth),
                            constF32(0.05)));
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
    switch (uniform(rng, 0, 19)) {
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
    case 13: // a step of an index-derived value: exact
      return emit(fmt::format("arith.addf {}, {} : f32", x,
                              emit(fmt::format("math.floor {} : f32",
                                               fromIndex(1)))));
    case 14: { // rounding exact halves (roundeven meets ties)
      static const char *rounding[] = {"ceil", "trunc", "roundeven"};
      std::string half = emit(fmt::format("arith.mulf {}, {} : f32",
                                          integerReal(1), constF32(0.5)));
      std::string r = emit(fmt::format("math.{} {} : f32",
                                       rounding[uniform(rng, 0, 2)], half));
      std::string small = emit(fmt::format("arith.mulf {}, {} : f32", r,
                                           constF32(0.0625)));
      return emit(fmt::format("arith.addf {}, {} : f32", x, small));
    }
    case 15: { // remf of exact integers
      std::string m = emit(fmt::format("arith.remf {}, {} : f32",
                                       integerReal(1), constF32(7)));
      std::string small = emit(fmt::format("arith.mulf {}, {} : f32", m,
                                           constF32(0.1)));
      return emit(fmt::format("arith.addf {}, {} : f32", x, small));
    }
    case 16:
      return emit(fmt::format("arith.{} {}, {} : f32",
                              chance(rng, 0.5) ? "minimumf" : "maxnumf", x,
                              real(depth - 1, s)));
    case 17: { // copysign by an exact, never-zero sign
      std::string n = integerReal(1);
      std::string off = emit(fmt::format("arith.subf {}, {} : f32", n,
                                         constF32(0.5)));
      return emit(fmt::format("math.copysign {}, {} : f32", x, off));
    }
    case 18: { // of 1 + |x|: rsqrt, powf, log, log2
      std::string a = emit(fmt::format("math.absf {} : f32", x));
      std::string p = emit(fmt::format("arith.addf {}, {} : f32", a, constF32(1)));
      switch (uniform(rng, 0, 3)) {
      case 0:
        return emit(fmt::format("math.rsqrt {} : f32", p));
      case 1:
        return emit(fmt::format("math.powf {}, {} : f32", p, constF32(0.75)));
      case 2:
        return emit(fmt::format("math.log {} : f32", p));
      default:
        return emit(fmt::format("math.log2 {} : f32", p));
      }
    }
    default: { // exp2(-|x|)
      std::string a = emit(fmt::format("math.absf {} : f32", x));
      std::string n = emit(fmt::format("arith.negf {} : f32", a));
      return emit(fmt::format("math.exp2 {} : f32", n));
    }
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

/// A random kernel with a custom mask and/or score region (f32 unless
/// `elementType` says otherwise).
inline RandomKernel randomKernel(std::mt19937_64 &rng, int index,
                                 const char *elementType = "f32",
                                 bool cudaDims = false) {
  RandomKernel r;
  r.hasIds = chance(rng, 0.5);
  r.hasBias = chance(rng, 0.5);
  int64_t kvHeads = uniform(rng, 1, 2);
  int64_t qHeads = kvHeads * uniform(rng, 1, 3);
  int64_t dQk = chance(rng, 0.5) ? 32 : uniform(rng, 1, 80);
  int64_t dV = chance(rng, 0.7) ? dQk : uniform(rng, 1, 80);
  if (cudaDims) // the CUDA backend takes multiples of 8
    dQk = 8 * uniform(rng, 1, 8), dV = chance(rng, 0.7) ? dQk : 8 * uniform(rng, 1, 8);
  bool customMask = chance(rng, 0.7), customScore = chance(rng, 0.6);
  if (!customMask && !customScore)
    customMask = true;
  std::vector<std::string> inputs;
  if (r.hasIds)
    inputs.push_back("#attn.input<\"ids\", i32, [seq_kv]>");
  if (r.hasBias)
    inputs.push_back("#attn.input<\"bias\", f32, [q_heads, any]>");
  std::string attrs = fmt::format(
      "q_heads = {}, kv_heads = {}, d_qk = {}, d_v = {}, element_type = {}, "
      "lse = {}",
      qHeads, kvHeads, dQk, dV, elementType, chance(rng, 0.5) ? "true" : "false");
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
  if (!customScore && chance(rng, 0.4))
    attrs += ", score_mod = #attn.score_mod<alibi>";
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
  if (!cudaDims && chance(rng, 0.3))
    attrs += fmt::format(", schedule = #attn.schedule<block_n = {}>",
                         chance(rng, 0.5) ? 32 : 64);
  r.text = fmt::format("attn.kernel @regions{} attributes {{{}}}{}", index,
                       attrs, regions);
  return r;
}

/// A random block mask: each block absent, partial or full with the given
/// odds, in a random order, b and h broadcast or not.
inline BlockMask randomBlockMask(std::mt19937_64 &rng, const KernelSpec &s,
                          int64_t batch, int64_t seqQ, int64_t seqKv,
                          double density) {
  BlockMask m;
  m.blockQ = s.blockQ, m.blockKv = s.blockKv;
  m.batch = chance(rng, 0.5) ? 1 : batch;
  m.heads = chance(rng, 0.5) ? 1 : s.qHeads;
  m.qBlocks = (seqQ + s.blockQ - 1) / s.blockQ;
  m.kvBlocks = (seqKv + s.blockKv - 1) / s.blockKv;
  int64_t rows = m.batch * m.heads * m.qBlocks;
  m.numBlocks.assign(rows, 0);
  m.fullNumBlocks.assign(rows, 0);
  m.indices.assign(rows * m.kvBlocks, -7); // unused entries are ignored
  m.fullIndices.assign(rows * m.kvBlocks, 99);
  std::vector<int32_t> order(m.kvBlocks);
  for (int64_t row = 0; row < rows; ++row) {
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    for (int32_t kb : order) {
      if (!chance(rng, density))
        continue;
      bool full = chance(rng, 0.4);
      auto &count = full ? m.fullNumBlocks[row] : m.numBlocks[row];
      (full ? m.fullIndices : m.indices)[row * m.kvBlocks + count++] = kb;
    }
  }
  return m;
}

} // namespace attnc::test::regions

#endif
