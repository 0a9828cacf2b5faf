// OpenAI's Sparse Transformer (Child et al., 2019), "fixed" pattern with
// stride l = 128 and c = 16 summary positions: query i sees key j <= i when
// j is in i's own 128-token block, or among the last 16 positions of any
// block. As a block-sparse kernel: attnc builds the block mask from this
// region (64 x 64 blocks: about a quarter are visited at 4k tokens), skips
// absent blocks, trusts full ones and evaluates the region only on partial
// blocks.
//
//   attnc run examples/sparse-transformer-fixed.mlir --seq-q 4096
attn.kernel @sparse_transformer_fixed attributes {
  q_heads = 8, d_qk = 64, element_type = f32,
  block_sparse = #attn.block_sparse<block_q = 64, block_kv = 64>,
  mask = #attn.mask<custom>
} mask {
^bb0(%b: index, %h: index, %q: index, %k: index):
  %stride = arith.constant 128 : index
  %summary = arith.constant 112 : index  // l - c
  %causal = arith.cmpi ule, %k, %q : index
  %qb = arith.divui %q, %stride : index
  %kb = arith.divui %k, %stride : index
  %same = arith.cmpi eq, %qb, %kb : index
  %col = arith.remui %k, %stride : index
  %tail = arith.cmpi uge, %col, %summary : index
  %either = arith.ori %same, %tail : i1
  %visible = arith.andi %causal, %either : i1
  attn.yield %visible : i1
}
