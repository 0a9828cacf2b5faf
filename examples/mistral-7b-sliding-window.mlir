// One attention layer of a Mistral-7B-style model: 32 query heads, 8 kv
// heads, head dim 128, and a causal sliding window of 4096 tokens: query i
// sees keys i-4095 .. i (bottom-right aligned).
//
//   attnc run examples/mistral-7b-sliding-window.mlir --seq-q 256 --seq-kv 5000
attn.kernel @mistral_7b_swa attributes {
  q_heads = 32, kv_heads = 8, d_qk = 128, element_type = f32,
  mask = #attn.mask<sliding_window, left = 4095, right = 0, bottom_right>,
  layout = #attn.layout<bshd>
}
