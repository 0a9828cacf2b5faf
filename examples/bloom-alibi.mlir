// One attention layer of a BLOOM-style model (MPT uses the same slopes):
// causal, and ALiBi instead of position embeddings. Head h of H adds
// -slope(h) * (distance from the query's diagonal) to its scores, with
// BLOOM's slopes 2^(-8 (h + 1) / H) for H a power of two (and BLOOM's
// interleaved extension otherwise). docs/dialect.md has the definition.
//
//   attnc run examples/bloom-alibi.mlir --seq-q 512
attn.kernel @bloom_alibi attributes {
  q_heads = 32, d_qk = 128, element_type = f32,
  mask = #attn.mask<causal, bottom_right>,
  score_mod = #attn.score_mod<alibi>
}
