attn.kernel @transformer_xl attributes {
  q_heads = 10, d_qk = 64, element_type = f32,
  mask = #attn.mask<causal, bottom_right>,
  score_mod = #attn.score_mod<custom>,
  inputs = [#attn.input<"r", f32, [q_heads, seq_kv]>]
} score {
^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index):
  %sq = attn.seq_len q
  %skv = attn.seq_len kv
  %memory = arith.subi %skv, %sq : index
  %pos = arith.addi %q, %memory : index
  %distance = arith.subi %pos, %k : index
  %bias = attn.load @r[%h, %distance] : f32
  %r = arith.addf %s, %bias : f32
  attn.yield %r : f32
}
