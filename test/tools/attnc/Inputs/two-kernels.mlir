attn.kernel @a attributes {q_heads = 4, d_qk = 64, element_type = f32}
attn.kernel @b attributes {q_heads = 4, d_qk = 64, element_type = f32}
