attn.kernel @llama3_8b_gqa attributes {
  q_heads = 32, kv_heads = 8, d_qk = 128, element_type = f32,
  mask = #attn.mask<causal, bottom_right>,
  layout = #attn.layout<bshd>,
  lse = true
}
