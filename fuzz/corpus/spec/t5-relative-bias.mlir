attn.kernel @t5_relative_bias attributes {
  q_heads = 8, d_qk = 64, element_type = f32, scale = 1.0,
  score_mod = #attn.score_mod<custom>,
  inputs = [#attn.input<"bias", f32, [q_heads, any]>]
} score {
^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index):
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  // relative = k - q; keys after the query use buckets 16..31.
  %rel = arith.subi %k, %q : index
  %after = arith.cmpi sgt, %rel, %c0 : index
  %base = arith.select %after, %c16, %c0 : index
  %neg = arith.subi %c0, %rel : index
  %n = arith.maxsi %rel, %neg : index
  %small = arith.cmpi slt, %n, %c8 : index
  // One step at each threshold ceil(8 * 2^(j/2)), j = 1..7.
  %large0 = arith.addi %c8, %c0 : index
  %t0 = arith.constant 12 : index
  %ge0 = arith.cmpi sge, %n, %t0 : index
  %step0 = arith.select %ge0, %c1, %c0 : index
  %large1 = arith.addi %large0, %step0 : index
  %t1 = arith.constant 16 : index
  %ge1 = arith.cmpi sge, %n, %t1 : index
  %step1 = arith.select %ge1, %c1, %c0 : index
  %large2 = arith.addi %large1, %step1 : index
  %t2 = arith.constant 23 : index
  %ge2 = arith.cmpi sge, %n, %t2 : index
  %step2 = arith.select %ge2, %c1, %c0 : index
  %large3 = arith.addi %large2, %step2 : index
  %t3 = arith.constant 32 : index
  %ge3 = arith.cmpi sge, %n, %t3 : index
  %step3 = arith.select %ge3, %c1, %c0 : index
  %large4 = arith.addi %large3, %step3 : index
  %t4 = arith.constant 46 : index
  %ge4 = arith.cmpi sge, %n, %t4 : index
  %step4 = arith.select %ge4, %c1, %c0 : index
  %large5 = arith.addi %large4, %step4 : index
  %t5 = arith.constant 64 : index
  %ge5 = arith.cmpi sge, %n, %t5 : index
  %step5 = arith.select %ge5, %c1, %c0 : index
  %large6 = arith.addi %large5, %step5 : index
  %t6 = arith.constant 91 : index
  %ge6 = arith.cmpi sge, %n, %t6 : index
  %step6 = arith.select %ge6, %c1, %c0 : index
  %large7 = arith.addi %large6, %step6 : index
  %offset = arith.select %small, %n, %large7 : index
  %bucket = arith.addi %base, %offset : index
  %bias = attn.load @bias[%h, %bucket] : f32
  %r = arith.addf %s, %bias : f32
  attn.yield %r : f32
}
