attn.kernel @sparse_transformer_strided attributes {
  q_heads = 8, d_qk = 64, element_type = f32,
  block_sparse = #attn.block_sparse<block_q = 64, block_kv = 64>,
  mask = #attn.mask<custom>
} mask {
^bb0(%b: index, %h: index, %q: index, %k: index):
  %stride = arith.constant 256 : index
  %zero = arith.constant 0 : index
  %causal = arith.cmpi ule, %k, %q : index
  %back = arith.subi %q, %k : index
  %local = arith.cmpi ult, %back, %stride : index
  %phase = arith.remui %back, %stride : index
  %strided = arith.cmpi eq, %phase, %zero : index
  %either = arith.ori %local, %strided : i1
  %visible = arith.andi %causal, %either : i1
  attn.yield %visible : i1
}
