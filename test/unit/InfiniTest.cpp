// Infini-attention (runtime/Infini.h) over several segments against a
// float64 evaluation of the paper's equations with the pinned conventions
// (docs/infini.md), both update rules, GQA and d_v != d_qk; every
// rejection of a bad call by name.
#include "TestUtil.h"

#include "runtime/Infini.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace attnc;

namespace {

constexpr int64_t B = 2, HQ = 4, HKV = 2, DK = 16, DV = 24;

const char *kLocal =
    "attn.kernel @local attributes {q_heads = 4, kv_heads = 2, d_qk = 16, d_v = 24, "
    "element_type = f32, mask = #attn.mask<causal, bottom_right>}";

/// The paper's equations in T, segment after segment, on BHSD-packed
/// tensors; M [B, HKV, DK, DV] and z [B, HKV, DK] carried across.
template <typename T> struct Reference {
  std::vector<T> memory = std::vector<T>(B * HKV * DK * DV, 0), z = std::vector<T>(B * HKV * DK, 0);
  static T sigma(T x) { return x > 0 ? x + 1 : std::exp(x); }
  /// One segment of n tokens: returns o [B, HQ, n, DV].
  std::vector<T> segment(const std::vector<float> &q, const std::vector<float> &k,
                         const std::vector<float> &v, int64_t n,
                         const std::vector<float> &beta, bool delta, T eps) {
    auto Q = [&](int64_t b, int64_t h, int64_t t, int64_t d) { return T(q[((b * HQ + h) * n + t) * DK + d]); };
    auto K = [&](int64_t b, int64_t h, int64_t t, int64_t d) { return T(k[((b * HKV + h) * n + t) * DK + d]); };
    auto V = [&](int64_t b, int64_t h, int64_t t, int64_t e) { return T(v[((b * HKV + h) * n + t) * DV + e]); };
    auto M = [&](int64_t b, int64_t h, int64_t d, int64_t e) -> T & { return memory[((b * HKV + h) * DK + d) * DV + e]; };
    auto Z = [&](int64_t b, int64_t h, int64_t d) -> T & { return z[(b * HKV + h) * DK + d]; };
    // Retrieval from M, z as they are: sigma(x) M / max(sigma(x) z, eps).
    auto retrieve = [&](auto x, int64_t b, int64_t kvh) {
      std::vector<T> out(DV, 0);
      T denom = 0;
      for (int64_t d = 0; d < DK; ++d) {
        denom += sigma(x(d)) * Z(b, kvh, d);
        for (int64_t e = 0; e < DV; ++e)
          out[e] += sigma(x(d)) * M(b, kvh, d, e);
      }
      for (T &e : out)
        e /= std::max(denom, eps);
      return out;
    };
    std::vector<T> o(B * HQ * n * DV);
    const T scale = T(1) / std::sqrt(T(DK));
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < HQ; ++h) {
        const int64_t kvh = h / (HQ / HKV);
        const T g = T(1) / (1 + std::exp(-T(beta[h])));
        for (int64_t t = 0; t < n; ++t) {
          auto mem = retrieve([&](int64_t d) { return Q(b, h, t, d); }, b, kvh);
          std::vector<T> s(t + 1);
          T mx = -INFINITY, sum = 0;
          for (int64_t j = 0; j <= t; ++j) {
            T dot = 0;
            for (int64_t d = 0; d < DK; ++d)
              dot += Q(b, h, t, d) * K(b, kvh, j, d);
            mx = std::max(mx, s[j] = dot * scale);
          }
          for (T &x : s)
            sum += (x = std::exp(x - mx));
          for (int64_t e = 0; e < DV; ++e) {
            T dotA = 0;
            for (int64_t j = 0; j <= t; ++j)
              dotA += s[j] / sum * V(b, kvh, j, e);
            o[((b * HQ + h) * n + t) * DV + e] = g * mem[e] + (1 - g) * dotA;
          }
        }
      }
    // The update, every correction from the memory before it.
    for (int64_t b = 0; b < B; ++b)
      for (int64_t kvh = 0; kvh < HKV; ++kvh) {
        std::vector<std::vector<T>> old;
        for (int64_t t = 0; t < n; ++t)
          old.push_back(delta ? retrieve([&](int64_t d) { return K(b, kvh, t, d); }, b, kvh)
                              : std::vector<T>(DV, 0));
        for (int64_t t = 0; t < n; ++t)
          for (int64_t d = 0; d < DK; ++d)
            for (int64_t e = 0; e < DV; ++e)
              M(b, kvh, d, e) += sigma(K(b, kvh, t, d)) * (V(b, kvh, t, e) - old[t][e]);
        for (int64_t t = 0; t < n; ++t)
          for (int64_t d = 0; d < DK; ++d)
            Z(b, kvh, d) += sigma(K(b, kvh, t, d));
      }
    return o;
  }
};

