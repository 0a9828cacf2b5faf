#ifndef ATTNC_RUNTIME_MERGE_H
#define ATTNC_RUNTIME_MERGE_H

// Merging partial attention: the results (O_i, LSE_i) of one query over
// disjoint key ranges, combined into the exact result over their union.
// Split-KV decode, Memorizing Transformers' joint softmax, ring and other
// distributed attention all reduce to it (docs/merge.md).
//
// Per row, with m = max_i LSE_i over the parts:
//   O = sum_i exp(LSE_i - m) O_i / sum_i exp(LSE_i - m)
//   LSE = m + log(sum_i exp(LSE_i - m))
// accumulated in f32. Pinned conventions:
//  - a part whose weight exp(LSE_i - m) is 0 in f32 (LSE_i = -inf: no
//    visible key; or more than about 103 below m) contributes nothing and
//    its O_i is not read (it may hold anything);
//  - every part -inf (no key in any range): O = 0, LSE = -inf, no NaN;
//  - LSE_i NaN or +inf (not a finite log-sum-exp): the row's O and LSE are
//    NaN; a NaN in a contributing O_i reaches O, as in attention itself.

#include "runtime/Status.h"
#include "runtime/Tensor.h"

#include <vector>

namespace attnc {

struct MergeArgs {
  /// The parts: O_i [batch, heads, seq, d] (f32, f16 or bf16, head-dim
  /// stride 1, any other strides) and LSE_i [batch, heads, seq] (f32, as
  /// lseView makes), all of o's shape.
  std::vector<TensorView> outputs, lses;
  /// The merged result: o (f32, f16 or bf16) and, when lse.data is set,
  /// its LSE (f32). Each may be one of the parts of its kind exactly (the
  /// same data, type, sizes and strides: merging in place); otherwise no
  /// output may overlap any part or the other output.
  TensorView o, lse;
};

/// Checks `args` (every rejection names the tensor and the rule).
Status validateMerge(const MergeArgs &args);

/// Checks and merges on up to `threads` threads of the shared pool (0:
/// every core).
Status mergeAttention(const MergeArgs &args, unsigned threads = 0);

} // namespace attnc

#endif
