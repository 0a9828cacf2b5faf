// One attention layer of a Llama-3-8B-style model: 32 query heads sharing
// 8 key/value heads (GQA, 4 queries per kv head), head dim 128, causal with
// the diagonal at the bottom right, so that a chunk of new queries attends
// to the whole cache before it (seq_kv >= seq_q).
//
//   attnc run examples/llama3-8b-gqa.mlir --seq-q 512 --seq-kv 512
attn.kernel @llama3_8b_gqa attributes {
  q_heads = 32, kv_heads = 8, d_qk = 128, element_type = f32,
  mask = #attn.mask<causal, bottom_right>,
  layout = #attn.layout<bshd>,
  lse = true
}
