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

def AttnSelectCpuSchedule : Pass<"attn-select-cpu-schedule"> {
  let summary = "chooses a CPU tiling for every attn.kernel by heuristic";
  let description = [{
    Fills the unset CPU fields of each kernel's `#attn.schedule`: the vector
    width of the target (16 f32 lanes with AVX-512, 8 with AVX2, else 4),
    a register-blocked micro-tile sized for that width, block_n so that one
    packed K tile (d_qk x block_n floats) stays within 32 KiB, block_m, and the
    default thread count. Fields the user set are kept. With `--vector-width`
    and `--threads` the target can be fixed (0 means: ask the host).

    ```mlir
    // attn-opt --attn-select-cpu-schedule="vector-width=16 threads=2"
    attn.kernel @k attributes {..., d_qk = 128,
      schedule = #attn.schedule<block_m = 64, block_n = 64, micro_m = 8,
                                micro_n = 32, vector_width = 16, threads = 2>}
    ```
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "f32 lanes per vector (4, 8, 16); 0 picks the host's">,
    Option<"threads", "threads", "int64_t", /*default=*/"0",
           "default worker threads; 0 picks the host's core count">,
  ];
}

#endif // ATTN_TRANSFORMS_PASSES_TD
