#include "runtime/Infini.h"

#include "runtime/CpuKernel.h"
#include "runtime/Linear.h"
#include "runtime/ThreadPool.h"
#include "runtime/detail/Checks.h"

#include <fmt/format.h>

#include <cmath>
#include <new>

namespace attnc {
namespace {

/// Infini-attention's sigma: elu + 1, linear attention's elu1 feature map.
float sigma(float x) { return applyFeatureMap(FeatureMap::Elu1, x); }

} // namespace

Status infiniAttention(const CompiledKernel &local, const InfiniArgs &a,
                       const InfiniOptions &opt) {
  const KernelSpec &s = local.spec();
  // The memory's loops run on the host, right after the local kernel: it
  // must be a CPU kernel (a CUDA one runs asynchronously on device memory).
  if (!dynamic_cast<const CpuKernel *>(&local))
    return Status::error(fmt::format(
        "infini: kernel @{} must be a cpu kernel (the memory's retrieval and "
        "update run on the host)",
        s.name));
  if (s.mask != MaskKind::Causal || s.elementType != "f32" || s.kvType() != "f32" ||
      takesSequences(s.layout) || !s.inputs.empty() || s.blockQ > 0 || s.probs)
    return Status::error(fmt::format(
        "infini: kernel @{} must be an f32 softmax kernel with a causal mask, a "
        "dense layout and no declared inputs, block mask or probs (the local "
        "attention of a segment)",
        s.name));
  if (!(opt.eps > 0) || !std::isfinite(opt.eps))
    return Status::error(fmt::format("infini: eps must be finite and > 0, got {}", opt.eps));
  // The kernel's own checks first (shapes, types, strides of q, k, v, o).
  std::vector<float> lse;
  AttentionArgs call{a.q, a.k, a.v, a.o, {}};
  const int64_t batch = a.q.batch(), n = a.q.seq();
  if (s.lse) {
    if (Status st = detail::checkAddressable("q", a.q.sizes.data(), a.q.strides.data(), 4);
        !st.ok())
      return st;
    try {
      lse.resize(static_cast<size_t>(batch * s.qHeads * n));
    } catch (const std::bad_alloc &) {
      return Status::ioError("infini: the local kernel's LSE buffer cannot be allocated");
    }
    call.lse = lseView(lse.data(), batch, s.qHeads, n);
  }
  if (Status st = validateCall(s, call); !st.ok())
    return st;
  if (a.k.seq() != n)
    return Status::error(fmt::format(
        "infini: a segment's queries and keys are the same tokens, but seq_q is "
        "{} and seq_kv {}",
        n, a.k.seq()));
  const int64_t hq = s.qHeads, hkv = s.kvHeads, dk = s.dQk, dv = s.dV;
  if (Status st = detail::checkState("infini: memory", a.memory, {batch, hkv, dk, dv},
                             "[batch, kv_heads, d_qk, d_v]");
      !st.ok())
    return st;
  if (Status st = detail::checkState("infini: z", a.z, {batch, hkv, 1, dk}, "[batch, kv_heads, 1, d_qk]");
      !st.ok())
    return st;
  if (a.beta.size() != static_cast<size_t>(hq))
    return Status::error(fmt::format(
        "infini: {} gate logits (beta) given, but the kernel has q_heads = {}",
        a.beta.size(), hq));
  for (size_t h = 0; h < a.beta.size(); ++h)
    if (!std::isfinite(a.beta[h]))
      return Status::error(fmt::format("infini: beta[{}] = {} is not finite", h, a.beta[h]));
  // The state is read and written while q, k, v are read and o written.
  if (auto pair = detail::firstOverlap({{"memory", &a.memory}, {"z", &a.z}, {"q", &a.q},
                                        {"k", &a.k}, {"v", &a.v}, {"o", &a.o}},
                                       2))
    return Status::error(fmt::format("infini: {} overlaps {}; the memory needs "
                                     "buffers of its own",
                                     pair->first.name, pair->second.name));
  if (auto pair = detail::firstOverlap({{"o", &a.o}, {"q", &a.q}, {"k", &a.k}, {"v", &a.v}}, 1))
    return Status::error(fmt::format("infini: o overlaps {}", pair->second.name));

  // Retrieval from the memory as it was (before this segment): A_mem for
  // every query row, then the local attention into o, then the blend.
  std::vector<float> retrieved, corrected;
  try {
    retrieved.resize(static_cast<size_t>(batch * hq * n * dv));
    if (opt.update == InfiniUpdate::Delta)
      corrected.resize(static_cast<size_t>(batch * hkv * n * dv));
  } catch (const std::bad_alloc &) {
    return Status::ioError(fmt::format(
        "infini: the retrieval buffers ({} rows of d_v {}) cannot be allocated",
        batch * hq * n, dv));
  }
  const float eps = opt.eps;
  // Row t of `x` (q or k of (b, head)) through sigma, against (b, kvh)'s
  // memory: out[e] = sigma(x) M[:, e] / max(sigma(x) z, eps).
  auto retrieve = [&](const TensorView &x, int64_t b, int64_t head, int64_t t,
                      int64_t kvh, float *out) {
    float denom = 0;
    for (int64_t e = 0; e < dv; ++e)
      out[e] = 0;
    for (int64_t d = 0; d < dk; ++d) {
      const float sx = sigma(x.at(b, head, t, d));
      denom += sx * a.z.at(b, kvh, 0, d);
      const float *row = &a.memory.at(b, kvh, d, 0);
      for (int64_t e = 0; e < dv; ++e)
        out[e] += sx * row[e];
    }
    const float inv = 1.f / std::max(denom, eps);
    for (int64_t e = 0; e < dv; ++e)
      out[e] *= inv;
  };
  ThreadPool &pool = ThreadPool::shared();
  const unsigned threads = opt.threads ? opt.threads : pool.workers() + 1;
  pool.parallelFor(batch * hq, threads, [&](int64_t bh) {
    const int64_t b = bh / hq, h = bh % hq, kvh = h / (hq / hkv);
    for (int64_t t = 0; t < n; ++t)
      retrieve(a.q, b, h, t, kvh, &retrieved[((b * hq + h) * n + t) * dv]);
  });
  if (opt.update == InfiniUpdate::Delta)
    pool.parallelFor(batch * hkv, threads, [&](int64_t bk) {
      const int64_t b = bk / hkv, kvh = bk % hkv;
      for (int64_t t = 0; t < n; ++t)
        retrieve(a.k, b, kvh, t, kvh, &corrected[((b * hkv + kvh) * n + t) * dv]);
    });
  LaunchOptions launch;
  launch.threads = opt.threads;
  if (Status st = local.launch(call, launch); !st.ok())
    return st;
  pool.parallelFor(batch * hq, threads, [&](int64_t bh) {
    const int64_t b = bh / hq, h = bh % hq;
    const float g = 1.f / (1.f + std::exp(-a.beta[h]));
    for (int64_t t = 0; t < n; ++t) {
      const float *mem = &retrieved[((b * hq + h) * n + t) * dv];
      float *out = &a.o.at(b, h, t, 0);
      for (int64_t e = 0; e < dv; ++e)
        out[e] = g * mem[e] + (1 - g) * out[e];
    }
  });
  // The update, one (batch, kv head) memory a task: M += sigma(K)^T V'
  // (V' = V, or V minus what the memory already returns for K), then z.
  pool.parallelFor(batch * hkv, threads, [&](int64_t bk) {
    const int64_t b = bk / hkv, kvh = bk % hkv;
    for (int64_t t = 0; t < n; ++t) {
      const float *old = opt.update == InfiniUpdate::Delta
                             ? &corrected[((b * hkv + kvh) * n + t) * dv]
                             : nullptr;
      for (int64_t d = 0; d < dk; ++d) {
        const float sk = sigma(a.k.at(b, kvh, t, d));
        float *row = &a.memory.at(b, kvh, d, 0);
        for (int64_t e = 0; e < dv; ++e)
          row[e] += sk * (a.v.at(b, kvh, t, e) - (old ? old[e] : 0.f));
      }
    }
    for (int64_t t = 0; t < n; ++t)
      for (int64_t d = 0; d < dk; ++d)
        a.z.at(b, kvh, 0, d) += sigma(a.k.at(b, kvh, t, d));
  });
  return Status::success();
}

} // namespace attnc
