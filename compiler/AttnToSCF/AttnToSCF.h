#ifndef ATTNC_COMPILER_ATTNTOSCF_ATTNTOSCF_H
#define ATTNC_COMPILER_ATTNTOSCF_ATTNTOSCF_H

#include "compiler/AttnToSCF/WorkSplit.h"
#include "dialect/AttnOps.h"

namespace mlir::attn {

/// Emits a diagnostic on `op` and fails when the CPU backend cannot compile
/// the (resolved) kernel, naming the unsupported feature.
LogicalResult checkCpuSupport(KernelOp op);

/// The most stack a CPU kernel's tiles may take: they live on the stack of
/// the thread that runs a work item (the caller's or a pool thread, 8 MiB by
/// default on Linux). A schedule that needs more is rejected by name.
constexpr int64_t kMaxCpuStackTileBytes = int64_t(2) << 20;

/// Replaces `op` (resolved, CPU-scheduled, supported) by a func.func of the
/// same name holding the fused loop nest; fails, naming the schedule, when
/// its tiles would need more than kMaxCpuStackTileBytes of stack. See convert-attn-to-scf's docs for
/// the function's signature.
LogicalResult lowerKernelToLoops(KernelOp op);

} // namespace mlir::attn

#endif
