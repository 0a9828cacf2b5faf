#ifndef ATTNC_RUNTIME_INFINI_H
#define ATTNC_RUNTIME_INFINI_H

// Infini-attention (Munkhdalai et al. 2024, "Leave No Context Behind",
// arXiv 2404.07143): one call per segment combines local causal softmax
// attention over the segment (a compiled attnc kernel) with retrieval from
// a compressive memory that summarises every earlier segment, then updates
// the memory with this segment. The conventions, which published
// implementations disagree on, are pinned here and in docs/infini.md:
//
//   sigma(x) = elu(x) + 1 (elementwise; > 0)
//   A_mem = sigma(Q) M / max(sigma(Q) z, eps)   (the memory BEFORE this
//           segment's update: retrieval sees earlier segments only)
//   A     = sigmoid(beta_h) A_mem + (1 - sigmoid(beta_h)) A_dot  (the
//           paper's orientation: beta gates the memory)
//   linear update: M += sigma(K)^T V
//   delta update:  M += sigma(K)^T (V - sigma(K) M / max(sigma(K) z, eps))
//                  (M, z before the update on the right)
//   z += sum_t sigma(K_t)
//
// M and z are caller-owned, one per (batch, kv head), read and updated in
// place; a fresh sequence starts from M = 0, z = 0, where A_mem = 0. GQA:
// the queries of a kv head's group retrieve from that kv head's memory,
// which that head's keys and values update. Everything is f32.

#include "runtime/Backend.h"
#include "runtime/Status.h"
#include "runtime/Tensor.h"

#include <vector>

namespace attnc {

enum class InfiniUpdate { Linear, Delta };

struct InfiniArgs {
  /// The segment: q [batch, q_heads, n, d_qk], k [batch, kv_heads, n,
  /// d_qk], v [batch, kv_heads, n, d_v], o [batch, q_heads, n, d_v], f32
  /// views as the kernel takes them (seq_q = seq_kv = n).
  TensorView q, k, v, o;
  /// The compressive memory, f32: M [batch, kv_heads, d_qk, d_v] and z
  /// [batch, kv_heads, 1, d_qk], any strides with the last one 1.
  TensorView memory, z;
  /// The gate's logits, one per query head.
  std::vector<float> beta;
};

struct InfiniOptions {
  InfiniUpdate update = InfiniUpdate::Linear;
  float eps = 1e-6f;    // the denominators' floor (> 0)
  unsigned threads = 0; // the local kernel's threads (0: its schedule's)
};

/// Runs one segment: `local` must be a CPU (CpuKernel), f32 softmax kernel with a causal
/// mask (either alignment: n queries over the same n keys), dense layout,
/// no declared inputs, block mask or probs. Every view is checked before
/// anything is written; o then holds A and (memory, z) the updated state.
Status infiniAttention(const CompiledKernel &local, const InfiniArgs &args,
                       const InfiniOptions &options = {});

} // namespace attnc

#endif