std::vector<float> random(std::mt19937_64 &rng, size_t n) {
  std::vector<float> x(n);
  for (float &e : x)
    e = std::uniform_real_distribution<float>(-1, 1)(rng);
  return x;
}

TEST(Infini, SegmentsMatchThePapersEquationsInFloat64) {
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed);
  auto kernel = attnc::test::compileText(kLocal);
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  for (InfiniUpdate update : {InfiniUpdate::Linear, InfiniUpdate::Delta}) {
    const bool delta = update == InfiniUpdate::Delta;
    Reference<double> ref;
    Reference<float> naive;
    std::vector<float> memory(B * HKV * DK * DV, 0.f), z(B * HKV * DK, 0.f);
    std::vector<float> beta = random(rng, HQ);
    for (float &x : beta)
      x *= 3;
    InfiniOptions options;
    options.update = update;
    const int64_t lengths[] = {33, 17, 64, 1, 40};
    for (int segment = 0; segment < 5; ++segment) {
      const int64_t n = lengths[segment];
      std::vector<float> q = random(rng, B * HQ * n * DK), k = random(rng, B * HKV * n * DK),
                         v = random(rng, B * HKV * n * DV), o(B * HQ * n * DV);
      InfiniArgs a;
      a.q = denseView(q.data(), Layout::BHSD, B, n, HQ, DK);
      a.k = denseView(k.data(), Layout::BHSD, B, n, HKV, DK);
      a.v = denseView(v.data(), Layout::BHSD, B, n, HKV, DV);
      a.o = denseView(o.data(), Layout::BHSD, B, n, HQ, DV);
      a.memory = denseView(memory.data(), Layout::BHSD, B, DK, HKV, DV);
      a.z = denseView(z.data(), Layout::BHSD, B, 1, HKV, DK);
      a.beta = beta;
      Status st = infiniAttention(**kernel, a, options);
      ASSERT_TRUE(st.ok()) << st.message();
      std::vector<double> want = ref.segment(q, k, v, n, beta, delta, 1e-6);
      std::vector<float> plain = naive.segment(q, k, v, n, beta, delta, 1e-6f);
      double error = 0, naiveError = 0;
      for (size_t e = 0; e < o.size(); ++e) {
        error = std::max(error, std::abs(o[e] - want[e]));
        naiveError = std::max(naiveError, std::abs(plain[e] - want[e]));
      }
      EXPECT_LE(error, 2 * naiveError + 1e-5) << fmt::format(
          "seed {}: {} update, segment {} (n {}): error {:.3g}, naive {:.3g}", seed,
          delta ? "delta" : "linear", segment, n, error, naiveError);
      // The carried state, relative to its size (it grows with the tokens).
      double stateError = 0, stateNaive = 0;
      for (size_t e = 0; e < memory.size(); ++e) {
        const double scale = std::max(1.0, std::abs(ref.memory[e]));
        stateError = std::max(stateError, std::abs(memory[e] - ref.memory[e]) / scale);
        stateNaive = std::max(stateNaive, std::abs(naive.memory[e] - ref.memory[e]) / scale);
      }
      for (size_t e = 0; e < z.size(); ++e)
        stateError = std::max(stateError, std::abs(z[e] - ref.z[e]) / std::max(1.0, ref.z[e]));
      EXPECT_LE(stateError, 2 * stateNaive + 1e-5)
          << fmt::format("seed {}: {} update, segment {}: memory error {:.3g}", seed,
                         delta ? "delta" : "linear", segment, stateError);
      if (segment == 0) { // M = 0, z = 0: the memory adds nothing
        double largest = 0;
        for (float x : memory)
          largest = std::max(largest, double(std::abs(x)));
        EXPECT_GT(largest, 0) << "the first segment updates the memory";
      }
    }
  }
}

