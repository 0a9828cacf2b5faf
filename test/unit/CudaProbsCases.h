#ifndef ATTNC_TEST_UNIT_CUDAPROBSCASES_H
#define ATTNC_TEST_UNIT_CUDAPROBSCASES_H

// Calls of CUDA probs kernels from f32 host tensors, checked against the
// float64 softmax: one body for the emulator (SimtProbsTest) and a GPU
// (CudaNumericsTest), which differ only in how a call runs.

#include "RandomKernels.h"
#include "SequenceCases.h"
#include "TestUtil.h"

#include "runtime/BlockMask.h"
#include "runtime/Reference.h"

#include <fmt/format.h>

#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace attnc::test::probs {

/// One call of `s` from f32 host tensors with a probs buffer (padded, NaN
/// outside the view); `run` runs it. Returns what failed ("" if passed).
inline std::string probsCall(const KernelSpec &s, int64_t batch, int64_t seqQ, int64_t seqKv,
                      std::mt19937_64 &rng,
                      const std::function<Status(const AttentionArgs &)> &run) {
  Buffer q(s.layout, batch, seqQ, s.qHeads, s.dQk, false, rng),
      k(s.layout, batch, seqKv, s.kvHeads, s.dQk, false, rng),
      v(s.layout, batch, seqKv, s.kvHeads, s.dV, false, rng),
      o(s.layout, batch, seqQ, s.qHeads, s.dV, false, rng),
      p(Layout::BHSD, batch, seqQ, s.qHeads, seqKv, true, rng);
  p.fill(std::numeric_limits<float>::quiet_NaN());
  std::vector<float> lse(batch * s.qHeads * seqQ);
  AttentionArgs a{q.view, k.view, v.view, o.view, {}};
  if (s.lse)
    a.lse = lseView(lse.data(), batch, s.qHeads, seqQ);
  a.probs = p.view;
  std::vector<int32_t> shift;
  std::vector<float> bias;
  for (const InputDecl &d : s.inputs) // the regions kernel's [batch] inputs
    if (d.type == DType::I32) {
      for (int64_t i = 0; i < batch; ++i)
        shift.push_back(static_cast<int32_t>(attnc::test::regions::uniform(rng, -3, 20)));
      a.inputs.push_back({d.name, shift.data(), DType::I32, {batch}, {1}});
    } else {
      for (int64_t i = 0; i < batch; ++i)
        bias.push_back(std::uniform_real_distribution<float>(-0.05f, 0.05f)(rng));
      a.inputs.push_back({d.name, bias.data(), DType::F32, {batch}, {1}});
    }
  BlockMask blocks;
  if (s.blockQ > 0) {
    blocks = attnc::test::regions::randomBlockMask(rng, s, batch, seqQ, seqKv, 0.6);
    a.blockMask = blocks.args();
  }
  Status st = run(a);
  if (!st.ok())
    return st.message();
  Comparison c = compareWithReference(s, a);
  const int64_t outside = p.touchedOutsideView();
  if (c.passed() && outside == 0)
    return "";
  return fmt::format("{}x{}: P error {:.3g} (tol {:.3g}), O error {:.3g} (tol {:.3g}), "
                     "NaN missing {}, non-finite {}, writes outside {}",
                     seqQ, seqKv, c.probsError, c.probsTolerance, c.maxError,
                     c.tolerance, c.nanMissing, c.nonFinite, outside);
}

inline std::vector<std::string> specs() {
  return {
      "attn.kernel @causal attributes {q_heads = 4, kv_heads = 2, d_qk = 64, element_type "
      "= f16, lse = true, probs = true, mask = #attn.mask<causal, bottom_right>}",
      "attn.kernel @window attributes {q_heads = 2, d_qk = 40, d_v = 72, element_type = "
      "bf16, probs = true, softcap = 20.0, mask = #attn.mask<sliding_window, left = 30, "
      "right = 5, bottom_right>, schedule = #attn.schedule<warps = 2, block_n = 32, stages = 3>}",
      "attn.kernel @sparse attributes {q_heads = 2, d_qk = 64, element_type = f16, probs = "
      "true, block_sparse = #attn.block_sparse<block_q = 64, block_kv = 64>}",
      attnc::test::sequences::regionSpec("regions", "bshd", "f16"),
  };
}

} // namespace attnc::test::probs

#endif
