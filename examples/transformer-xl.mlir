// A Transformer-XL layer: the queries of a segment attend to [cached
// memory; segment] (seq_kv = memory + seq_q), causally and bottom-right
// aligned, so every query sees the whole memory and the segment up to
// itself. Positions are relative: each score gets r[h, q + (seq_kv - seq_q)
// - k], a learned bias per head and distance (Transformer-XL's
// position-only term; its query-dependent term is a second product with
// the relative embeddings and not a score modifier).
//
//   attnc run examples/transformer-xl.mlir --seq-q 128 --seq-kv 640 --input r=r.npy
//   (r.npy: float32 [heads, seq_kv]; random without --input)
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
