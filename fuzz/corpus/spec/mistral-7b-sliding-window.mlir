attn.kernel @mistral_7b_swa attributes {
  q_heads = 32, kv_heads = 8, d_qk = 128, element_type = f32,
  mask = #attn.mask<sliding_window, left = 4095, right = 0, bottom_right>,
  layout = #attn.layout<bshd>
}
