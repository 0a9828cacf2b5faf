// The most arguments a kernel can take: q, k, v, o, lse, a block mask and
// 16 declared inputs (the last one read by the mask).
attn.kernel @many attributes {q_heads = 2, d_qk = 8, element_type = f32, lse = true, mask = #attn.mask<custom>, block_sparse = #attn.block_sparse<block_q = 32, block_kv = 32>, inputs = [#attn.input<"in0", f32, [q_heads]>, #attn.input<"in1", f32, [q_heads]>, #attn.input<"in2", f32, [q_heads]>, #attn.input<"in3", f32, [q_heads]>, #attn.input<"in4", f32, [q_heads]>, #attn.input<"in5", f32, [q_heads]>, #attn.input<"in6", f32, [q_heads]>, #attn.input<"in7", f32, [q_heads]>, #attn.input<"in8", f32, [q_heads]>, #attn.input<"in9", f32, [q_heads]>, #attn.input<"in10", f32, [q_heads]>, #attn.input<"in11", f32, [q_heads]>, #attn.input<"in12", f32, [q_heads]>, #attn.input<"in13", f32, [q_heads]>, #attn.input<"in14", f32, [q_heads]>, #attn.input<"in15", f32, [q_heads]>]} mask {
^bb0(%b: index, %h: index, %q: index, %k: index):
  %x = attn.load @in15[%h] : f32
  %z = arith.constant 0.0 : f32
  %c = arith.cmpf oge, %x, %z : f32
  %d = arith.cmpi ule, %k, %q : index
  %v = arith.ori %c, %d : i1
  attn.yield %v : i1
}
