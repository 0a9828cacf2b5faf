#ifndef ATTNC_COMPILER_ATTNTOSCF_ATTNTOSCF_H
#define ATTNC_COMPILER_ATTNTOSCF_ATTNTOSCF_H

#include "dialect/AttnOps.h"

namespace mlir::attn {

/// How the fused CPU kernel splits its work. One work item is one tile of
/// block_m rows: `headsPerItem` query heads that share a kv head (so K/V
/// tiles are packed once for all of them), times `positionsPerItem` query
/// positions. Row r of the tile is head (first + r % headsPerItem) at
/// position (first + r / headsPerItem).
struct WorkSplit {
  int64_t headsPerItem;
  int64_t positionsPerItem;

  static WorkSplit of(int64_t qHeads, int64_t kvHeads, int64_t blockM);
  /// Work items for one call: batch x head groups x position blocks.
  int64_t items(int64_t qHeads, int64_t batch, int64_t seqQ) const {
    return batch * (qHeads / headsPerItem) *
           ((seqQ + positionsPerItem - 1) / positionsPerItem);
  }
};

/// Emits a diagnostic on `op` and fails when the CPU backend cannot compile
/// the (resolved) kernel, naming the unsupported feature.
LogicalResult checkCpuSupport(KernelOp op);

/// Replaces `op` (resolved, CPU-scheduled, supported) by a func.func of the
/// same name holding the fused loop nest. See convert-attn-to-scf's docs for
/// the function's signature.
LogicalResult lowerKernelToLoops(KernelOp op);

} // namespace mlir::attn

#endif
