// What the CPU backend can compile today. Each unsupported feature is named,
// so that a user never gets a wrong answer or a crash instead.
#include "compiler/AttnToSCF/AttnToSCF.h"

using namespace mlir;
using namespace mlir::attn;

LogicalResult mlir::attn::checkCpuSupport(KernelOp op) {
  auto unsupported = [&](auto... what) {
    InFlightDiagnostic d = op.emitOpError("the cpu backend does not support ");
    (d << ... << what);
    d << " yet";
    return failure();
  };
  if (!op.getElementType().isF32())
    return unsupported("element_type ", op.getElementType());
  if (op.getBlockSparse())
    return unsupported("block_sparse masks");
  Layout layout = op.getLayoutOrDefault();
  if (layout != Layout::BSHD && layout != Layout::BHSD)
    return unsupported("layout ", stringifyLayout(layout));
  if (op.getVariantOrDefault() != Variant::Softmax)
    return unsupported("variant ", stringifyVariant(op.getVariantOrDefault()));
  if (op.getProbsOrDefault())
    return unsupported("the probs output");
  ScheduleAttr s = op.getScheduleAttr();
  if (!s || !s.isCompleteForCpu())
    return op.emitOpError(
        "has no complete cpu schedule; run attn-select-cpu-schedule first");
  return success();
}
