// The reference's interpreter of mask, score and key-range programs. Its
// integer semantics are the backends': values wrap at their width,
// division and remainder by zero give 0, INT_MIN / -1 wraps, shifts by the
// width or more give 0 (or the sign, arithmetic right), and float to
// integer conversions saturate with NaN giving 0 (docs/dialect.md).
#include "runtime/ModProgram.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace attnc {
namespace {

int bitsOf(ModType t) {
  switch (t) {
  case ModType::I1:
    return 1;
  case ModType::I32:
    return 32;
  default:
    return 64;
  }
}

/// An integer wrapped to `t`'s width: i1 as 0 or 1, i32 sign-extended.
int64_t wrap(uint64_t v, ModType t) {
  switch (t) {
  case ModType::I1:
    return static_cast<int64_t>(v & 1);
  case ModType::I32:
    return static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(v)));
  default:
    return static_cast<int64_t>(v);
  }
}

/// The unsigned value of a normalised integer of type `t`.
uint64_t unsignedOf(int64_t v, ModType t) {
  switch (t) {
  case ModType::I1:
    return static_cast<uint64_t>(v) & 1;
  case ModType::I32:
    return static_cast<uint64_t>(v) & 0xffffffffu;
  default:
    return static_cast<uint64_t>(v);
  }
}

int64_t minOf(ModType t) {
  return t == ModType::I32 ? std::numeric_limits<int32_t>::min()
         : t == ModType::I1 ? -1
                            : std::numeric_limits<int64_t>::min();
}

/// i1 signed is {0, -1}: the signed value of a normalised integer.
int64_t signedOf(int64_t v, ModType t) {
  return t == ModType::I1 ? -v : v;
}

bool compareInts(uint8_t predicate, int64_t a, int64_t b, ModType t) {
  int64_t sa = signedOf(a, t), sb = signedOf(b, t);
  uint64_t ua = unsignedOf(a, t), ub = unsignedOf(b, t);
  switch (predicate) { // arith::CmpIPredicate
  case 0: return a == b;  // eq
  case 1: return a != b;  // ne
  case 2: return sa < sb; // slt
  case 3: return sa <= sb;
  case 4: return sa > sb;
  case 5: return sa >= sb;
  case 6: return ua < ub; // ult
  case 7: return ua <= ub;
  case 8: return ua > ub;
  case 9: return ua >= ub;
  }
  return false;
}

bool compareFloats(uint8_t predicate, double a, double b) {
  bool unordered = std::isnan(a) || std::isnan(b);
  switch (predicate) { // arith::CmpFPredicate
  case 0: return false;
  case 1: return !unordered && a == b; // oeq
  case 2: return !unordered && a > b;
  case 3: return !unordered && a >= b;
  case 4: return !unordered && a < b;
  case 5: return !unordered && a <= b;
  case 6: return !unordered && a != b; // one
  case 7: return !unordered;           // ord
  case 8: return unordered || a == b;  // ueq
  case 9: return unordered || a > b;
  case 10: return unordered || a >= b;
  case 11: return unordered || a < b;
  case 12: return unordered || a <= b;
  case 13: return unordered || a != b; // une
  case 14: return unordered;           // uno
  case 15: return true;
  }
  return false;
}

/// Float to integer, saturating; NaN gives 0.
int64_t toInt(double x, ModType t, bool isSigned) {
  if (std::isnan(x))
    return 0;
  int bits = bitsOf(t);
  if (isSigned) {
    double lo = -std::ldexp(1.0, bits - 1), hi = std::ldexp(1.0, bits - 1);
    if (x <= lo)
      return minOf(t);
    if (x >= hi) // the largest value of the width
      return bits == 64 ? std::numeric_limits<int64_t>::max()
                        : (int64_t(1) << (bits - 1)) - 1;
    return wrap(static_cast<uint64_t>(static_cast<int64_t>(std::trunc(x))), t);
  }
  double hi = std::ldexp(1.0, bits);
  if (x <= 0)
    return 0;
  if (x >= hi)
    return wrap(~uint64_t(0), t);
  return wrap(static_cast<uint64_t>(std::trunc(x)), t);
}

int64_t divide(int64_t a, int64_t b, ModType t, int kind) {
  // kind: 0 divsi, 1 remsi, 2 ceildivsi, 3 floordivsi
  a = signedOf(a, t), b = signedOf(b, t);
  if (b == 0)
    return 0;
  if (a == minOf(t) && b == -1)
    return kind == 1 ? 0 : wrap(static_cast<uint64_t>(a), t);
  int64_t q = a / b, r = a % b;
  switch (kind) {
  case 1:
    return wrap(static_cast<uint64_t>(r), t);
  case 2:
    return wrap(static_cast<uint64_t>(q + (r != 0 && ((a < 0) == (b < 0)))), t);
  case 3:
    return wrap(static_cast<uint64_t>(q - (r != 0 && ((a < 0) != (b < 0)))), t);
  default:
    return wrap(static_cast<uint64_t>(q), t);
  }
}

} // namespace