TEST(Infini, BadCallsAreNamed) {
  std::mt19937_64 rng(attnc::test::testSeed());
  auto kernel = attnc::test::compileText(kLocal);
  auto unmasked = attnc::test::compileText(
      "attn.kernel @plain attributes {q_heads = 4, kv_heads = 2, d_qk = 16, d_v = 24, "
      "element_type = f32}");
  ASSERT_TRUE(kernel.ok() && unmasked.ok());
  const int64_t n = 5;
  std::vector<float> q = random(rng, B * HQ * n * DK), k = random(rng, B * HKV * n * DK),
                     v = random(rng, B * HKV * n * DV), o(B * HQ * n * DV);
  std::vector<float> memory(B * HKV * DK * DV, 0.f), z(B * HKV * DK, 0.f);
  InfiniArgs good;
  good.q = denseView(q.data(), Layout::BHSD, B, n, HQ, DK);
  good.k = denseView(k.data(), Layout::BHSD, B, n, HKV, DK);
  good.v = denseView(v.data(), Layout::BHSD, B, n, HKV, DV);
  good.o = denseView(o.data(), Layout::BHSD, B, n, HQ, DV);
  good.memory = denseView(memory.data(), Layout::BHSD, B, DK, HKV, DV);
  good.z = denseView(z.data(), Layout::BHSD, B, 1, HKV, DK);
  good.beta = std::vector<float>(HQ, 0.f);
  ASSERT_TRUE(infiniAttention(**kernel, good).ok());
  EXPECT_EQ(infiniAttention(**unmasked, good).message(),
            "infini: kernel @plain must be an f32 softmax kernel with a causal mask, a "
            "dense layout and no declared inputs, block mask or probs (the local "
            "attention of a segment)");
  struct Case {
    std::function<void(InfiniArgs &, InfiniOptions &)> spoil;
    const char *message;
  } cases[] = {
      {[](InfiniArgs &a, InfiniOptions &) { a.memory.sizes[3] = 16; },
       "infini: memory: shape [2, 2, 16, 16] must be [batch, kv_heads, d_qk, d_v] = "
       "[2, 2, 16, 24]"},
      {[](InfiniArgs &a, InfiniOptions &) { a.z.dtype = DType::F16; },
       "infini: z: element type is f16, but the state is f32"},
      {[](InfiniArgs &a, InfiniOptions &) { a.z.strides[1] = 0; },
       "infini: z: sizes [2, 2, 1, 16] with strides [32, 0, 16, 1] may make "
       "elements share memory; an output's elements need their own (ordered by "
       "stride, each stride at least what the dimensions inside it span)"},
      {[](InfiniArgs &a, InfiniOptions &) { a.beta.pop_back(); },
       "infini: 3 gate logits (beta) given, but the kernel has q_heads = 4"},
      {[](InfiniArgs &a, InfiniOptions &) { a.beta[2] = NAN; },
       "infini: beta[2] = nan is not finite"},
      {[](InfiniArgs &, InfiniOptions &o) { o.eps = 0; },
       "infini: eps must be finite and > 0, got 0"},
      {[&](InfiniArgs &a, InfiniOptions &) { a.z.data = q.data(); },
       "infini: z overlaps q; the memory needs buffers of its own"},
      {[](InfiniArgs &a, InfiniOptions &) { a.k.sizes[2] = a.v.sizes[2] = 4; },
       "infini: a segment's queries and keys are the same tokens, but seq_q is 5 "
       "and seq_kv 4"},
      {[](InfiniArgs &a, InfiniOptions &) { a.o.sizes[1] = 3; },
       "o: has 3 heads, but the kernel has q_heads = 4"},
  };
  for (const Case &c : cases) {
    InfiniArgs a = good;
    InfiniOptions options;
    c.spoil(a, options);
    EXPECT_EQ(infiniAttention(**kernel, a, options).message(), c.message);
  }
}

} // namespace
