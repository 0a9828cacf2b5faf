// A Gemma-2-style layer: logit softcapping (50 * tanh(s / 50)), head dim 256,
// GQA 16/8, causal, and a caller-chosen scale instead of 1/sqrt(d).
//
//   attnc run examples/gemma2-softcap.mlir --seq-q 300
attn.kernel @gemma2_softcap attributes {
  q_heads = 16, kv_heads = 8, d_qk = 256, element_type = f32,
  scale = 0.0625, softcap = 50.0,
  mask = #attn.mask<causal, top_left>
}
