#include "compiler/Target/CUDA/ModPrinter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstring>

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Integer helpers, shared by every region: values are long long holding an
/// integer of BITS bits, normalised (i1: 0 or 1; i32: sign-extended).
const char *kHelpers = R"(// Region helpers (see docs/dialect.md for the semantics).
template <int BITS> __device__ __forceinline__ long long attnc_wrap(unsigned long long v) {
  if (BITS == 1) return (long long)(v & 1ull);
  if (BITS == 32) return (long long)(int)(unsigned)v;
  return (long long)v;
}
template <int BITS> __device__ __forceinline__ long long attnc_signed(long long v) {
  return BITS == 1 ? -v : v;
}
template <int BITS> __device__ __forceinline__ unsigned long long attnc_unsigned(long long v) {
  if (BITS == 1) return (unsigned long long)v & 1ull;
  if (BITS == 32) return (unsigned long long)v & 0xffffffffull;
  return (unsigned long long)v;
}
template <int BITS> __device__ __forceinline__ long long attnc_min_value() {
  return BITS == 64 ? (long long)(1ull << 63) : BITS == 1 ? -1ll : -(1ll << (BITS - 1));
}
// kind: 0 div, 1 rem, 2 ceildiv, 3 floordiv. By zero: 0; MIN / -1 wraps.
template <int BITS> __device__ __forceinline__ long long attnc_divs(long long a, long long b, int kind) {
  a = attnc_signed<BITS>(a), b = attnc_signed<BITS>(b);
  if (b == 0) return 0;
  if (a == attnc_min_value<BITS>() && b == -1) return kind == 1 ? 0 : attnc_wrap<BITS>((unsigned long long)a);
  long long q = a / b, r = a % b;
  if (kind == 1) return attnc_wrap<BITS>((unsigned long long)r);
  if (kind == 2) q += (r != 0 && ((a < 0) == (b < 0)));
  if (kind == 3) q -= (r != 0 && ((a < 0) != (b < 0)));
  return attnc_wrap<BITS>((unsigned long long)q);
}
template <int BITS> __device__ __forceinline__ long long attnc_divu(long long a, long long b, bool rem) {
  unsigned long long x = attnc_unsigned<BITS>(a), y = attnc_unsigned<BITS>(b);
  if (y == 0) return 0;
  return attnc_wrap<BITS>(rem ? x % y : x / y);
}
// kind: 0 shl, 1 shrsi, 2 shrui. By the width or more: 0, or the sign.
template <int BITS> __device__ __forceinline__ long long attnc_shift(long long a, long long b, int kind) {
  unsigned long long by = attnc_unsigned<BITS>(b);
  if (by >= (unsigned long long)BITS)
    return kind == 1 && attnc_signed<BITS>(a) < 0 ? attnc_wrap<BITS>(~0ull) : 0;
  if (kind == 0) return attnc_wrap<BITS>(attnc_unsigned<BITS>(a) << by);
  if (kind == 2) return attnc_wrap<BITS>(attnc_unsigned<BITS>(a) >> by);
  return attnc_wrap<BITS>((unsigned long long)(attnc_signed<BITS>(a) >> by));
}
// Float to integer, saturating; NaN gives 0.
template <int BITS> __device__ __forceinline__ long long attnc_fptoi(float x, bool is_signed) {
  if (x != x) return 0;
  double lo = is_signed ? -ldexp(1.0, BITS - 1) : 0.0;
  double hi = ldexp(1.0, is_signed ? BITS - 1 : BITS);
  if ((double)x <= lo) return is_signed ? attnc_min_value<BITS>() : 0;
  if ((double)x >= hi)
    return is_signed ? (BITS == 64 ? (long long)(~0ull >> 1) : (1ll << (BITS - 1)) - 1)
                     : attnc_wrap<BITS>(~0ull);
  return is_signed ? attnc_wrap<BITS>((unsigned long long)(long long)x)
                   : attnc_wrap<BITS>((unsigned long long)x);
}
__device__ __forceinline__ bool attnc_unordered(float a, float b) { return a != a || b != b; }
__device__ __forceinline__ long long attnc_clamp(long long i, long long size) {
  return i < 0 ? 0 : i >= size ? size - 1 : i;
}
)";

int bitsOf(Type t) {
  if (t.isIndex())
    return 64;
  return static_cast<int>(t.getIntOrFloatBitWidth());
}

