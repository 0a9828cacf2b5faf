#include "runtime/Linear.h"

#include "runtime/ModProgram.h"
#include "runtime/ThreadPool.h"
#include "runtime/detail/Checks.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <new>
#include <vector>

namespace attnc {

StatusOr<LinearKernel> LinearKernel::create(const KernelIr &ir) {
  LinearKernel k;
  k.spec_ = ir.view();
  const KernelSpec &s = k.spec_;
  if (!s.linear)
    return Status::error(fmt::format(
        "kernel @{} is softmax attention; LinearKernel runs variant = linear", s.name));
  if (s.elementType != "f32" || s.kvType() != "f32")
    return Status::error(fmt::format(
        "kernel @{}: linear attention runs f32 tensors for now, got element_type {} "
        "and kv_element_type {}",
        s.name, s.elementType, s.kvType()));
  if (takesSequences(s.layout))
    return Status::error(fmt::format(
        "kernel @{}: linear attention takes layout bshd or bhsd for now, got {}", s.name,
        toString(s.layout)));
  if (!s.inputs.empty())
    return Status::error(fmt::format(
        "kernel @{}: linear attention reads no declared inputs", s.name));
  if (s.featureMap == FeatureMap::Custom && !(s.mods && s.mods->feature))
    return Status::error(fmt::format(
        "internal error: kernel @{} has a custom feature map but no program", s.name));
  if (s.blockN > 0)
    k.chunk_ = s.blockN;
  return k;
}


Status LinearKernel::check(const AttentionArgs &a) const {
  if (Status st = validateCall(spec_, a); !st.ok())
    return st;
  // o is written while q, k and v are read (a chunk's rows before its keys
  // go into the state), by one task a (batch, kv head).
  if (Status st = detail::checkNoSelfOverlap("o", a.o); !st.ok())
    return st;
  if (auto pair = detail::firstOverlap({{"o", &a.o}, {"q", &a.q}, {"k", &a.k}, {"v", &a.v}}, 1))
    return Status::error(fmt::format("o overlaps {0}; linear attention writes o while "
                                     "it reads {0}",
                                     pair->second.name));
  return Status::success();
}

Status LinearKernel::checkState(const AttentionArgs &a, const LinearState &state) const {
  const KernelSpec &s = spec_;
  if (s.mask != MaskKind::Causal)
    return Status::error(fmt::format(
        "kernel @{} has no causal mask: a state (earlier keys every row sees) is "
        "for causal linear attention",
        s.name));
  const int64_t batch = a.q.batch();
  if (Status st = detail::checkState("state s", state.s, {batch, s.kvHeads, s.dQk, s.dV},
                                     "[batch, kv_heads, d_qk, d_v]");
      !st.ok())
    return st;
  if (Status st = detail::checkState("state z", state.z, {batch, s.kvHeads, 1, s.dQk},
                                     "[batch, kv_heads, 1, d_qk]");
      !st.ok())
    return st;
  if (auto pair = detail::firstOverlap({{"state s", &state.s},
                                        {"state z", &state.z},
                                        {"q", &a.q},
                                        {"k", &a.k},
                                        {"v", &a.v},
                                        {"o", &a.o}},
                                       2))
    return Status::error(fmt::format("{} overlaps {}; the state needs buffers of "
                                     "its own",
                                     pair->first.name, pair->second.name));
  return Status::success();
}

Status LinearKernel::run(const AttentionArgs &a, const LinearState *state,
                         unsigned threads) const {
  const KernelSpec &s = spec_;
  if (Status st = check(a); !st.ok())
    return st;
  if (state)
    if (Status st = checkState(a, *state); !st.ok())
      return st;
  const bool causal = s.mask == MaskKind::Causal;
  const int64_t batch = a.q.batch(), seqQ = a.q.seq(), seqKv = a.k.seq();
  const int64_t hq = s.qHeads, hkv = s.kvHeads, dk = s.dQk, dv = s.dV;
  // Row i sees keys j <= i + off; without a mask every key (off past any
  // addressable length: sizes are below 2^56, so i + off cannot overflow).
  const int64_t off = !causal ? std::numeric_limits<int64_t>::max() / 4
                      : s.alignment == Alignment::BottomRight ? seqKv - seqQ
                                                              : 0;
  const float scale = static_cast<float>(s.scale), eps = static_cast<float>(s.eps);
  const int64_t chunk = chunk_, group = hq / hkv;
  // Every task's scratch, allocated before anything is written (a task
  // cannot fail half-way through the call's state).
  const int64_t tasks = batch * hkv;
  const int64_t perTask = dk * dv + dk + chunk * dk + dk + dv;
  std::vector<float> scratch;
  try {
    if (tasks > 0 && perTask > (int64_t(1) << 40) / tasks)
      throw std::bad_alloc();
    scratch.resize(static_cast<size_t>(tasks * perTask));
  } catch (const std::bad_alloc &) {
    return Status::ioError(fmt::format(
        "linear attention: the scratch of {} (batch, kv head) tasks ({} floats each) "
        "cannot be allocated",
        tasks, perTask));
  }
  auto task = [&](int64_t bk) {
    const int64_t b = bk / hkv, kvh = bk % hkv;
    // phi: a built-in map, or the 'feature' region's program in f32.
    ModEnv env;
    env.seqQ = seqQ;
    env.seqKv = seqKv;
    std::vector<ModValue> registers;
    auto phi = [&](float x) -> float {
      if (s.featureMap != FeatureMap::Custom)
        return applyFeatureMap(s.featureMap, x);
      ModValue arg, result;
      arg.f = x;
      evaluate<float>(*s.mods->feature, &arg, &result, env, registers);
      return static_cast<float>(result.f);
    };
    float *base = scratch.data() + bk * perTask;
    float *S = base, *z = S + dk * dv, *phiK = z + dk, *phiQ = phiK + chunk * dk,
          *num = phiQ + dk;
    if (state)
      for (int64_t d = 0; d < dk; ++d) {
        z[d] = state->z.at(b, kvh, 0, d);
        for (int64_t e = 0; e < dv; ++e)
          S[d * dv + e] = state->s.at(b, kvh, d, e);
      }
    // Row i of every head of the group: the state (S, z: the keys before
    // the current chunk) plus keys [c0, last] of the chunk in phiK.
    auto emit = [&](int64_t i, int64_t c0, int64_t last) {
      for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
        float den = 0;
        std::fill(num, num + dv, 0.f);
        for (int64_t d = 0; d < dk; ++d) {
          const float x = phiQ[d] = phi(a.q.at(b, h, i, d));
          den += x * z[d];
          const float *row = &S[d * dv];
          for (int64_t e = 0; e < dv; ++e)
            num[e] += x * row[e];
        }
        for (int64_t j = c0; j <= last; ++j) {
          const float *pk = &phiK[(j - c0) * dk];
          float w = 0;
          for (int64_t d = 0; d < dk; ++d)
            w += phiQ[d] * pk[d];
          den += w;
          for (int64_t e = 0; e < dv; ++e)
            num[e] += w * a.v.at(b, kvh, j, e);
        }
        const float inv = s.normalize ? scale / std::max(scale * den, eps) : scale;
        for (int64_t e = 0; e < dv; ++e)
          a.o.at(b, h, i, e) = num[e] * inv;
      }
    };
    int64_t next = 0; // the first row not written yet (rows by last key)
    // Rows that see no key of this call: with a state they see its keys;
    // without one, no key at all, and they get 0 (whatever q holds, as the
    // CUDA kernel and softmax attention give).
    for (; next < seqQ && next + off < 0; ++next) {
      if (state) {
        emit(next, 0, -1);
        continue;
      }
      for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h)
        for (int64_t e = 0; e < dv; ++e)
          a.o.at(b, h, next, e) = 0.f;
    }
    for (int64_t c0 = 0; c0 < seqKv; c0 += chunk) {
      const int64_t c1 = std::min(c0 + chunk, seqKv);
      for (int64_t j = c0; j < c1; ++j)
        for (int64_t d = 0; d < dk; ++d)
          phiK[(j - c0) * dk + d] = phi(a.k.at(b, kvh, j, d));
      for (; next < seqQ && next + off < c1; ++next)
        emit(next, c0, next + off);
      for (int64_t j = c0; j < c1; ++j)
        for (int64_t d = 0; d < dk; ++d) {
          const float x = phiK[(j - c0) * dk + d];
          z[d] += x;
          float *row = &S[d * dv];
          for (int64_t e = 0; e < dv; ++e)
            row[e] += x * a.v.at(b, kvh, j, e);
        }
    }
    for (; next < seqQ; ++next)
      emit(next, 0, -1); // sees every key: all in S now
    if (state)
      for (int64_t d = 0; d < dk; ++d) {
        state->z.at(b, kvh, 0, d) = z[d];
        for (int64_t e = 0; e < dv; ++e)
          state->s.at(b, kvh, d, e) = S[d * dv + e];
      }
  };
  ThreadPool &pool = ThreadPool::shared();
  pool.parallelFor(tasks, threads ? threads : pool.workers() + 1, task);
  return Status::success();
}

} // namespace attnc
