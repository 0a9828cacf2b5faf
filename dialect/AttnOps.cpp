// The attn.kernel op's defaults and verifier: the rulebook every backend may
// rely on. One rule per check, each with its own message naming the values.
#include "dialect/AttnOps.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringSet.h"

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

InputAttr KernelOp::lookupInput(StringRef name) {
  if (ArrayAttr inputs = getInputsAttr())
    for (Attribute a : inputs)
      if (auto input = llvm::cast<InputAttr>(a); input.getName() == name)
        return input;
  return {};
}

ArrayRef<StringRef> mlir::attn::modRegionOps() {
  static const StringRef ops[] = {
      // arith: integers (i1, i32, i64, index)
      "arith.constant", "arith.addi", "arith.subi", "arith.muli",
      "arith.divsi", "arith.divui", "arith.remsi", "arith.remui",
      "arith.ceildivsi", "arith.floordivsi", "arith.maxsi", "arith.minsi",
      "arith.maxui", "arith.minui", "arith.andi", "arith.ori", "arith.xori",
      "arith.shli", "arith.shrsi", "arith.shrui", "arith.cmpi",
      "arith.select", "arith.extsi", "arith.extui", "arith.trunci",
      "arith.index_cast", "arith.index_castui",
      // arith: f32 and conversions
      "arith.sitofp", "arith.uitofp", "arith.fptosi", "arith.fptoui",
      "arith.addf", "arith.subf", "arith.mulf", "arith.divf", "arith.remf",
      "arith.negf", "arith.maximumf", "arith.minimumf", "arith.maxnumf",
      "arith.minnumf", "arith.cmpf",
      // math on f32 (absi on integers)
      "math.absf", "math.absi", "math.ceil", "math.floor", "math.copysign",
      "math.exp", "math.exp2", "math.log", "math.log2", "math.log1p",
      "math.tanh", "math.sqrt", "math.rsqrt", "math.powf", "math.fma",
      "math.sin", "math.cos", "math.erf", "math.roundeven", "math.trunc",
      // attn
      "attn.load", "attn.seq_len", "attn.yield"};
  return ops;
}

bool mlir::attn::isModRegionType(Type t) {
  return t.isF32() || t.isIndex() || t.isSignlessInteger(1) ||
         t.isSignlessInteger(32) || t.isSignlessInteger(64);
}

/// Names that the kernel's own arguments use (see compiler/KernelAbi.h).
static bool isReservedInputName(StringRef name) {
  return llvm::is_contained(
      {"q", "k", "v", "o", "lse", "kv_num_blocks", "kv_indices",
       "full_kv_num_blocks", "full_kv_indices"},
      name);
}

LogicalResult KernelOp::verify() {
  // Every attribute the op does not define is a misspelling or a feature
  // attnc lacks: an error, never silently ignored.
  for (NamedAttribute attr : (*this)->getDiscardableAttrs()) {
    StringRef name = attr.getName().getValue(), closest;
    unsigned best = ~0u;
    for (StringRef known : getAttributeNames()) {
      unsigned d = name.edit_distance(known, /*AllowReplacements=*/true,
                                      /*MaxEditDistance=*/3);
      if (known != "sym_name" && d < best)
        best = d, closest = known;
    }
    auto diag = emitOpError() << "has no attribute '" << name << "'";
    if (best <= 3)
      diag << "; did you mean '" << closest << "'?";
    else
      diag << " (docs/dialect.md lists the attributes of attn.kernel)";
    return diag;
  }
  if (!isIdentifier(getSymName(), kMaxNameLength))
    return emitOpError() << "kernel name '" << getSymName()
                         << "' must be an identifier ([A-Za-z_][A-Za-z0-9_]*, "
                            "at most "
                         << kMaxNameLength << " characters)";
  int64_t qHeads = getQHeads();
  int64_t kvHeads = getKvHeadsOrDefault();
  if (qHeads < 1)
    return emitOpError() << "q_heads (" << qHeads << ") must be positive";
  if (kvHeads < 1)
    return emitOpError() << "kv_heads (" << kvHeads << ") must be positive";
  if (qHeads > kMaxHeads)
    return emitOpError() << "q_heads (" << qHeads << ") must be at most "
                         << kMaxHeads;
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
  if (!isSupportedElementType(getKvElementTypeOrDefault()))
    return emitOpError() << "kv_element_type must be f32, f16 or bf16, got "
                         << getKvElementTypeOrDefault();
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

  llvm::StringSet<> names;
  if (getInputsAttr() && getInputsAttr().size() > kMaxInputs)
    return emitOpError() << "declares " << getInputsAttr().size()
                         << " inputs; at most " << kMaxInputs
                         << " are supported";
  if (ArrayAttr inputs = getInputsAttr())
    for (Attribute a : inputs) {
      StringRef name = llvm::cast<InputAttr>(a).getName();
      if (isReservedInputName(name))
        return emitOpError() << "input name '" << name
                             << "' is reserved for one of the kernel's own "
                                "arguments";
      if (!names.insert(name).second)
        return emitOpError() << "input '" << name << "' is declared twice";
    }

  if ((getFeatureMapOrDefault() == FeatureMap::Custom) !=
      !getFeatureFn().empty())
    return emitOpError() << (getFeatureFn().empty()
                                 ? "a custom feature_map requires a 'feature' "
                                   "region"
                                 : "a 'feature' region requires feature_map = "
                                   "#attn.feature_map<custom>");
  if (getVariantOrDefault() != Variant::Linear &&
      (getFeatureMap() || getNormalize() || getEps()))
    return emitOpError() << "feature_map, normalize and eps apply only to "
                            "linear attention";
  if (getEps() && !(std::isfinite(getEpsOrDefault()) && getEpsOrDefault() > 0))
    return emitOpError() << "eps must be finite and > 0, got "
                         << formatNumber(getEpsOrDefault());
  // The kernels floor an f32 denominator with it: it must stay a normal f32.
  if (getEps() && (getEpsOrDefault() < 1.1754943508222875e-38 ||
                   getEpsOrDefault() > 3.4028234663852886e+38))
    return emitOpError() << "eps (" << formatNumber(getEpsOrDefault())
                         << ") must be a normal f32, in [1.17549e-38, 3.40282e+38]";
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
    if (getBlockSparse())
      return emitOpError() << "block_sparse applies only to softmax attention";
  }
  return success();
}

