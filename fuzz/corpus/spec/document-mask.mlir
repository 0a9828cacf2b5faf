attn.kernel @document_mask attributes {
  q_heads = 16, kv_heads = 4, d_qk = 64, element_type = f32,
  mask = #attn.mask<custom>,
  inputs = [#attn.input<"doc", i32, [seq_kv]>]
} mask {
^bb0(%b: index, %h: index, %q: index, %k: index):
  %dq = attn.load @doc[%q] : i32
  %dk = attn.load @doc[%k] : i32
  %same = arith.cmpi eq, %dq, %dk : i32
  %causal = arith.cmpi ule, %k, %q : index
  %visible = arith.andi %same, %causal : i1
  attn.yield %visible : i1
}