template <typename T>
void evaluate(const ModProgram &p, const ModValue *args, ModValue *results,
              const ModEnv &env, std::vector<ModValue> &reg) {
  reg.resize(p.insts.size());
  auto f = [](double x) { return static_cast<double>(static_cast<T>(x)); };
  for (size_t r = 0; r < p.insts.size(); ++r) {
    const ModInst &in = p.insts[r];
    const ModValue a = in.a >= 0 ? reg[in.a] : ModValue{0};
    const ModValue b = in.b >= 0 ? reg[in.b] : ModValue{0};
    const ModValue c = in.c >= 0 ? reg[in.c] : ModValue{0};
    const ModType t = in.type;
    const int bits = bitsOf(t);
    ModValue out{0};
    auto ui = [&](int64_t v) { return unsignedOf(v, t); };
    switch (in.op) {
    case ModInst::Arg:
      out = args[in.intValue];
      break;
    case ModInst::Const:
      if (t == ModType::F32)
        out.f = f(in.floatValue);
      else
        out.i = wrap(static_cast<uint64_t>(in.intValue), t);
      break;
    case ModInst::SeqQ:
      out.i = env.seqQ;
      break;
    case ModInst::SeqKv:
      out.i = env.seqKv;
      break;
    case ModInst::Load: {
      const InputTensor &x = *env.inputs[in.intValue];
      int64_t offset = 0;
      for (size_t d = 0; d < in.indices.size(); ++d) {
        int64_t i = std::clamp<int64_t>(reg[in.indices[d]].i, 0, x.sizes[d] - 1);
        offset += i * x.strides[d];
      }
      if (t == ModType::F32)
        out.f = static_cast<const float *>(x.data)[offset];
      else
        out.i = static_cast<const int32_t *>(x.data)[offset];
      break;
    }
    case ModInst::AddI:
      out.i = wrap(ui(a.i) + ui(b.i), t);
      break;
    case ModInst::SubI:
      out.i = wrap(ui(a.i) - ui(b.i), t);
      break;
    case ModInst::MulI:
      out.i = wrap(ui(a.i) * ui(b.i), t);
      break;
    case ModInst::DivSI:
      out.i = divide(a.i, b.i, t, 0);
      break;
    case ModInst::RemSI:
      out.i = divide(a.i, b.i, t, 1);
      break;
    case ModInst::CeilDivSI:
      out.i = divide(a.i, b.i, t, 2);
      break;
    case ModInst::FloorDivSI:
      out.i = divide(a.i, b.i, t, 3);
      break;
    case ModInst::DivUI:
      out.i = ui(b.i) ? wrap(ui(a.i) / ui(b.i), t) : 0;
      break;
    case ModInst::RemUI:
      out.i = ui(b.i) ? wrap(ui(a.i) % ui(b.i), t) : 0;
      break;
    case ModInst::MaxSI:
      out.i = signedOf(a.i, t) >= signedOf(b.i, t) ? a.i : b.i;
      break;
    case ModInst::MinSI:
      out.i = signedOf(a.i, t) <= signedOf(b.i, t) ? a.i : b.i;
      break;
    case ModInst::MaxUI:
      out.i = ui(a.i) >= ui(b.i) ? a.i : b.i;
      break;
    case ModInst::MinUI:
      out.i = ui(a.i) <= ui(b.i) ? a.i : b.i;
      break;
    case ModInst::AndI:
      out.i = wrap(ui(a.i) & ui(b.i), t);
      break;
    case ModInst::OrI:
      out.i = wrap(ui(a.i) | ui(b.i), t);
      break;
    case ModInst::XorI:
      out.i = wrap(ui(a.i) ^ ui(b.i), t);
      break;
    case ModInst::ShLI:
      out.i = ui(b.i) >= uint64_t(bits) ? 0 : wrap(ui(a.i) << ui(b.i), t);
      break;
    case ModInst::ShRUI:
      out.i = ui(b.i) >= uint64_t(bits) ? 0 : wrap(ui(a.i) >> ui(b.i), t);
      break;
    case ModInst::ShRSI: {
      int64_t sa = signedOf(a.i, t);
      out.i = ui(b.i) >= uint64_t(bits)
                  ? wrap(static_cast<uint64_t>(sa < 0 ? -1 : 0), t)
                  : wrap(static_cast<uint64_t>(sa >> ui(b.i)), t);
      break;
    }
    case ModInst::CmpI:
      out.i = compareInts(in.predicate, a.i, b.i, in.srcType);
      break;
    case ModInst::Select:
      out = a.i ? b : c;
      break;
    case ModInst::ExtSI:
    case ModInst::IndexCast:
      out.i = wrap(static_cast<uint64_t>(signedOf(a.i, in.srcType)), t);
      break;
    case ModInst::ExtUI:
    case ModInst::IndexCastUI:
      out.i = wrap(unsignedOf(a.i, in.srcType), t);
      break;
    case ModInst::TruncI:
      out.i = wrap(static_cast<uint64_t>(a.i), t);
      break;
    case ModInst::SIToFP:
      out.f = f(static_cast<double>(signedOf(a.i, in.srcType)));
      break;
    case ModInst::UIToFP:
      out.f = f(static_cast<double>(unsignedOf(a.i, in.srcType)));
      break;
    case ModInst::FPToSI:
      out.i = toInt(a.f, t, true);
      break;
    case ModInst::FPToUI:
      out.i = toInt(a.f, t, false);
      break;
    case ModInst::AddF:
      out.f = f(a.f + b.f);
      break;
    case ModInst::SubF:
      out.f = f(a.f - b.f);
      break;
    case ModInst::MulF:
      out.f = f(a.f * b.f);
      break;
    case ModInst::DivF:
      out.f = f(a.f / b.f);
      break;
    case ModInst::RemF:
      out.f = f(std::fmod(a.f, b.f));
      break;
    case ModInst::NegF:
      out.f = -a.f;
      break;
    case ModInst::MaximumF:
      out.f = std::isnan(a.f) || std::isnan(b.f) ? NAN : std::max(a.f, b.f);
      break;
    case ModInst::MinimumF:
      out.f = std::isnan(a.f) || std::isnan(b.f) ? NAN : std::min(a.f, b.f);
      break;
    case ModInst::MaxNumF:
      out.f = std::fmax(a.f, b.f);
      break;
    case ModInst::MinNumF:
      out.f = std::fmin(a.f, b.f);
      break;
    case ModInst::CmpF:
      out.i = compareFloats(in.predicate, a.f, b.f);
      break;
    case ModInst::AbsF:
      out.f = std::fabs(a.f);
      break;
    case ModInst::AbsI: {
      int64_t sa = signedOf(a.i, t);
      out.i = wrap(static_cast<uint64_t>(sa < 0 ? 0 - static_cast<uint64_t>(sa)
                                                : static_cast<uint64_t>(sa)),
                   t);
      break;
    }
    case ModInst::Ceil:
      out.f = std::ceil(a.f);
      break;
    case ModInst::Floor:
      out.f = std::floor(a.f);
      break;
    case ModInst::CopySign:
      out.f = std::copysign(a.f, b.f);
      break;
    case ModInst::Exp:
      out.f = f(std::exp(static_cast<T>(a.f)));
      break;
    case ModInst::Exp2:
      out.f = f(std::exp2(static_cast<T>(a.f)));
      break;
    case ModInst::Log:
      out.f = f(std::log(static_cast<T>(a.f)));
      break;
    case ModInst::Log2:
      out.f = f(std::log2(static_cast<T>(a.f)));
      break;
    case ModInst::Log1p:
      out.f = f(std::log1p(static_cast<T>(a.f)));
      break;
    case ModInst::Tanh:
      out.f = f(std::tanh(static_cast<T>(a.f)));
      break;
    case ModInst::Sqrt:
      out.f = f(std::sqrt(static_cast<T>(a.f)));
      break;
    case ModInst::Rsqrt:
      out.f = f(T(1) / std::sqrt(static_cast<T>(a.f)));
      break;
    case ModInst::PowF:
      out.f = f(std::pow(static_cast<T>(a.f), static_cast<T>(b.f)));
      break;
    case ModInst::Fma:
      out.f = f(std::fma(static_cast<T>(a.f), static_cast<T>(b.f),
                         static_cast<T>(c.f)));
      break;
    case ModInst::Sin:
      out.f = f(std::sin(static_cast<T>(a.f)));
      break;
    case ModInst::Cos:
      out.f = f(std::cos(static_cast<T>(a.f)));
      break;
    case ModInst::Erf:
      out.f = f(std::erf(static_cast<T>(a.f)));
      break;
    case ModInst::RoundEven:
      out.f = std::nearbyint(a.f); // the default rounding: ties to even
      break;
    case ModInst::Trunc:
      out.f = std::trunc(a.f);
      break;
    }
    reg[r] = out;
  }
  for (size_t i = 0; i < p.results.size(); ++i)
    results[i] = reg[p.results[i]];
}

template void evaluate<double>(const ModProgram &, const ModValue *, ModValue *,
                               const ModEnv &, std::vector<ModValue> &);
template void evaluate<float>(const ModProgram &, const ModValue *, ModValue *,
                              const ModEnv &, std::vector<ModValue> &);

bool ModProgram::reads(int32_t reg) const {
  for (const ModInst &in : insts) {
    if (in.a == reg || in.b == reg || in.c == reg)
      return true;
    if (std::find(in.indices.begin(), in.indices.end(), reg) != in.indices.end())
      return true;
  }
  return std::find(results.begin(), results.end(), reg) != results.end();
}

} // namespace attnc
