attn.kernel @k attributes {q_heads = 4, d_qk = 16, element_type = f32, mode = #attn.mode<decode>, mask = #attn.mask<custom>, inputs = [#attn.input<"len", i32, []>]} mask {
^bb0(%b: index, %h: index, %q: index, %k: index):
  %n = attn.load @len[] : i32
  %ki = arith.index_cast %k : index to i32
  %c = arith.cmpi slt, %ki, %n : i32
  attn.yield %c : i1
}
