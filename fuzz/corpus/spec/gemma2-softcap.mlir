attn.kernel @gemma2_softcap attributes {
  q_heads = 16, kv_heads = 8, d_qk = 256, element_type = f32,
  scale = 0.0625, softcap = 50.0,
  mask = #attn.mask<causal, top_left>
}