/// Every op of a mask or score region is pure, allowed, and on allowed
/// types; one message per rule.
static LogicalResult verifyRegionBody(KernelOp op, Region &region,
                                      StringRef name) {
  for (Operation &inner : region.front()) {
    if (!isMemoryEffectFree(&inner))
      return inner.emitOpError()
             << "has side effects; '" << name
             << "' regions must be pure (arith, math, attn.load, "
                "attn.seq_len)";
    if (!llvm::is_contained(modRegionOps(), inner.getName().getStringRef()))
      return inner.emitOpError()
             << "is not allowed in a '" << name
             << "' region: it may hold pure arith and math ops, attn.load "
                "and attn.seq_len (docs/dialect.md lists them)";
    for (TypeRange types : {TypeRange(inner.getOperandTypes()),
                            TypeRange(inner.getResultTypes())})
      for (Type t : types)
        if (!isModRegionType(t))
          return inner.emitOpError()
                 << "uses type " << t << "; '" << name
                 << "' regions compute on i1, i32, i64, index and f32";
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
  if (failed(verifyModifierRegion(*this, getScoreFn(), "score",
                                  "(score: f32, b, h, q, k: index)", scoreArgs,
                                  b.getF32Type())))
    return failure();
  if (failed(verifyModifierRegion(*this, getFeatureFn(), "feature",
                                  "(x: f32)", {b.getF32Type()},
                                  b.getF32Type())))
    return failure();
  for (auto [region, name] : {std::pair{&getMaskFn(), "mask"},
                              std::pair{&getScoreFn(), "score"},
                              std::pair{&getFeatureFn(), "feature"}})
    if (!region->empty() && failed(verifyRegionBody(*this, *region, name)))
      return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// LoadOp
//===----------------------------------------------------------------------===//

/// The inputs visible to `op`: its kernel's, or those a definition function
/// carries (`attn.inputs`, see dialect/Mods.h).
static ArrayAttr visibleInputs(Operation *op) {
  if (auto kernel = op->getParentOfType<KernelOp>())
    return kernel.getInputsAttr();
  for (Operation *p = op->getParentOp(); p; p = p->getParentOp())
    if (auto inputs = p->getAttrOfType<ArrayAttr>("attn.inputs"))
      return inputs;
  return {};
}

LogicalResult LoadOp::verify() {
  StringRef name = getInput();
  InputAttr input;
  if (ArrayAttr inputs = visibleInputs(*this))
    for (Attribute a : inputs)
      if (llvm::cast<InputAttr>(a).getName() == name)
        input = llvm::cast<InputAttr>(a);
  if (!input)
    return emitOpError() << "reads '" << name
                         << "', which the kernel does not declare in 'inputs'";
  if (getIndices().size() != input.getDims().size())
    return emitOpError() << "of '" << name << "' has " << getIndices().size()
                         << (getIndices().size() == 1 ? " index" : " indices")
                         << ", but the input has rank "
                         << input.getDims().size();
  if (getResult().getType() != input.getElementType())
    return emitOpError() << "of '" << name << "' must return "
                         << input.getElementType() << ", the input's element "
                         << "type, not " << getResult().getType();
  return success();
}
