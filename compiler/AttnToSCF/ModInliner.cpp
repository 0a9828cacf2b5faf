#include "compiler/AttnToSCF/ModInliner.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::attn;

ModInliner::ModInliner(ImplicitLocOpBuilder &b, int64_t width, Value seqQ,
                       Value seqKv, ValueRange inputs, ArrayAttr inputDecls)
    : b(b), width(width), seqQ(seqQ), seqKv(seqKv),
      inputs(inputs.begin(), inputs.end()), inputDecls(inputDecls) {}

static bool isVector(Value v) { return isa<VectorType>(v.getType()); }

Value ModInliner::broadcast(Value v, Type element) {
  if (isVector(v))
    return v;
  return b.create<vector::BroadcastOp>(VectorType::get({width}, element), v);
}

Value ModInliner::constantLike(Value like, int64_t value) {
  Type element = getElementTypeOrSelf(like.getType());
  Value c = b.create<arith::ConstantOp>(
      element.isIndex() ? b.getIndexAttr(value)
                        : b.getIntegerAttr(element, value));
  return isVector(like) ? broadcast(c, element) : c;
}

Value ModInliner::floatConstantLike(Value like, double value) {
  Value c = b.create<arith::ConstantOp>(b.getF32FloatAttr(value));
  return isVector(like) ? broadcast(c, b.getF32Type()) : c;
}

/// Division and remainder are total: by zero they give 0, and
/// INT_MIN / -1 wraps (a hardware divide would trap on either).
Value ModInliner::guardedDivision(Operation &op, ValueRange operands) {
  Value x = operands[0], y = operands[1];
  Value zero = constantLike(y, 0), one = constantLike(y, 1);
  Value byZero = b.create<arith::CmpIOp>(arith::CmpIPredicate::eq, y, zero);
  Value unsafe = byZero;
  StringRef name = op.getName().getStringRef();
  if (name != "arith.divui" && name != "arith.remui") {
    Type element = getElementTypeOrSelf(x.getType());
    unsigned bits = element.isIndex() ? 64 : element.getIntOrFloatBitWidth();
    int64_t minValue = bits == 64 ? std::numeric_limits<int64_t>::min()
                                  : -(int64_t(1) << (bits - 1));
    Value overflow = b.create<arith::AndIOp>(
        b.create<arith::CmpIOp>(arith::CmpIPredicate::eq, x,
                                constantLike(x, minValue)),
        b.create<arith::CmpIOp>(arith::CmpIPredicate::eq, y,
                                constantLike(y, -1)));
    unsafe = b.create<arith::OrIOp>(byZero, overflow);
  }
  Value safe = b.create<arith::SelectOp>(unsafe, one, y);
  OperationState state(op.getLoc(), op.getName(), ValueRange{x, safe},
                       TypeRange{x.getType()}, op.getAttrs());
  Value quotient = b.create(state)->getResult(0);
  return b.create<arith::SelectOp>(byZero, zero, quotient);
}

/// Shifts by the width or more give 0 (left, logical right) or the sign
/// (arithmetic right) instead of poison.
Value ModInliner::guardedShift(Operation &op, ValueRange operands) {
  Value x = operands[0], y = operands[1];
  Type element = getElementTypeOrSelf(x.getType());
  unsigned bits = element.isIndex() ? 64 : element.getIntOrFloatBitWidth();
  Value tooFar = b.create<arith::CmpIOp>(arith::CmpIPredicate::uge, y,
                                         constantLike(y, bits));
  Value safe = b.create<arith::SelectOp>(tooFar, constantLike(y, 0), y);
  OperationState state(op.getLoc(), op.getName(), ValueRange{x, safe},
                       TypeRange{x.getType()}, op.getAttrs());
  Value shifted = b.create(state)->getResult(0);
  Value fill = isa<arith::ShRSIOp>(op)
                   ? b.create<arith::ShRSIOp>(x, constantLike(x, bits - 1))
                         .getResult()
                   : constantLike(x, 0);
  return b.create<arith::SelectOp>(tooFar, fill, shifted);
}

/// fptosi/fptoui saturate at the integer type's range; NaN gives 0.
Value ModInliner::saturatedToInt(Operation &op, Value x) {
  Type resultElement = getElementTypeOrSelf(op.getResult(0).getType());
  unsigned bits =
      resultElement.isIndex() ? 64 : resultElement.getIntOrFloatBitWidth();
  bool isSigned = isa<arith::FPToSIOp>(op);
  double lo = isSigned ? -std::ldexp(1.0, bits - 1) : 0.0;
  double hi = std::ldexp(1.0, isSigned ? bits - 1 : bits); // exclusive
  float below = std::nextafter(static_cast<float>(hi), 0.f);
  Value clamped = b.create<arith::MinNumFOp>(
      b.create<arith::MaxNumFOp>(x, floatConstantLike(x, lo)),
      floatConstantLike(x, below));
  Type resultType = isVector(x) ? Type(VectorType::get({width}, resultElement))
                                : resultElement;
  Value converted =
      isSigned ? b.create<arith::FPToSIOp>(resultType, clamped).getResult()
               : b.create<arith::FPToUIOp>(resultType, clamped).getResult();
  int64_t maxValue =
      isSigned ? (bits == 64 ? std::numeric_limits<int64_t>::max()
                             : (int64_t(1) << (bits - 1)) - 1)
               : -1; // all ones
  Value atTop = b.create<arith::CmpFOp>(arith::CmpFPredicate::OGE, x,
                                        floatConstantLike(x, hi));
  Value saturated = b.create<arith::SelectOp>(
      atTop, constantLike(converted, maxValue), converted);
  Value isNan = b.create<arith::CmpFOp>(arith::CmpFPredicate::UNO, x, x);
  return b.create<arith::SelectOp>(isNan, constantLike(converted, 0),
                                   saturated);
}

