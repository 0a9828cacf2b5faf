#ifndef ATTNC_TEST_UNIT_LINEARDEFINITION_H
#define ATTNC_TEST_UNIT_LINEARDEFINITION_H

// Linear attention's definition, computed quadratically (docs/linear.md),
// and FlashAttention's tolerance rule against it: shared by the CPU
// (LinearTest) and CUDA (SimtLinearTest) kernels' tests.

#include "runtime/Linear.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace attnc::test {

/// A custom feature map, softplus: phi(x) = log(1 + e^x), which no built-in
/// is; spec text to append to a linear kernel's attributes.
inline const char *kSoftplusFeature = R"( feature {
  ^bb0(%x: f32):
    %e = math.exp %x : f32
    %y = math.log1p %e : f32
    attn.yield %y : f32
  })";

inline std::vector<float> random(std::mt19937_64 &rng, size_t n) {
  std::vector<float> x(n);
  for (float &e : x)
    e = std::uniform_real_distribution<float>(-1, 1)(rng);
  return x;
}

/// The definition, in T: s_ij = scale phi(q_i) . phi(k_j) over the keys
/// row i sees, o_i = sum s_ij v_j / max(sum s_ij, eps) (or unnormalised).
/// BHSD-packed tensors; `prior` keys (a state's) come first in k and v and
/// every row sees them.
/// `custom` is phi for a custom feature map, written out here (not the
/// kernel's program).
template <typename T>
std::vector<T> definition(const KernelSpec &s, const std::vector<float> &q,
                          const std::vector<float> &k, const std::vector<float> &v,
                          int64_t batch, int64_t seqQ, int64_t seqKv, int64_t prior = 0,
                          std::function<T(T)> custom = {}) {
  auto phi = [&](T x) -> T {
    switch (s.featureMap) {
    case FeatureMap::Elu1:
      return x > 0 ? x + 1 : std::exp(x);
    case FeatureMap::Relu:
      return x > 0 ? x : 0;
    case FeatureMap::Identity:
      break;
    case FeatureMap::Custom:
      return custom(x);
    }
    return x;
  };
  const int64_t hq = s.qHeads, hkv = s.kvHeads, dk = s.dQk, dv = s.dV, all = prior + seqKv;
  const int64_t off = s.alignment == Alignment::BottomRight ? seqKv - seqQ : 0;
  std::vector<T> o(batch * hq * seqQ * dv);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < hq; ++h)
      for (int64_t i = 0; i < seqQ; ++i) {
        const int64_t kvh = h / (hq / hkv);
        std::vector<T> num(dv, 0);
        T den = 0;
        for (int64_t j = 0; j < all; ++j) {
          // The prior keys are seen by every row; the call's up to i + off.
          if (s.mask == MaskKind::Causal && j >= prior && j - prior > i + off)
            continue;
          T w = 0;
          for (int64_t d = 0; d < dk; ++d)
            w += phi(T(q[((b * hq + h) * seqQ + i) * dk + d])) *
                 phi(T(k[((b * hkv + kvh) * all + j) * dk + d]));
          w *= T(s.scale);
          den += w;
          for (int64_t e = 0; e < dv; ++e)
            num[e] += w * T(v[((b * hkv + kvh) * all + j) * dv + e]);
        }
        for (int64_t e = 0; e < dv; ++e)
          o[((b * hq + h) * seqQ + i) * dv + e] =
              s.normalize ? num[e] / std::max(den, T(s.eps)) : num[e];
      }
  return o;
}

struct Call {
  std::vector<float> q, k, v, o;
  AttentionArgs args;
  Call(const KernelSpec &s, int64_t batch, int64_t seqQ, int64_t seqKv, std::mt19937_64 &rng)
      : q(random(rng, batch * s.qHeads * seqQ * s.dQk)),
        k(random(rng, batch * s.kvHeads * seqKv * s.dQk)),
        v(random(rng, batch * s.kvHeads * seqKv * s.dV)),
        o(batch * s.qHeads * seqQ * s.dV, NAN) {
    args = {denseView(q.data(), Layout::BHSD, batch, seqQ, s.qHeads, s.dQk),
            denseView(k.data(), Layout::BHSD, batch, seqKv, s.kvHeads, s.dQk),
            denseView(v.data(), Layout::BHSD, batch, seqKv, s.kvHeads, s.dV),
            denseView(o.data(), Layout::BHSD, batch, seqQ, s.qHeads, s.dV),
            {}};
  }
};

/// max |got - want| <= 2 x that of the definition in f32, + 1e-5.
inline std::string compare(const std::vector<float> &got, const std::vector<double> &want,
                    const std::vector<float> &naive) {
  double error = 0, naiveError = 0;
  for (size_t e = 0; e < got.size(); ++e) {
    if (!std::isfinite(got[e]))
      return fmt::format("element {} is {}", e, got[e]);
    error = std::max(error, std::abs(got[e] - want[e]));
    naiveError = std::max(naiveError, std::abs(naive[e] - want[e]));
  }
  if (error <= 2 * naiveError + 1e-5)
    return "";
  return fmt::format("error {:.3g} vs tolerance {:.3g}", error, 2 * naiveError + 1e-5);
}

/// Two small kernels for the state's errors: no mask, and causal.
inline const char *kPlainLinear =
    "attn.kernel @plain attributes {q_heads = 2, d_qk = 8, element_type = f32, variant = "
    "#attn.variant<linear>}";
inline const char *kCausalLinear =
    "attn.kernel @causal attributes {q_heads = 2, d_qk = 8, element_type = f32, variant = "
    "#attn.variant<linear>, mask = #attn.mask<causal, top_left>}";

/// A call with a state: the kernel's run (CPU or CUDA) of `args`.
using StateRun = std::function<Status(const AttentionArgs &, const LinearState *)>;

/// The state's errors (LinearKernel::checkState's messages) through `plain`
/// and `causal`, which run kPlainLinear's and kCausalLinear's kernels;
/// `c` is a call of 1 x 5 x 5 for them.
inline void expectStateErrors(const StateRun &plain, const StateRun &causal, Call &c) {
  std::vector<float> S(2 * 8 * 8), z(2 * 8);
  LinearState state{denseView(S.data(), Layout::BHSD, 1, 8, 2, 8),
                    denseView(z.data(), Layout::BHSD, 1, 1, 2, 8)};
  EXPECT_EQ(plain(c.args, &state).message(),
            "kernel @plain has no causal mask: a state (earlier keys every row sees) is "
            "for causal linear attention");
  LinearState bad = state;
  bad.s.sizes[3] = 4;
  EXPECT_EQ(causal(c.args, &bad).message(),
            "state s: shape [1, 2, 8, 4] must be [batch, kv_heads, d_qk, d_v] = [1, 2, 8, 8]");
  bad = state;
  bad.z.data = c.k.data();
  EXPECT_EQ(causal(c.args, &bad).message(),
            "state z overlaps k; the state needs buffers of its own");
}

/// BHSD-packed [batch, heads, sum of lengths, d] from calls' BHSD-packed
/// [batch, heads, length_i, d] tensors, keys in call order: the keys a
/// state holds, then the current call's, for the definition's `prior`.
inline std::vector<float>
concatKeys(const std::vector<std::pair<const std::vector<float> *, int64_t>> &parts,
           int64_t batch, int64_t heads, int64_t d) {
  std::vector<float> out;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (auto [x, n] : parts)
        out.insert(out.end(), x->begin() + ((b * heads + h) * n) * d,
                   x->begin() + ((b * heads + h) * n + n) * d);
  return out;
}

} // namespace attnc::test

#endif
