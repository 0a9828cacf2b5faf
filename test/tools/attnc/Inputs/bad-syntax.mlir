attn.kernel @k attributes {q_heads = 4, d_qk = 64, element_type = f32, mask = #attn.mask<causal>}
