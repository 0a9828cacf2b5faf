#ifndef ATTNC_COMPILER_ATTNTOSCF_WORKSPLIT_H
#define ATTNC_COMPILER_ATTNTOSCF_WORKSPLIT_H

// Shared by the CPU loop-nest emitter and the runtime that launches it;
// deliberately free of MLIR headers.

#include <cstdint>
#include <numeric>

namespace mlir::attn {

/// How the fused CPU kernel splits its work. One work item is one tile of
/// block_m rows: `headsPerItem` query heads that share a kv head (so K/V
/// tiles are packed once for all of them), times `positionsPerItem` query
/// positions. Row r of the tile is head (first + r % headsPerItem) at
/// position (first + r / headsPerItem).
struct WorkSplit {
  int64_t headsPerItem;
  int64_t positionsPerItem;

  /// `oneHeadPerItem`: block-sparse kernels, whose block mask may differ
  /// per head, keep one head per tile.
  static WorkSplit of(int64_t qHeads, int64_t kvHeads, int64_t blockM,
                      bool oneHeadPerItem = false) {
    int64_t heads = oneHeadPerItem ? 1 : std::gcd(qHeads / kvHeads, blockM);
    return {heads, blockM / heads};
  }
  /// Work items for one call: batch x head groups x position blocks.
  int64_t items(int64_t qHeads, int64_t batch, int64_t seqQ) const {
    return batch * (qHeads / headsPerItem) *
           ((seqQ + positionsPerItem - 1) / positionsPerItem);
  }
};

/// Decode tiles of at most this many rows (a GQA group of up to 8 query
/// heads) take the rows form: scores straight from K's rows and P V from
/// V's rows, with no K^T or V copy (AttnToSCF.cpp, computeScoresRows); with
/// bf16 products (schedule dot = 16) the scores multiply the bf16 pairs of
/// Q and of K's rows in place, and P V stays f32. Larger tiles (MQA) are
/// compute-bound and keep K^T tiles, whose products need no sums across
/// lanes.
inline constexpr int64_t kMaxDecodeRowsFormRows = 8;
/// Whether a kernel's tiles take the rows form: decode, at most
/// kMaxDecodeRowsFormRows rows a tile.
inline bool takesDecodeRowsForm(bool decode, int64_t blockM) {
  return decode && blockM <= kMaxDecodeRowsFormRows;
}

} // namespace mlir::attn

#endif
