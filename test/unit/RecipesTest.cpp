// Recipes built from attnc's pieces (docs/recipes.md), each against a
// float64 computation of the architecture as its paper defines it:
// Memorizing Transformers' local attention plus attention over each
// query's retrieved top-k memories, combined by one joint softmax (the
// merge kernel) or by a learned per-head gate.
#include "TestUtil.h"

#include "runtime/Merge.h"
#include "runtime/Reference.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

using namespace attnc;

namespace {

/// One Memorizing Transformers layer, batch 1: a segment of T queries with
/// causal local attention over its own keys, and a memory of N (key,
/// value) pairs per head from which each query retrieves its top-k keys
/// by dot product (kNN, exact here).
struct MemoryLayer {
  static constexpr int64_t H = 3, D = 24, T = 37, N = 300, TopK = 16;
  std::vector<float> q, k, v;          // [T, H, D] (BSHD, batch 1)
  std::vector<float> memK, memV;       // [N, H, D]
  std::vector<int64_t> topk;           // [H, T, TopK]
  std::vector<float> gate;             // [H]: the learned gate's logits
  explicit MemoryLayer(std::mt19937_64 &rng) {
    auto random = [&](size_t n, float scale) {
      std::vector<float> x(n);
      for (float &e : x)
        e = scale * std::uniform_real_distribution<float>(-1, 1)(rng);
      return x;
    };
    q = random(T * H * D, 1), k = random(T * H * D, 1), v = random(T * H * D, 1);
    memK = random(N * H * D, 1), memV = random(N * H * D, 1);
    gate = random(H, 3);
    topk.resize(H * T * TopK);
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < T; ++i) {
        std::vector<std::pair<double, int64_t>> scored;
        for (int64_t n = 0; n < N; ++n) {
          double dot = 0;
          for (int64_t d = 0; d < D; ++d)
            dot += double(q[(i * H + h) * D + d]) * memK[(n * H + h) * D + d];
          scored.push_back({-dot, n});
        }
        std::partial_sort(scored.begin(), scored.begin() + TopK, scored.end());
        for (int64_t j = 0; j < TopK; ++j)
          topk[(h * T + i) * TopK + j] = scored[j].second;
      }
  }
  /// Row (h, i) of attention over the keys `keys` (local index < T, or T +
  /// memory index), softmax in T: O and the keys' weights.
  template <typename F>
  std::vector<F> attend(int64_t h, int64_t i, const std::vector<int64_t> &keys,
                        F scale) const {
    std::vector<F> s(keys.size());
    F m = -INFINITY;
    for (size_t j = 0; j < keys.size(); ++j) {
      const bool mem = keys[j] >= T;
      const float *key = mem ? &memK[((keys[j] - T) * H + h) * D] : &k[(keys[j] * H + h) * D];
      F dot = 0;
      for (int64_t d = 0; d < D; ++d)
        dot += F(q[(i * H + h) * D + d]) * F(key[d]);
      s[j] = dot * scale;
      m = std::max(m, s[j]);
    }
    F sum = 0;
    for (F &x : s)
      sum += (x = std::exp(x - m));
    std::vector<F> o(D, 0);
    for (size_t j = 0; j < keys.size(); ++j) {
      const bool mem = keys[j] >= T;
      const float *val = mem ? &memV[((keys[j] - T) * H + h) * D] : &v[(keys[j] * H + h) * D];
      for (int64_t d = 0; d < D; ++d)
        o[d] += s[j] / sum * F(val[d]);
    }
    return o;
  }
  std::vector<int64_t> localKeys(int64_t i) const {
    std::vector<int64_t> keys(i + 1);
    std::iota(keys.begin(), keys.end(), 0);
    return keys;
  }
  std::vector<int64_t> memoryKeys(int64_t h, int64_t i) const {
    std::vector<int64_t> keys;
    for (int64_t j = 0; j < TopK; ++j)
      keys.push_back(T + topk[(h * T + i) * TopK + j]);
    return keys;
  }
};

