#ifndef ATTNC_RUNTIME_LINEAR_H
#define ATTNC_RUNTIME_LINEAR_H

// Linear attention (variant = linear; docs/linear.md): with the kernel's
// feature map phi (feature_map: elu1, relu or identity) and scale,
//
//   s_ij = scale * phi(q_i) . phi(k_j)       for the keys j row i sees
//   o_i  = sum_j s_ij v_j / max(sum_j s_ij, eps)   (normalize = true)
//   o_i  = sum_j s_ij v_j                          (normalize = false)
//
// computed without any n x n matrix through the state S = sum_j phi(k_j)^T
// v_j [d_qk, d_v] and z = sum_j phi(k_j) [d_qk]: o_i = scale phi(q_i) S /
// max(scale phi(q_i) z, eps). Without a mask every row sees every key (S
// once per kv head). With a causal mask row i sees keys j <= i + off (off
// = seq_kv - seq_q for bottom_right, 0 for top_left), and the chunked
// algorithm runs: key chunks of block_n (the schedule's; 64 by default)
// are quadratic inside, and the state carries across them. A caller-owned
// state (causal only) holds the keys before this call's: they are seen by
// every row, and the call adds its keys to it in place, so a call of one
// token is the recurrent decode step. GQA: the q heads of a group share
// their kv head's state. Everything is f32, accumulated in f32. A custom
// feature map (the kernel's 'feature' region) is evaluated in f32 from
// its compiled program (runtime/ModProgram.h).

#include "runtime/KernelIr.h"
#include "runtime/Status.h"
#include "runtime/Tensor.h"

#include <cmath>

namespace attnc {

/// phi(x) for built-in feature map `f`: elu(x) + 1, max(x, 0) or x
/// (Infini-attention's sigma is elu1 too). Custom maps are programs
/// (KernelSpec::mods->feature), which LinearKernel evaluates.
inline float applyFeatureMap(FeatureMap f, float x) {
  switch (f) {
  case FeatureMap::Elu1:
    return x > 0 ? x + 1.f : std::exp(x);
  case FeatureMap::Relu:
    return x > 0 ? x : 0.f;
  case FeatureMap::Identity:
  case FeatureMap::Custom:
    break;
  }
  return x;
}

/// The recurrent state of causal linear attention, f32: S [batch,
/// kv_heads, d_qk, d_v] and z [batch, kv_heads, 1, d_qk], last stride 1.
/// Zero for a fresh sequence.
struct LinearState {
  TensorView s, z;
};

class LinearKernel {
public:
  /// A kernel for `ir`, which must be variant = linear, f32, a dense layout
  /// (bshd or bhsd) and declare no inputs; errors name the rule.
  static StatusOr<LinearKernel> create(const KernelIr &ir);

  const KernelSpec &spec() const { return spec_; }
  /// The chunk size of the causal form (the schedule's block_n, else 64).
  int64_t chunk() const { return chunk_; }

  /// Runs a call (q, k, v, o as a softmax kernel takes them) on up to
  /// `threads` threads (0: every core), with `state` (causal kernels only;
  /// null: none). Every view is checked before anything is written.
  Status run(const AttentionArgs &args, const LinearState *state = nullptr,
             unsigned threads = 0) const;
  /// The checks of a call without a state (run makes them first): the
  /// views against the spec, and o overlapping nothing it is computed from.
  Status check(const AttentionArgs &args) const;
  /// The checks of a call's state (run makes them after check's): a causal
  /// kernel, S and z of the call's shape, overlapping nothing.
  Status checkState(const AttentionArgs &args, const LinearState &state) const;

private:
  KernelSpec spec_;
  int64_t chunk_ = 64;
};

} // namespace attnc

#endif
