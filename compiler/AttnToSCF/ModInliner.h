#ifndef ATTNC_COMPILER_ATTNTOSCF_MODINLINER_H
#define ATTNC_COMPILER_ATTNTOSCF_MODINLINER_H

// Inlines a mask, score or range function (dialect/Mods.h) into the CPU
// loop nest, lifted to vectors: an op whose operands are all scalars stays
// scalar (b, h and q are the same for a whole row), one that meets a
// vector (the k lanes, the scores) becomes a vector op of `width` lanes.
// Integer division, shifts and float-to-integer conversions get the
// guards that make them total (docs/dialect.md); loads of declared inputs
// clamp their indices and gather when they are vectors.

#include "dialect/AttnOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::attn {

class ModInliner {
public:
  /// `inputs` are the kernel's input memrefs, in declaration order.
  ModInliner(ImplicitLocOpBuilder &b, int64_t width, Value seqQ, Value seqKv,
             ValueRange inputs, ArrayAttr inputDecls);

  /// `f`'s body at the insertion point, its arguments bound to `args`
  /// (scalars or vectors of `width` lanes); the returned values.
  SmallVector<Value> inlineFunc(func::FuncOp f, ValueRange args);

private:
  Value broadcast(Value v, Type element);
  Value emit(Operation &op, ValueRange operands);
  Value guardedDivision(Operation &op, ValueRange operands);
  Value guardedShift(Operation &op, ValueRange operands);
  Value saturatedToInt(Operation &op, Value x);
  Value load(LoadOp op, ValueRange indices);
  Value constantLike(Value like, int64_t value);
  Value floatConstantLike(Value like, double value);

  ImplicitLocOpBuilder &b;
  int64_t width;
  Value seqQ, seqKv;
  SmallVector<Value> inputs;
  ArrayAttr inputDecls;
};

} // namespace mlir::attn

#endif
