attn.kernel @linear attributes {q_heads = 8, d_qk = 64, element_type = f32, variant = #attn.variant<linear>}
