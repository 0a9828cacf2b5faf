#include "dialect/AttnOps.h"
#include "dialect/Transforms/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNRESOLVEDEFAULTS
#include "dialect/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {
struct ResolveDefaults
    : attn::impl::AttnResolveDefaultsBase<ResolveDefaults> {
  void runOnOperation() override {
    getOperation()->walk([](KernelOp op) {
      Builder b(op.getContext());
      MLIRContext *ctx = op.getContext();
      // The *OrDefault accessors are the single source of the defaults.
      op.setKvHeads(op.getKvHeadsOrDefault());
      op.setDV(op.getDvOrDefault());
      op.setKvElementType(op.getKvElementTypeOrDefault());
      op.setAccumType(op.getAccumTypeOrDefault());
      op.setScaleAttr(b.getF64FloatAttr(op.getScaleOrDefault()));
      op.setSoftcapAttr(b.getF64FloatAttr(op.getSoftcapOrDefault()));
      op.setMaskAttr(op.getMaskOrDefault());
      op.setScoreModAttr(ScoreModKindAttr::get(ctx, op.getScoreModOrDefault()));
      op.setLayoutAttr(LayoutAttr::get(ctx, op.getLayoutOrDefault()));
      op.setModeAttr(ModeAttr::get(ctx, op.getModeOrDefault()));
      op.setVariantAttr(VariantAttr::get(ctx, op.getVariantOrDefault()));
      op.setLseAttr(b.getBoolAttr(op.getLseOrDefault()));
      op.setProbsAttr(b.getBoolAttr(op.getProbsOrDefault()));
      if (op.getVariantOrDefault() == Variant::Linear) {
        op.setFeatureMapAttr(FeatureMapAttr::get(ctx, op.getFeatureMapOrDefault()));
        op.setNormalizeAttr(b.getBoolAttr(op.getNormalizeOrDefault()));
        op.setEpsAttr(b.getF64FloatAttr(op.getEpsOrDefault()));
      }
    });
  }
};
} // namespace