TEST(Recipes, MemorizingTransformersJointSoftmaxAndGate) {
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed);
  using L = MemoryLayer;
  L layer(rng);
  const double scale = 1 / std::sqrt(double(L::D));
  // Local: causal attention over the segment, with its LSE.
  auto local = attnc::test::compileText(fmt::format(
      "attn.kernel @local attributes {{q_heads = {0}, d_qk = {1}, element_type = f32, "
      "lse = true, mask = #attn.mask<causal, bottom_right>}}",
      L::H, L::D));
  // Memory: each query attends to its own TopK retrieved pairs, so each
  // (query) is a batch of one query over TopK keys: a decode kernel.
  auto memory = attnc::test::compileText(fmt::format(
      "attn.kernel @memory attributes {{q_heads = {0}, d_qk = {1}, element_type = f32, "
      "lse = true, mode = #attn.mode<decode>}}",
      L::H, L::D));
  ASSERT_TRUE(local.ok()) << local.status().message();
  ASSERT_TRUE(memory.ok()) << memory.status().message();
  std::vector<float> oLocal(L::T * L::H * L::D), lseLocal(L::H * L::T);
  AttentionArgs la{denseView(layer.q.data(), Layout::BSHD, 1, L::T, L::H, L::D),
                   denseView(layer.k.data(), Layout::BSHD, 1, L::T, L::H, L::D),
                   denseView(layer.v.data(), Layout::BSHD, 1, L::T, L::H, L::D),
                   denseView(oLocal.data(), Layout::BSHD, 1, L::T, L::H, L::D),
                   lseView(lseLocal.data(), 1, L::H, L::T)};
  ASSERT_TRUE((*local)->run(la).ok());
  // The retrieved pairs gathered per (query, head): [T, H, TopK, D] as
  // batch T, BHSD-like (head-major within a query).
  std::vector<float> gk(L::T * L::H * L::TopK * L::D), gv(gk.size());
  for (int64_t i = 0; i < L::T; ++i)
    for (int64_t h = 0; h < L::H; ++h)
      for (int64_t j = 0; j < L::TopK; ++j) {
        const int64_t n = layer.topk[(h * L::T + i) * L::TopK + j];
        std::copy_n(&layer.memK[(n * L::H + h) * L::D], L::D,
                    &gk[((i * L::H + h) * L::TopK + j) * L::D]);
        std::copy_n(&layer.memV[(n * L::H + h) * L::D], L::D,
                    &gv[((i * L::H + h) * L::TopK + j) * L::D]);
      }
  std::vector<float> oMem(L::T * L::H * L::D), lseMem(L::T * L::H);
  AttentionArgs ma{denseView(layer.q.data(), Layout::BSHD, L::T, 1, L::H, L::D),
                   denseView(gk.data(), Layout::BHSD, L::T, L::TopK, L::H, L::D),
                   denseView(gv.data(), Layout::BHSD, L::T, L::TopK, L::H, L::D),
                   denseView(oMem.data(), Layout::BSHD, L::T, 1, L::H, L::D),
                   lseView(lseMem.data(), L::T, L::H, 1)};
  Status st = (*memory)->run(ma);
  ASSERT_TRUE(st.ok()) << st.message();

  // Mode 1, one joint softmax over local and retrieved keys: merge the two
  // parts. The memory part's [T (batch), H, 1] rows are viewed as [1, H, T]
  // by strides, no copy.
  TensorView memO = denseView(oMem.data(), Layout::BSHD, 1, L::T, L::H, L::D);
  TensorView memLse = lseView(lseMem.data(), 1, L::H, L::T);
  memLse.strides = {L::T * L::H, 1, L::H, 1};
  std::vector<float> joint(L::T * L::H * L::D), gated(joint.size());
  MergeArgs m;
  m.outputs = {la.o, memO};
  m.lses = {la.lse, memLse};
  m.o = denseView(joint.data(), Layout::BSHD, 1, L::T, L::H, L::D);
  ASSERT_TRUE(mergeAttention(m).ok());
  // Mode 2, the paper's gate: g = sigmoid(gate[h]), O = g O_mem + (1 - g)
  // O_local, elementwise on the two kernels' outputs.
  for (int64_t i = 0; i < L::T; ++i)
    for (int64_t h = 0; h < L::H; ++h) {
      const float g = 1.f / (1.f + std::exp(-layer.gate[h]));
      for (int64_t d = 0; d < L::D; ++d) {
        const int64_t at = (i * L::H + h) * L::D + d;
        gated[at] = g * oMem[at] + (1 - g) * oLocal[at];
      }
    }
  // Against float64 (and naive f32 for FlashAttention's tolerance rule).
  double jointError = 0, jointNaive = 0, gateError = 0, gateNaive = 0;
  for (int64_t h = 0; h < L::H; ++h)
    for (int64_t i = 0; i < L::T; ++i) {
      std::vector<int64_t> both = layer.localKeys(i), mem = layer.memoryKeys(h, i);
      both.insert(both.end(), mem.begin(), mem.end());
      auto want = layer.attend<double>(h, i, both, scale);
      auto naive = layer.attend<float>(h, i, both, float(scale));
      auto wantL = layer.attend<double>(h, i, layer.localKeys(i), scale);
      auto wantM = layer.attend<double>(h, i, mem, scale);
      auto naiveL = layer.attend<float>(h, i, layer.localKeys(i), float(scale));
      auto naiveM = layer.attend<float>(h, i, mem, float(scale));
      const double g = 1 / (1 + std::exp(-double(layer.gate[h])));
      for (int64_t d = 0; d < L::D; ++d) {
        const int64_t at = (i * L::H + h) * L::D + d;
        jointError = std::max(jointError, std::abs(joint[at] - want[d]));
        jointNaive = std::max(jointNaive, std::abs(naive[d] - want[d]));
        const double gw = g * wantM[d] + (1 - g) * wantL[d];
        const double gn = float(g) * naiveM[d] + (1 - float(g)) * naiveL[d];
        gateError = std::max(gateError, std::abs(gated[at] - gw));
        gateNaive = std::max(gateNaive, std::abs(gn - gw));
      }
    }
  EXPECT_LE(jointError, 2 * jointNaive + 1e-5)
      << "seed " << seed << ": joint softmax error " << jointError;
  EXPECT_LE(gateError, 2 * gateNaive + 1e-5)
      << "seed " << seed << ": gated error " << gateError;
  // The two modes are different numbers (the choice must be explicit).
  double apart = 0;
  for (size_t e = 0; e < joint.size(); ++e)
    apart = std::max(apart, double(std::abs(joint[e] - gated[e])));
  EXPECT_GT(apart, 1e-3);
}

} // namespace
