attn.kernel @bloom_alibi attributes {
  q_heads = 32, d_qk = 128, element_type = f32,
  mask = #attn.mask<causal, bottom_right>,
  score_mod = #attn.score_mod<alibi>
}
