#ifndef ATTN_TRANSFORMS_PASSES_TD
#define ATTN_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def AttnResolveDefaults : Pass<"attn-resolve-defaults"> {
  let summary = "makes every implicit choice of an attn.kernel explicit";
  let description = [{
    Writes out every attribute the verifier would otherwise default:
    kv_heads (= q_heads), d_v (= d_qk), accum_type (f32), scale
    (1/sqrt(d_qk)), softcap (0: off), mask (none), score_mod (none), layout
    (bshd), mode (prefill), variant (softmax), lse and probs (false). The
    schedule is left to a schedule pass. Running it twice changes nothing.

    ```mlir
    // before
    attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32}
    // after
    attn.kernel @k attributes {accum_type = f32, d_qk = 64, d_v = 64,
      element_type = f32, kv_heads = 8, layout = #attn.layout<bshd>,
      lse = false, mask = #attn.mask<none>, mode = #attn.mode<prefill>,
      probs = false, q_heads = 8, scale = 1.250000e-01,
      score_mod = #attn.score_mod<none>, softcap = 0.000000e+00,
      variant = #attn.variant<softmax>}
    ```
  }];
}

#endif // ATTN_TRANSFORMS_PASSES_TD
