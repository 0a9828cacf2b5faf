#ifndef ATTNC_RUNTIME_MODPROGRAM_H
#define ATTNC_RUNTIME_MODPROGRAM_H

// A kernel's mask, score and key-range functions (dialect/Mods.h) compiled
// from their MLIR definitions into straight-line programs that the float64
// reference interprets: the reference evaluates the very regions the
// backends compile, not a hand-written copy. MLIR-free; built by
// runtime/mlir/ModCompile.cpp.

#include "runtime/Tensor.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace attnc {

/// The value types of region code.
enum class ModType : uint8_t { I1, I32, I64, F32 }; // I64 also stands for index

struct ModInst {
  enum Op : uint8_t {
    Arg, Const, SeqQ, SeqKv, Load,
    AddI, SubI, MulI, DivSI, DivUI, RemSI, RemUI, CeilDivSI, FloorDivSI,
    MaxSI, MinSI, MaxUI, MinUI, AndI, OrI, XorI, ShLI, ShRSI, ShRUI, CmpI,
    Select, ExtSI, ExtUI, TruncI, IndexCast, IndexCastUI,
    SIToFP, UIToFP, FPToSI, FPToUI,
    AddF, SubF, MulF, DivF, RemF, NegF, MaximumF, MinimumF, MaxNumF, MinNumF,
    CmpF,
    AbsF, AbsI, Ceil, Floor, CopySign, Exp, Exp2, Log, Log2, Log1p, Tanh,
    Sqrt, Rsqrt, PowF, Fma, Sin, Cos, Erf, RoundEven, Trunc,
  };
  Op op = Const;
  ModType type = ModType::I64;    // of the result
  ModType srcType = ModType::I64; // of the first operand (casts, compares)
  uint8_t predicate = 0;          // arith.cmpi / arith.cmpf predicate value
  int32_t a = -1, b = -1, c = -1; // operand registers
  int64_t intValue = 0;           // Const (integers), Arg and Load: index
  double floatValue = 0;          // Const (f32)
  std::vector<int32_t> indices;   // Load
};

/// Register r holds the result of instruction r.
struct ModProgram {
  std::vector<ModInst> insts;
  std::vector<int32_t> results;
  /// Whether any instruction (or result) reads argument register `reg`
  /// (a mask's b is 0, h is 1): a mask that reads neither is the same for
  /// every batch and head.
  bool reads(int32_t reg) const;
};

/// The programs of one kernel (absent: identity / all visible / unknown /
/// a built-in feature map).
struct ModPrograms {
  std::optional<ModProgram> mask, score, range, feature;
};

/// One register: an integer (normalised to its type's width) or a float.
union ModValue {
  int64_t i;
  double f;
};

/// Run-time values programs read besides their arguments: sequence
/// lengths, and the inputs in declaration order.
struct ModEnv {
  int64_t seqQ = 0, seqKv = 0;
  std::vector<const InputTensor *> inputs;
};

/// Evaluates `p` on `args`, computing floats in T (double for the float64
/// reference, float for the naive f32 one); writes one value per result.
template <typename T>
void evaluate(const ModProgram &p, const ModValue *args, ModValue *results,
              const ModEnv &env, std::vector<ModValue> &registers);

} // namespace attnc

#endif
