// A score region reading a [seq_q, seq_kv] bias: its random stand-in grows
// with both lengths.
attn.kernel @pair_bias attributes {
  q_heads = 1, d_qk = 8, element_type = f32,
  score_mod = #attn.score_mod<custom>,
  inputs = [#attn.input<"bias", f32, [seq_q, seq_kv]>]
} score {
^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index):
  %t = attn.load @bias[%q, %k] : f32
  %r = arith.addf %s, %t : f32
  attn.yield %r : f32
}
