// Built-in masks and score modifiers as regions, and the key ranges they
// prove visible (dialect/Mods.h).
#include "dialect/Mods.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;

double mlir::attn::alibiSlope(int64_t h, int64_t heads) {
  int64_t n = 1;
  while (n * 2 <= heads)
    n *= 2;
  double exponent = h < n ? -8.0 * double(h + 1) / double(n)
                          : -4.0 * double(2 * (h - n) + 1) / double(n);
  return std::exp2(exponent);
}

namespace {

/// Window extents beyond any sequence behave as unbounded; clamping keeps
/// the index arithmetic far from overflow.
constexpr int64_t kMaxExtent = int64_t(1) << 40;

struct ModBuilder {
  ImplicitLocOpBuilder &b;
  Value idx(int64_t v) { return b.create<arith::ConstantIndexOp>(v); }
  Value add(Value x, Value y) { return b.create<arith::AddIOp>(x, y); }
  Value sub(Value x, Value y) { return b.create<arith::SubIOp>(x, y); }
  Value clamp(Value x, Value lo, Value hi) {
    return b.create<arith::MinSIOp>(b.create<arith::MaxSIOp>(x, lo), hi);
  }
  Value f32(double v) {
    return b.create<arith::ConstantOp>(b.getF32FloatAttr(v));
  }
  /// The key on query q's diagonal: q, or q + seq_kv - seq_q (bottom right).
  Value diagonal(Value q, Value seqQ, Value seqKv, bool bottomRight) {
    return bottomRight ? add(q, sub(seqKv, seqQ)) : q;
  }
};

func::FuncOp makeFunc(ImplicitLocOpBuilder &b, ModuleOp module, StringRef name,
                      TypeRange args, TypeRange results, KernelOp op) {
  b.setInsertionPointToEnd(module.getBody());
  auto f = b.create<func::FuncOp>(name, b.getFunctionType(args, results));
  if (ArrayAttr inputs = op.getInputsAttr())
    f->setAttr("attn.inputs", inputs);
  b.setInsertionPointToStart(f.addEntryBlock());
  return f;
}

/// Clones a kernel region's body after the builder's insertion point with
/// its block arguments bound to `args`; returns the yielded value.
Value inlineRegion(ImplicitLocOpBuilder &b, Region &region, ValueRange args) {
  IRMapping map;
  Block &block = region.front();
  map.map(block.getArguments(), args);
  for (Operation &inner : block.without_terminator())
    b.clone(inner, map);
  return map.lookup(cast<YieldOp>(block.getTerminator()).getValue());
}

} // namespace

