#ifndef ATTNC_COMPILER_ATTNTOSCF_ATTNTOSCF_H
#define ATTNC_COMPILER_ATTNTOSCF_ATTNTOSCF_H

#include "compiler/AttnToSCF/WorkSplit.h"
#include "dialect/AttnOps.h"

namespace mlir::attn {

/// Emits a diagnostic on `op` and fails when the CPU backend cannot compile
/// the (resolved) kernel, naming the unsupported feature.
LogicalResult checkCpuSupport(KernelOp op);

/// Replaces `op` (resolved, CPU-scheduled, supported) by a func.func of the
/// same name holding the fused loop nest. See convert-attn-to-scf's docs for
/// the function's signature.
LogicalResult lowerKernelToLoops(KernelOp op);

} // namespace mlir::attn

#endif