Value ModInliner::load(LoadOp op, ValueRange indices) {
  int64_t position = 0;
  for (auto [i, a] : llvm::enumerate(inputDecls))
    if (cast<InputAttr>(a).getName() == op.getInput())
      position = static_cast<int64_t>(i);
  Value memref = inputs[position];
  Type element = op.getResult().getType();
  bool anyVector = llvm::any_of(indices, isVector);
  // Clamp every index into its dimension: no load leaves the input.
  SmallVector<Value> clamped;
  for (auto [d, index] : llvm::enumerate(indices)) {
    Value last = b.create<arith::SubIOp>(
        b.create<memref::DimOp>(memref, static_cast<int64_t>(d)),
        b.create<arith::ConstantIndexOp>(1));
    Value lastLike = isVector(index) ? broadcast(last, b.getIndexType()) : last;
    clamped.push_back(b.create<arith::MinSIOp>(
        b.create<arith::MaxSIOp>(index, constantLike(index, 0)), lastLike));
  }
  if (!anyVector)
    return b.create<memref::LoadOp>(memref, clamped);
  // Vector indices: one gather from the input's flat buffer.
  auto meta = b.create<memref::ExtractStridedMetadataOp>(memref);
  Value offsets = broadcast(meta.getOffset(), b.getIndexType());
  Value extent = b.create<arith::ConstantIndexOp>(1);
  for (auto [d, index] : llvm::enumerate(clamped)) {
    Value stride = meta.getStrides()[d];
    offsets = b.create<arith::AddIOp>(
        offsets, b.create<arith::MulIOp>(broadcast(index, b.getIndexType()),
                                         broadcast(stride, b.getIndexType())));
    extent = b.create<arith::AddIOp>(
        extent, b.create<arith::MulIOp>(
                    b.create<arith::SubIOp>(meta.getSizes()[d],
                                            b.create<arith::ConstantIndexOp>(1)),
                    stride));
  }
  // The whole buffer from its base, so that the offsets above index it.
  Value zero = b.create<arith::ConstantIndexOp>(0);
  extent = b.create<arith::AddIOp>(extent, meta.getOffset());
  auto flatType = MemRefType::get({ShapedType::kDynamic}, element);
  Value flat = b.create<memref::ReinterpretCastOp>(
      flatType, meta.getBaseBuffer(), zero, ValueRange{extent},
      ValueRange{b.create<arith::ConstantIndexOp>(1)});
  auto vecType = VectorType::get({width}, element);
  Value all = b.create<arith::ConstantOp>(
      DenseElementsAttr::get(VectorType::get({width}, b.getI1Type()), true));
  Value pass = b.create<arith::ConstantOp>(DenseElementsAttr::get(
      vecType, element.isF32() ? Attribute(b.getF32FloatAttr(0))
                               : Attribute(b.getI32IntegerAttr(0))));
  return b.create<vector::GatherOp>(vecType, flat, ValueRange{zero}, offsets,
                                    all, pass);
}

Value ModInliner::emit(Operation &op, ValueRange mapped) {
  if (auto seq = dyn_cast<SeqLenOp>(op))
    return seq.getWhich() == SeqKind::Q ? seqQ : seqKv;
  if (auto load = dyn_cast<LoadOp>(op))
    return this->load(load, mapped);
  if (isa<arith::ConstantOp>(op)) {
    IRMapping none;
    return b.clone(op, none)->getResult(0);
  }
  // Elementwise: a vector op as soon as one operand is a vector.
  bool anyVector = llvm::any_of(mapped, isVector);
  SmallVector<Value> operands;
  for (auto [i, v] : llvm::enumerate(mapped)) {
    // arith.select keeps a scalar condition with vector values.
    bool scalarCondition = isa<arith::SelectOp>(op) && i == 0;
    operands.push_back(anyVector && !scalarCondition
                           ? broadcast(v, getElementTypeOrSelf(v.getType()))
                           : v);
  }
  if (isa<arith::SelectOp>(op) && isVector(operands[0]))
    for (int i : {1, 2})
      operands[i] = broadcast(operands[i], getElementTypeOrSelf(operands[i].getType()));
  StringRef name = op.getName().getStringRef();
  if (name == "arith.divsi" || name == "arith.divui" || name == "arith.remsi" ||
      name == "arith.remui" || name == "arith.ceildivsi" ||
      name == "arith.floordivsi")
    return guardedDivision(op, operands);
  if (name == "arith.shli" || name == "arith.shrsi" || name == "arith.shrui")
    return guardedShift(op, operands);
  if (name == "arith.fptosi" || name == "arith.fptoui")
    return saturatedToInt(op, operands[0]);
  Type result = op.getResult(0).getType();
  bool vectorResult = llvm::any_of(operands, isVector);
  Type resultType =
      vectorResult ? Type(VectorType::get({width}, result)) : result;
  OperationState state(op.getLoc(), op.getName(), operands,
                       TypeRange{resultType}, op.getAttrs());
  return b.create(state)->getResult(0);
}

SmallVector<Value> ModInliner::inlineFunc(func::FuncOp f, ValueRange args) {
  IRMapping map;
  Block &entry = f.front();
  map.map(entry.getArguments(), args);
  for (Operation &op : entry) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      SmallVector<Value> out;
      for (Value v : ret.getOperands())
        out.push_back(map.lookup(v));
      return out;
    }
    SmallVector<Value> operands;
    for (Value v : op.getOperands())
      operands.push_back(map.lookup(v));
    map.map(op.getResult(0), emit(op, operands));
  }
  return {};
}
