#include "runtime/Reference.h"

#include "runtime/Half.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace attnc {

template <typename T>
ReferenceResult<T> referenceAttention(const KernelSpec &s,
                                      const AttentionArgs &a) {
  const int64_t batch = a.q.batch(), seqQ = a.q.seq(), seqKv = a.k.seq();
  const int64_t group = s.qHeads / s.kvHeads;
  ReferenceResult<T> r;
  r.out.assign(batch * s.qHeads * seqQ * s.dV, T(0));
  r.lse.assign(batch * s.qHeads * seqQ, -std::numeric_limits<T>::infinity());
  std::vector<T> score(seqKv);
  std::vector<char> visible(seqKv);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < s.qHeads; ++h) {
      int64_t kvh = h / group;
      for (int64_t i = 0; i < seqQ; ++i) {
        T maxScore = -std::numeric_limits<T>::infinity();
        for (int64_t j = 0; j < seqKv; ++j) {
          visible[j] = isVisible(s, i, j, seqQ, seqKv);
          if (!visible[j])
            continue;
          T dot = 0;
          for (int64_t d = 0; d < s.dQk; ++d)
            dot += T(a.q.at(b, h, i, d)) * T(a.k.at(b, kvh, j, d));
          T x = dot * T(s.scale);
          if (s.softcap > 0)
            x = T(s.softcap) * std::tanh(x / T(s.softcap));
          score[j] = x;
          maxScore = std::max(maxScore, x);
        }
        if (maxScore == -std::numeric_limits<T>::infinity())
          continue; // fully masked: out 0, lse -inf
        T sum = 0;
        for (int64_t j = 0; j < seqKv; ++j)
          if (visible[j])
            sum += (score[j] = std::exp(score[j] - maxScore));
        for (int64_t j = 0; j < seqKv; ++j) {
          if (!visible[j])
            continue;
          T p = score[j] / sum;
          for (int64_t d = 0; d < s.dV; ++d)
            r.at(a.q, s.dV, b, h, i, d) += p * T(a.v.at(b, kvh, j, d));
        }
        r.lse[(b * s.qHeads + h) * seqQ + i] = maxScore + std::log(sum);
      }
    }
  return r;
}

template ReferenceResult<double> referenceAttention(const KernelSpec &,
                                                    const AttentionArgs &);
template ReferenceResult<float> referenceAttention(const KernelSpec &,
                                                   const AttentionArgs &);

namespace {

/// Naive attention as a framework computes it in f16/bf16: the scores, the
/// probabilities and the output are each rounded to the element type (with
/// f32 accumulation inside each product), dense [batch, q_heads, seq_q, d_v].
std::vector<float> naiveHalf(const KernelSpec &s, const AttentionArgs &a,
                             HalfKind kind) {
  const int64_t batch = a.q.batch(), seqQ = a.q.seq(), seqKv = a.k.seq();
  const int64_t group = s.qHeads / s.kvHeads;
  auto round = [kind](float x) { return roundToHalf(x, kind); };
  std::vector<float> out(batch * s.qHeads * seqQ * s.dV, 0.f), p(seqKv);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < s.qHeads; ++h)
      for (int64_t i = 0; i < seqQ; ++i) {
        int64_t kvh = h / group;
        float maxScore = -INFINITY;
        for (int64_t j = 0; j < seqKv; ++j) {
          p[j] = -INFINITY;
          if (!isVisible(s, i, j, seqQ, seqKv))
            continue;
          float dot = 0;
          for (int64_t d = 0; d < s.dQk; ++d)
            dot += a.q.at(b, h, i, d) * a.k.at(b, kvh, j, d);
          float x = dot * float(s.scale);
          if (s.softcap > 0)
            x = float(s.softcap) * std::tanh(x / float(s.softcap));
          p[j] = round(x);
          maxScore = std::max(maxScore, p[j]);
        }
        if (maxScore == -INFINITY)
          continue; // fully masked: out 0
        float sum = 0;
        for (int64_t j = 0; j < seqKv; ++j)
          sum += (p[j] = p[j] == -INFINITY ? 0.f : std::exp(p[j] - maxScore));
        for (int64_t j = 0; j < seqKv; ++j)
          p[j] = round(p[j] / sum);
        for (int64_t d = 0; d < s.dV; ++d) {
          float acc = 0;
          for (int64_t j = 0; j < seqKv; ++j)
            acc += p[j] * a.v.at(b, kvh, j, d);
          out[((b * s.qHeads + h) * seqQ + i) * s.dV + d] = round(acc);
        }
      }
  return out;
}

} // namespace

Comparison compareWithReference(const KernelSpec &s, const AttentionArgs &a) {
  ReferenceResult<double> ref = referenceAttention<double>(s, a);
  HalfKind kind;
  const bool half = halfKindOf(s.elementType, kind);
  // Naive f32 is the yardstick for O of f32 kernels and for LSE; a half
  // kernel without LSE needs only the naive half-precision output.
  ReferenceResult<float> naive;
  if (!half || s.lse)
    naive = referenceAttention<float>(s, a);
  std::vector<float> naiveHalfOut;
  if (half)
    naiveHalfOut = naiveHalf(s, a, kind);
  const std::vector<float> &naiveOut = half ? naiveHalfOut : naive.out;
  Comparison c;
  double lseNaiveError = 0;
  auto compare = [&](double got, double want, double naiveGot, double &error,
                     double &naiveError) {
    if (!std::isfinite(want)) { // only a fully masked row's LSE (-inf)
      c.lseMismatch |= got != want;
      return;
    }
    if (!std::isfinite(got)) {
      c.nonFinite = true;
      return;
    }
    error = std::max(error, std::abs(got - want));
    naiveError = std::max(naiveError, std::abs(naiveGot - want));
  };
  const int64_t batch = a.q.batch(), seqQ = a.q.seq();
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < s.qHeads; ++h)
      for (int64_t i = 0; i < seqQ; ++i) {
        const int64_t row = (b * s.qHeads + h) * seqQ + i;
        for (int64_t d = 0; d < s.dV; ++d)
          compare(a.o.at(b, h, i, d), ref.out[row * s.dV + d],
                  naiveOut[row * s.dV + d], c.maxError, c.naiveError);
        if (s.lse)
          compare(a.lse.at(b, h, i, 0), ref.lse[row], naive.lse[row],
                  half ? c.lseError : c.maxError,
                  half ? lseNaiveError : c.naiveError);
      }
  c.tolerance = 2 * c.naiveError + 1e-5;
  if (half)
    c.lseTolerance = 2 * lseNaiveError + 1e-5;
  return c;
}

} // namespace attnc
