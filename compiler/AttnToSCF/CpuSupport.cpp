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
  if (op.getVariantOrDefault() != Variant::Softmax)
    return op.emitOpError("is variant linear: the cpu backend compiles softmax "
                          "attention; run linear attention with LinearKernel "
                          "(runtime/Linear.h)");
  const Layout layout = op.getLayoutOrDefault();
  if (op.getProbsOrDefault() && (layout == Layout::Varlen || layout == Layout::Paged))
    return unsupported("the probs output with layout ", stringifyLayout(layout));
  ScheduleAttr s = op.getScheduleAttr();
  if (!s || !s.isCompleteForCpu())
    return op.emitOpError(
        "has no complete cpu schedule; run attn-select-cpu-schedule first");
  if (s.getDot() == 16) {
    Type bf16 = BFloat16Type::get(op.getContext());
    if (op.getElementType() != bf16 || op.getKvElementTypeOrDefault() != bf16)
      return op.emitOpError()
             << "has schedule dot = 16 (bf16 products), which needs "
                "element_type and kv_element_type bf16, got "
             << op.getElementType() << " and " << op.getKvElementTypeOrDefault();
    if (s.getVectorWidth() != 16)
      return op.emitOpError() << "has schedule dot = 16 (bf16 products), "
                                 "which needs vector_width 16 (AVX-512), got "
                              << s.getVectorWidth();
  }
  if (s.getPrefetch() &&
      !takesDecodeRowsForm(op.getModeOrDefault() == Mode::Decode,
                           s.getBlockM()))
    return op.emitOpError()
           << "has schedule prefetch = " << s.getPrefetch()
           << ", which applies only to decode kernels that take the rows form "
              "(mode decode, block_m <= "
           << kMaxDecodeRowsFormRows << "), got mode "
           << stringifyMode(op.getModeOrDefault()) << ", block_m "
           << s.getBlockM();
  if (BlockSparseAttr sparse = op.getBlockSparseAttr()) {
    // A tile of block_m query rows (one head per tile) and block_n keys must
    // lie inside one sparse block.
    if (sparse.getBlockQ() % s.getBlockM())
      return op.emitOpError() << "block_q (" << sparse.getBlockQ()
                              << ") must be a multiple of block_m ("
                              << s.getBlockM() << ") for the cpu backend";
    if (sparse.getBlockKv() % s.getBlockN())
      return op.emitOpError() << "block_kv (" << sparse.getBlockKv()
                              << ") must be a multiple of block_n ("
                              << s.getBlockN() << ") for the cpu backend";
  }
  return success();
}
