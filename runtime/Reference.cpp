#include "runtime/Reference.h"

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

Comparison compareWithReference(const KernelSpec &s, const AttentionArgs &a) {
  ReferenceResult<double> ref = referenceAttention<double>(s, a);
  ReferenceResult<float> naive = referenceAttention<float>(s, a);
  Comparison c;
  auto compare = [&](double got, double want, double naiveGot) {
    if (!std::isfinite(want)) { // only a fully masked row's LSE (-inf)
      c.lseMismatch |= got != want;
      return;
    }
    if (!std::isfinite(got)) {
      c.nonFinite = true;
      return;
    }
    c.maxError = std::max(c.maxError, std::abs(got - want));
    c.naiveError = std::max(c.naiveError, std::abs(naiveGot - want));
  };
  const int64_t batch = a.q.batch(), seqQ = a.q.seq();
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < s.qHeads; ++h)
      for (int64_t i = 0; i < seqQ; ++i) {
        for (int64_t d = 0; d < s.dV; ++d)
          compare(a.o.at(b, h, i, d), ref.at(a.q, s.dV, b, h, i, d),
                  naive.at(a.q, s.dV, b, h, i, d));
        if (s.lse) {
          int64_t idx = (b * s.qHeads + h) * seqQ + i;
          compare(a.lse.at(b, h, i, 0), ref.lse[idx], naive.lse[idx]);
        }
      }
  c.tolerance = 2 * c.naiveError + 1e-5;
  return c;
}

} // namespace attnc
