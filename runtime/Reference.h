#ifndef ATTNC_RUNTIME_REFERENCE_H
#define ATTNC_RUNTIME_REFERENCE_H

// Naive attention, materialising every score, in double or in float: the
// yardstick for every kernel attnc generates (shared/design.md, "Measuring").

#include "runtime/ModProgram.h"
#include "runtime/Spec.h"
#include "runtime/Tensor.h"

#include <random>
#include <vector>

namespace attnc {

/// `n` inputs drawn uniformly from [-1, 1) with `rng` (any std engine).
template <typename Rng> std::vector<float> uniformInputs(size_t n, Rng &rng) {
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> x(n);
  for (float &e : x)
    e = dist(rng);
  return x;
}

/// A kernel's mask and score modifier as the reference sees them: its
/// programs (the same definitions the backends compile) evaluated on the
/// call's sequence lengths and declared inputs.
class ModEvaluator {
public:
  /// `args` gives the lengths (q, k) and the inputs, bound by name; it is a
  /// dense call. The regions see b + `batchBase` as b (one sequence of a
  /// varlen or paged call, run as a batch of 1; the block mask is that
  /// sequence's already).
  ModEvaluator(const KernelSpec &spec, const AttentionArgs &args,
               int64_t batchBase = 0);
  bool hasMask() const { return mods_->mask.has_value() || blockQ_ > 0; }
  bool hasScore() const { return mods_->score.has_value(); }
  /// Whether query `q` of (b, h) sees key `k`.
  bool visible(int64_t b, int64_t h, int64_t q, int64_t k);
  /// The score after the modifiers (softcap, ALiBi, custom), computed in T.
  template <typename T> T score(T s, int64_t b, int64_t h, int64_t q, int64_t k);
  /// The key range of rows [qFirst, qLast]: {lo, hi, fullLo, fullHi}; false
  /// for custom masks and block-sparse kernels (no range known).
  bool range(int64_t qFirst, int64_t qLast, int64_t out[4]);

private:
  /// Block-sparse: 0 absent, 1 partial, 2 full, for kv block `kb` of
  /// (b, h, query block `qb`).
  int blockState(int64_t b, int64_t h, int64_t qb, int64_t kb);

  std::shared_ptr<const ModPrograms> mods_;
  int64_t batchBase_ = 0;
  ModEnv env_;
  std::vector<ModValue> registers_;
  // Block-sparse kernels: the block mask and the states of one row.
  int64_t blockQ_ = 0, blockKv_ = 0;
  const BlockMaskArgs *blocks_ = nullptr;
  std::vector<char> rowStates_;
  int64_t rowKey_[3] = {-1, -1, -1};
};

/// Number of unmasked (query, key) pairs of one call, over every batch and
/// query head.
int64_t visiblePairs(const KernelSpec &spec, const AttentionArgs &args);

/// FLOPs of one forward pass: 2 * (unmasked pairs) * (d_qk + d_v).
double attentionFlops(const KernelSpec &spec, const AttentionArgs &args);

/// Output of the naive computation, dense [batch, q_heads, seq_q, d_v] and
/// [batch, q_heads, seq_q] in q's coordinates (for varlen calls batch 1 and
/// seq total_q).
template <typename T> struct ReferenceResult {
  std::vector<T> out;
  std::vector<T> lse;
  std::vector<T> probs; // probs kernels: [batch, q_heads, seq_q, seq_kv]
  T &at(const TensorView &q, int64_t dV, int64_t b, int64_t h, int64_t s,
        int64_t d) {
    return out[((b * q.heads() + h) * q.seq() + s) * dV + d];
  }
};

/// Naive attention over the inputs of `args` (q, k, v), computed in T.
/// A fully masked row gives out 0 and lse -inf. Varlen and paged calls
/// (checked before) are computed a sequence at a time.
template <typename T>
ReferenceResult<T> referenceAttention(const KernelSpec &spec,
                                      const AttentionArgs &args);

/// The comparison of a kernel's output with the float64 reference, under
/// FlashAttention's rule: max|out - ref| <= 2 * max|naive - ref| + 1e-5,
/// where "naive" is attention computed the plain way in the kernel's
/// precision. f32 kernels: naive f32, O and LSE together. f16/bf16 kernels:
/// O against naive attention in that type (scores, probabilities and output
/// each rounded to it, as a framework computes it), and LSE, which such
/// kernels keep in f32, separately against naive f32.
struct Comparison {
  double maxError = 0;      // kernel vs float64 reference (O, and LSE for f32)
  double naiveError = 0;    // naive vs float64 reference
  double tolerance = 0;     // 2 * naiveError + 1e-5
  double lseError = 0;      // f16/bf16 kernels only: LSE vs float64
  double lseTolerance = 0;  // 2 * naive f32 LSE error + 1e-5
  double probsError = 0;    // probs kernels: P vs float64
  double probsTolerance = 0; // 2 * naive f32 P error + 1e-5
  bool nonFinite = false;   // a NaN or inf where the reference is finite
  bool nanMissing = false;  // a number where the reference is NaN
  bool lseMismatch = false; // a -inf LSE where the reference has none, or back
  bool invalidCall = false; // varlen/paged: the call fails its checks
  bool passed() const {
    return !invalidCall && !nonFinite && !nanMissing && !lseMismatch &&
           maxError <= tolerance &&
           lseError <= lseTolerance && probsError <= probsTolerance;
  }
};

/// Compares `args.o` (and `args.lse` when the spec has lse) with the
/// reference computed on the same inputs. Varlen and paged calls are
/// compared a sequence at a time, each under the rule; the result is the
/// worst sequence's. For f16/bf16 kernels the inputs
/// must already hold values of that type (see roundToHalf).
Comparison compareWithReference(const KernelSpec &spec,
                                 const AttentionArgs &args);

} // namespace attnc

#endif