class Printer {
public:
  explicit Printer(KernelOp kernel) : kernel(kernel) {}

  std::string function(func::FuncOp f, const std::string &signature,
                       const std::function<std::string(ValueRange)> &ret) {
    body.clear();
    names.clear();
    for (auto [i, arg] : llvm::enumerate(f.front().getArguments()))
      names[arg] = llvm::formatv("a{0}", i).str();
    for (Operation &op : f.front()) {
      if (auto r = dyn_cast<func::ReturnOp>(op)) {
        body += ret(r.getOperands());
        break;
      }
      statement(op);
    }
    return signature + " {\n" + body + "}\n";
  }

  std::string name(Value v) { return names.lookup(v); }

private:
  std::string cType(Type t) { return t.isF32() ? "float" : "long long"; }

  void statement(Operation &op) {
    Value result = op.getResult(0);
    std::string v = llvm::formatv("v{0}", next++).str();
    names[result] = v;
    body += "  " + cType(result.getType()) + " " + v + " = " + expression(op) +
            ";\n";
  }

  std::string operand(Operation &op, unsigned i) { return name(op.getOperand(i)); }

  std::string expression(Operation &op) {
    StringRef n = op.getName().getStringRef();
    Type rt = op.getResult(0).getType();
    auto a = [&] { return operand(op, 0); };
    auto b = [&] { return operand(op, 1); };
    auto c = [&] { return operand(op, 2); };
    int bits = rt.isF32() ? 32 : bitsOf(rt);
    int srcBits = op.getNumOperands() && !op.getOperand(0).getType().isF32()
                      ? bitsOf(op.getOperand(0).getType())
                      : 32;
    auto fmt = [](const char *f, auto &&...xs) {
      return llvm::formatv(f, xs...).str();
    };
    auto wrapOf = [&](const std::string &e) {
      return fmt("attnc_wrap<{0}>({1})", bits, e);
    };
    auto u = [&](const std::string &x) {
      return fmt("attnc_unsigned<{0}>({1})", bits, x);
    };
    if (auto k = dyn_cast<arith::ConstantOp>(op)) {
      if (auto f = dyn_cast<FloatAttr>(k.getValue())) {
        float value = static_cast<float>(f.getValueAsDouble());
        unsigned bitsValue;
        std::memcpy(&bitsValue, &value, 4);
        return fmt("__int_as_float(0x{0:x-})", bitsValue);
      }
      int64_t value = cast<IntegerAttr>(k.getValue()).getValue().getSExtValue();
      return wrapOf(fmt("(unsigned long long){0}ll", value));
    }
    if (auto s = dyn_cast<SeqLenOp>(op))
      return s.getWhich() == SeqKind::Q ? "(long long)p.seq_q"
                                        : "(long long)p.seq_kv";
    if (auto load = dyn_cast<LoadOp>(op)) {
      std::string base = "p.in_" + load.getInput().str();
      std::string offset = "0";
      for (auto [d, index] : llvm::enumerate(load.getIndices()))
        offset += fmt(" + attnc_clamp({0}, {1}_size[{2}]) * {1}_stride[{2}]",
                      name(index), base, d);
      std::string read = fmt("load_global({0} + ({1}))", base, offset);
      return rt.isF32() ? read : fmt("(long long){0}", read);
    }
    if (n == "arith.addi")
      return wrapOf(u(a()) + " + " + u(b()));
    if (n == "arith.subi")
      return wrapOf(u(a()) + " - " + u(b()));
    if (n == "arith.muli")
      return wrapOf(u(a()) + " * " + u(b()));
    if (n == "arith.andi")
      return wrapOf(u(a()) + " & " + u(b()));
    if (n == "arith.ori")
      return wrapOf(u(a()) + " | " + u(b()));
    if (n == "arith.xori")
      return wrapOf(u(a()) + " ^ " + u(b()));
    for (auto [name, kind] : {std::pair{"arith.divsi", 0}, {"arith.remsi", 1},
                              {"arith.ceildivsi", 2}, {"arith.floordivsi", 3}})
      if (n == name)
        return fmt("attnc_divs<{0}>({1}, {2}, {3})", bits, a(), b(), kind);
    if (n == "arith.divui" || n == "arith.remui")
      return fmt("attnc_divu<{0}>({1}, {2}, {3})", bits, a(), b(),
                 n == "arith.remui" ? "true" : "false");
    for (auto [name, kind] :
         {std::pair{"arith.shli", 0}, {"arith.shrsi", 1}, {"arith.shrui", 2}})
      if (n == name)
        return fmt("attnc_shift<{0}>({1}, {2}, {3})", bits, a(), b(), kind);
    auto sv = [&](const std::string &x) {
      return fmt("attnc_signed<{0}>({1})", srcBits, x);
    };
    auto uv = [&](const std::string &x) {
      return fmt("attnc_unsigned<{0}>({1})", srcBits, x);
    };
    if (n == "arith.maxsi" || n == "arith.minsi")
      return fmt("({0} {1} {2} ? {3} : {4})", sv(a()),
                 n == "arith.maxsi" ? ">=" : "<=", sv(b()), a(), b());
    if (n == "arith.maxui" || n == "arith.minui")
      return fmt("({0} {1} {2} ? {3} : {4})", uv(a()),
                 n == "arith.maxui" ? ">=" : "<=", uv(b()), a(), b());
    if (auto cmp = dyn_cast<arith::CmpIOp>(op)) {
      static const char *ops[] = {"==", "!=", "<", "<=", ">", ">=",
                                  "<",  "<=", ">", ">="};
      int p = static_cast<int>(cmp.getPredicate());
      if (p < 2)
        return fmt("(long long)({0} {1} {2})", a(), ops[p], b());
      if (p < 6)
        return fmt("(long long)({0} {1} {2})", sv(a()), ops[p], sv(b()));
      return fmt("(long long)({0} {1} {2})", uv(a()), ops[p], uv(b()));
    }
    if (isa<arith::SelectOp>(op))
      return fmt("({0} ? {1} : {2})", a(), b(), c());
    if (n == "arith.extsi" || n == "arith.index_cast")
      return wrapOf(fmt("(unsigned long long){0}", sv(a())));
    if (n == "arith.extui" || n == "arith.index_castui")
      return wrapOf(uv(a()));
    if (n == "arith.trunci")
      return wrapOf(fmt("(unsigned long long){0}", a()));
    if (n == "arith.sitofp")
      return fmt("(float){0}", sv(a()));
    if (n == "arith.uitofp")
      return fmt("(float){0}", uv(a()));
    if (n == "arith.fptosi" || n == "arith.fptoui")
      return fmt("attnc_fptoi<{0}>({1}, {2})", bits, a(),
                 n == "arith.fptosi" ? "true" : "false");
    static const llvm::StringMap<const char *> binaryF = {
        {"arith.addf", "({0} + {1})"},
        {"arith.subf", "({0} - {1})"},
        {"arith.mulf", "({0} * {1})"},
        {"arith.divf", "({0} / {1})"},
        {"arith.remf", "fmodf({0}, {1})"},
        {"arith.maximumf",
         "(attnc_unordered({0}, {1}) ? __int_as_float(0x7fc00000) : fmaxf({0}, {1}))"},
        {"arith.minimumf",
         "(attnc_unordered({0}, {1}) ? __int_as_float(0x7fc00000) : fminf({0}, {1}))"},
        {"arith.maxnumf", "fmaxf({0}, {1})"},
        {"arith.minnumf", "fminf({0}, {1})"},
        {"math.copysign", "copysignf({0}, {1})"},
        {"math.powf", "powf({0}, {1})"}};
    if (auto it = binaryF.find(n); it != binaryF.end())
      return fmt(it->second, a(), b());
    if (auto cmp = dyn_cast<arith::CmpFOp>(op)) {
      int p = static_cast<int>(cmp.getPredicate());
      static const char *ops[] = {"", "==", ">", ">=", "<", "<=", "!=", ""};
      std::string un = fmt("attnc_unordered({0}, {1})", a(), b());
      if (p == 0)
        return "0ll";
      if (p == 15)
        return "1ll";
      if (p == 7)
        return fmt("(long long)!{0}", un);
      if (p == 14)
        return fmt("(long long){0}", un);
      if (p < 7)
        return fmt("(long long)(!{0} && {1} {2} {3})", un, a(), ops[p], b());
      return fmt("(long long)({0} || {1} {2} {3})", un, a(), ops[p - 7], b());
    }
    if (n == "math.fma")
      return fmt("fmaf({0}, {1}, {2})", a(), b(), c());
    if (n == "math.absi")
      return wrapOf(fmt("(unsigned long long)({0} < 0 ? 0ull - (unsigned long long){0} "
                        ": (unsigned long long){0})",
                        sv(a())));
    static const llvm::StringMap<const char *> unaryF = {
        {"arith.negf", "-{0}"},         {"math.absf", "fabsf({0})"},
        {"math.ceil", "ceilf({0})"},    {"math.floor", "floorf({0})"},
        {"math.exp", "expf({0})"},      {"math.exp2", "exp2f({0})"},
        {"math.log", "logf({0})"},      {"math.log2", "log2f({0})"},
        {"math.log1p", "log1pf({0})"},  {"math.tanh", "tanhf({0})"},
        {"math.sqrt", "sqrtf({0})"},    {"math.rsqrt", "(1.0f / sqrtf({0}))"},
        {"math.sin", "sinf({0})"},      {"math.cos", "cosf({0})"},
        {"math.erf", "erff({0})"},      {"math.roundeven", "rintf({0})"},
        {"math.trunc", "truncf({0})"}};
    if (auto it = unaryF.find(n); it != unaryF.end())
      return fmt(it->second, a());
    // The verifier admits only the ops above (modRegionOps()).
    return "/* unreachable: " + n.str() + " */ 0";
  }

