#ifndef ATTNC_RUNTIME_BLOCKMASK_H
#define ATTNC_RUNTIME_BLOCKMASK_H

// Block masks for block-sparse kernels (#attn.block_sparse), built from the
// kernel's own mask: each block_q x block_kv block of (query, key) pairs is
// absent (every pair masked: never visited), full (every pair visible: the
// mask is skipped) or partial. Built block by block, never as a dense
// seq_q x seq_kv grid: built-in masks classify a block from their key
// range in O(1); custom masks are evaluated pair by pair inside each block,
// stopping as soon as a block is known to be partial.

#include "runtime/Tensor.h"

#include <vector>

namespace attnc {

/// A block mask and its storage (FlexAttention's BlockMask form).
struct BlockMask {
  int64_t batch = 1, heads = 1, qBlocks = 0, kvBlocks = 0;
  int64_t blockQ = 0, blockKv = 0;
  std::vector<int32_t> numBlocks, indices, fullNumBlocks, fullIndices;
  /// Views of the storage for AttentionArgs::blockMask.
  BlockMaskArgs args() const;
  /// The fraction of blocks visited (partial or full).
  double density() const;
};

/// The block mask of `spec`'s mask (a block-sparse kernel's view, e.g.
/// CpuKernel::spec()) for the shape of `args` (q and k sizes) and its
/// declared inputs. b and h broadcast (size 1) when the mask reads neither.
StatusOr<BlockMask> buildBlockMask(const KernelSpec &spec,
                                   const AttentionArgs &args);

} // namespace attnc

#endif