ModDefinitions mlir::attn::buildModDefinitions(KernelOp op) {
  MLIRContext *ctx = op.getContext();
  ctx->loadDialect<func::FuncDialect, arith::ArithDialect, math::MathDialect>();
  ImplicitLocOpBuilder b(op.getLoc(), ctx);
  ModBuilder m{b};
  ModDefinitions defs;
  defs.module = ModuleOp::create(op.getLoc());
  ModuleOp module = *defs.module;
  Type index = b.getIndexType(), f32 = b.getF32Type();
  SmallVector<Type> four(4, index);
  MaskAttr mask = op.getMaskOrDefault();
  bool bottomRight = mask.getAlignment() == Alignment::BottomRight;
  int64_t left = std::min(mask.getLeft(), kMaxExtent);
  int64_t right = std::min(mask.getRight(), kMaxExtent);

  // The mask.
  if (mask.getKind() != MaskKind::None) {
    defs.mask = makeFunc(b, module, "mask", four, {b.getI1Type()}, op);
    Block &entry = defs.mask.front();
    Value bArg = entry.getArgument(0), h = entry.getArgument(1),
          q = entry.getArgument(2), k = entry.getArgument(3);
    Value visible;
    if (mask.getKind() == MaskKind::Custom) {
      visible = inlineRegion(b, op.getMaskFn(), {bArg, h, q, k});
    } else {
      Value seqQ = b.create<SeqLenOp>(index, SeqKind::Q);
      Value seqKv = b.create<SeqLenOp>(index, SeqKind::Kv);
      Value diag = m.diagonal(q, seqQ, seqKv, bottomRight);
      if (mask.getKind() == MaskKind::Causal) {
        visible = b.create<arith::CmpIOp>(arith::CmpIPredicate::sle, k, diag);
      } else { // sliding window: diag - left <= k <= diag + right
        Value lo = b.create<arith::CmpIOp>(arith::CmpIPredicate::sge, k,
                                           m.sub(diag, m.idx(left)));
        Value hi = b.create<arith::CmpIOp>(arith::CmpIPredicate::sle, k,
                                           m.add(diag, m.idx(right)));
        visible = b.create<arith::AndIOp>(lo, hi);
      }
    }
    b.create<func::ReturnOp>(visible);
  }

  // The score modifiers, in order: softcap, ALiBi, custom.
  double softcap = op.getSoftcapOrDefault();
  ScoreModKind scoreMod = op.getScoreModOrDefault();
  if (softcap > 0 || scoreMod != ScoreModKind::None) {
    SmallVector<Type> args = {f32, index, index, index, index};
    defs.score = makeFunc(b, module, "score", args, {f32}, op);
    Block &entry = defs.score.front();
    Value s = entry.getArgument(0), bArg = entry.getArgument(1),
          h = entry.getArgument(2), q = entry.getArgument(3),
          k = entry.getArgument(4);
    if (softcap > 0) { // c * tanh(s / c)
      Value t = b.create<math::TanhOp>(
          b.create<arith::MulFOp>(s, m.f32(1.0 / softcap)));
      s = b.create<arith::MulFOp>(t, m.f32(softcap));
    }
    if (scoreMod == ScoreModKind::Alibi) {
      // s - slope(h) * |k - diag(q)|, the distance to the bottom-right
      // diagonal as FlashAttention measures it.
      int64_t heads = op.getQHeads();
      int64_t n = 1;
      while (n <= heads / 2) // n * 2 <= heads, without overflow
        n *= 2;
      Value hf = b.create<arith::SIToFPOp>(
          f32, b.create<arith::IndexCastOp>(b.getI64Type(), h));
      Value first = b.create<arith::MulFOp>(
          b.create<arith::AddFOp>(hf, m.f32(1.0)), m.f32(-8.0 / double(n)));
      Value rest = b.create<arith::MulFOp>(
          b.create<arith::AddFOp>(
              b.create<arith::MulFOp>(
                  b.create<arith::SubFOp>(hf, m.f32(double(n))), m.f32(2.0)),
              m.f32(1.0)),
          m.f32(-4.0 / double(n)));
      Value inFirst = b.create<arith::CmpIOp>(arith::CmpIPredicate::slt, h,
                                              m.idx(n));
      Value slope = b.create<math::Exp2Op>(
          b.create<arith::SelectOp>(inFirst, first, rest));
      Value seqQ = b.create<SeqLenOp>(index, SeqKind::Q);
      Value seqKv = b.create<SeqLenOp>(index, SeqKind::Kv);
      Value distance = b.create<math::AbsFOp>(b.create<arith::SIToFPOp>(
          f32, b.create<arith::IndexCastOp>(
                   b.getI64Type(),
                   m.sub(k, m.diagonal(q, seqQ, seqKv, /*bottomRight=*/true)))));
      s = b.create<arith::SubFOp>(s, b.create<arith::MulFOp>(slope, distance));
    } else if (scoreMod == ScoreModKind::Custom) {
      s = inlineRegion(b, op.getScoreFn(), {s, bArg, h, q, k});
    }
    b.create<func::ReturnOp>(s);
  }

  // A custom feature map.
  if (op.getVariantOrDefault() == Variant::Linear &&
      op.getFeatureMapOrDefault() == FeatureMap::Custom) {
    defs.feature = makeFunc(b, module, "feature", {f32}, {f32}, op);
    Block &entry = defs.feature.front();
    b.create<func::ReturnOp>(
        inlineRegion(b, op.getFeatureFn(), {entry.getArgument(0)}));
  }

  // The key range of a block of query rows.
  if (mask.getKind() != MaskKind::Custom) {
    defs.range = makeFunc(b, module, "range", four, four, op);
    Block &entry = defs.range.front();
    Value qFirst = entry.getArgument(0), qLast = entry.getArgument(1),
          seqQ = entry.getArgument(2), seqKv = entry.getArgument(3);
    Value zero = m.idx(0);
    Value lo = zero, hi = seqKv, fullLo = zero, fullHi = seqKv;
    if (mask.getKind() != MaskKind::None) {
      Value firstDiag = m.diagonal(qFirst, seqQ, seqKv, bottomRight);
      Value lastDiag = m.diagonal(qLast, seqQ, seqKv, bottomRight);
      int64_t l = mask.getKind() == MaskKind::Causal ? kMaxExtent : left;
      int64_t r = mask.getKind() == MaskKind::Causal ? 0 : right;
      // Row q sees [diag(q) - l, diag(q) + r] within [0, seq_kv).
      lo = m.clamp(m.sub(firstDiag, m.idx(l)), zero, seqKv);
      hi = m.clamp(m.add(lastDiag, m.idx(r + 1)), lo, seqKv);
      fullLo = m.clamp(m.sub(lastDiag, m.idx(l)), zero, seqKv);
      fullHi = m.clamp(m.add(firstDiag, m.idx(r + 1)), zero, seqKv);
    }
    b.create<func::ReturnOp>(ValueRange{lo, hi, fullLo, fullHi});
  }
  return defs;
}
