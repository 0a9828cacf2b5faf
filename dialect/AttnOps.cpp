// The attn.kernel op's defaults and verifier: the rulebook every backend may
// rely on. One rule per check, each with its own message naming the values.
#include "dialect/AttnOps.h"

#include "mlir/IR/Builders.h"

#include <cmath>
#include <cstdio>
#include <string>

using namespace mlir;
using namespace mlir::attn;

#define GET_OP_CLASSES
#include "dialect/AttnOps.cpp.inc"

Type KernelOp::getAccumTypeOrDefault() {
  if (std::optional<Type> t = getAccumType())
    return *t;
  return Float32Type::get(getContext());
}

double KernelOp::getScaleOrDefault() {
  if (std::optional<APFloat> s = getScale())
    return s->convertToDouble();
  return 1.0 / std::sqrt(static_cast<double>(static_cast<int64_t>(getDQk())));
}

MaskAttr KernelOp::getMaskOrDefault() {
  if (std::optional<MaskAttr> m = getMask())
    return *m;
  return MaskAttr::getNone(getContext());
}

ScoreModKind KernelOp::getScoreModOrDefault() {
  return getScoreMod().value_or(ScoreModKind::None);
}
Layout KernelOp::getLayoutOrDefault() {
  return getLayout().value_or(Layout::BSHD);
}
Mode KernelOp::getModeOrDefault() { return getMode().value_or(Mode::Prefill); }
Variant KernelOp::getVariantOrDefault() {
  return getVariant().value_or(Variant::Softmax);
}

/// A number as a user wrote it ("-1", "0.125"), not "-1.000000e+00".
static std::string formatNumber(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", v);
  return buffer;
}

static bool isSupportedElementType(Type t) {
  return t.isF32() || t.isF16() || t.isBF16();
}

LogicalResult KernelOp::verify() {
  int64_t qHeads = getQHeads();
  int64_t kvHeads = getKvHeadsOrDefault();
  if (qHeads < 1)
    return emitOpError() << "q_heads (" << qHeads << ") must be positive";
  if (kvHeads < 1)
    return emitOpError() << "kv_heads (" << kvHeads << ") must be positive";
  if (qHeads % kvHeads)
    return emitOpError() << "kv_heads (" << kvHeads << ") must divide q_heads ("
                         << qHeads << ")";
  int64_t dQk = getDQk(), dV = getDvOrDefault();
  if (dQk < 1 || dQk > kMaxHeadDim)
    return emitOpError() << "d_qk (" << dQk << ") must be in [1, "
                         << kMaxHeadDim << "]";
  if (dV < 1 || dV > kMaxHeadDim)
    return emitOpError() << "d_v (" << dV << ") must be in [1, " << kMaxHeadDim
                         << "]";
  if (!isSupportedElementType(getElementType()))
    return emitOpError() << "element_type must be f32, f16 or bf16, got "
                         << getElementType();
  if (!getAccumTypeOrDefault().isF32())
    return emitOpError() << "accum_type must be f32, got "
                         << getAccumTypeOrDefault();
  double scale = getScaleOrDefault();
  if (!std::isfinite(scale) || scale <= 0)
    return emitOpError() << "scale (" << formatNumber(scale)
                         << ") must be finite and positive";
  double softcap = getSoftcapOrDefault();
  if (!std::isfinite(softcap) || softcap < 0)
    return emitOpError() << "softcap (" << formatNumber(softcap)
                         << ") must be finite and >= 0 (0 disables it)";

  MaskKind mask = getMaskOrDefault().getKind();
  if ((mask == MaskKind::Custom) != !getMaskFn().empty())
    return emitOpError() << (mask == MaskKind::Custom
                                 ? "a custom mask requires a 'mask' region"
                                 : "a 'mask' region requires mask = "
                                   "#attn.mask<custom>");
  ScoreModKind scoreMod = getScoreModOrDefault();
  if ((scoreMod == ScoreModKind::Custom) != !getScoreFn().empty())
    return emitOpError() << (scoreMod == ScoreModKind::Custom
                                 ? "a custom score_mod requires a 'score' "
                                   "region"
                                 : "a 'score' region requires score_mod = "
                                   "#attn.score_mod<custom>");

  if (getVariantOrDefault() == Variant::Linear) {
    if (mask != MaskKind::None && mask != MaskKind::Causal)
      return emitOpError() << "linear attention supports mask none or causal, "
                              "not "
                           << stringifyMaskKind(mask);
    if (softcap != 0)
      return emitOpError() << "softcap applies only to softmax attention";
    if (scoreMod != ScoreModKind::None)
      return emitOpError() << "score_mod applies only to softmax attention";
    if (getLseOrDefault() || getProbsOrDefault())
      return emitOpError() << "lse and probs outputs exist only for softmax "
                              "attention";
  }
  return success();
}

/// Checks that `region`, when present, has one block whose arguments have
/// `argTypes` and whose attn.yield returns `resultType`.
static LogicalResult verifyModifierRegion(KernelOp op, Region &region,
                                          StringRef name, StringRef signature,
                                          TypeRange argTypes,
                                          Type resultType) {
  if (region.empty())
    return success();
  Block &block = region.front();
  if (block.getArgumentTypes() != argTypes)
    return op.emitOpError() << "'" << name << "' region must take "
                            << signature;
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield)
    return op.emitOpError() << "'" << name
                            << "' region must end in attn.yield";
  if (yield.getValue().getType() != resultType)
    return op.emitOpError() << "'" << name << "' region must yield "
                            << resultType << ", got "
                            << yield.getValue().getType();
  return success();
}

LogicalResult KernelOp::verifyRegions() {
  Builder b(getContext());
  Type index = b.getIndexType();
  SmallVector<Type> maskArgs(4, index);
  SmallVector<Type> scoreArgs = {b.getF32Type(), index, index, index, index};
  if (failed(verifyModifierRegion(*this, getMaskFn(), "mask",
                                  "(b, h, q, k) as four index arguments",
                                  maskArgs, b.getI1Type())))
    return failure();
  return verifyModifierRegion(*this, getScoreFn(), "score",
                              "(score: f32, b, h, q, k: index)", scoreArgs,
                              b.getF32Type());
}