  KernelOp kernel;
  std::string body;
  llvm::DenseMap<Value, std::string> names;
  int next = 0;
};

} // namespace

std::string mlir::attn::printCudaFeature(const ModDefinitions &defs,
                                         KernelOp op) {
  Printer printer(op);
  std::string out = kHelpers;
  const char *head = "__device__ __forceinline__ float attnc_feature(const Params &p, float a0)";
  if (defs.feature)
    return out + printer.function(defs.feature, head, [&](ValueRange r) {
             return "  return " + printer.name(r[0]) + ";\n";
           });
  // The built-ins, as runtime/Linear.h applies them (a NaN stays NaN
  // through elu1 and identity, and relu maps it to 0, as x > 0 ? x : 0).
  switch (op.getFeatureMapOrDefault()) {
  case FeatureMap::Elu1:
    return out + head + " { return a0 > 0.f ? a0 + 1.f : expf(a0); }\n";
  case FeatureMap::Relu:
    return out + head + " { return a0 > 0.f ? a0 : 0.f; }\n";
  case FeatureMap::Identity:
  case FeatureMap::Custom:
    break;
  }
  return out + head + " { return a0; }\n";
}

std::string mlir::attn::printCudaMods(const ModDefinitions &defs, KernelOp op) {
  Printer printer(op);
  std::string out = kHelpers;
  const char *args4 = "long long a0, long long a1, long long a2, long long a3";
  if (defs.mask)
    out += printer.function(
        defs.mask,
        std::string("__device__ __forceinline__ bool attnc_mask(const Params &p, ") +
            args4 + ")",
        [&](ValueRange r) { return "  return " + printer.name(r[0]) + " != 0;\n"; });
  else
    out += std::string("__device__ __forceinline__ bool attnc_mask(const Params &, ") +
           args4 + ") { return true; }\n";
  if (defs.score)
    out += printer.function(
        defs.score,
        "__device__ __forceinline__ float attnc_score(const Params &p, float a0, "
        "long long a1, long long a2, long long a3, long long a4)",
        [&](ValueRange r) { return "  return " + printer.name(r[0]) + ";\n"; });
  else
    out += "__device__ __forceinline__ float attnc_score(const Params &, float a0, "
           "long long, long long, long long, long long) { return a0; }\n";
  if (defs.range)
    out += printer.function(
        defs.range,
        std::string("__device__ __forceinline__ void attnc_range(const Params &p, ") +
            args4 + ", long long (&r)[4])",
        [&](ValueRange r) {
          std::string s;
          for (int i = 0; i < 4; ++i)
            s += llvm::formatv("  r[{0}] = {1};\n", i, printer.name(r[i])).str();
          return s;
        });
  else // custom masks: every key may be visible, none is known to be
    out += std::string("__device__ __forceinline__ void attnc_range(const Params &, ") +
           args4 + ", long long (&r)[4]) { r[0] = 0; r[1] = a3; r[2] = 0; r[3] = 0; }\n";
  return out;
}
