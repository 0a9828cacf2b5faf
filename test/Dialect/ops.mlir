// RUN: attn-opt %s | FileCheck %s
// RUN: attn-opt %s | attn-opt | FileCheck %s
// RUN: attn-opt %s --mlir-print-op-generic | attn-opt | FileCheck %s

// CHECK-LABEL: attn.kernel @minimal
// CHECK-SAME: d_qk = 64 : i64
// CHECK-SAME: element_type = f32
// CHECK-SAME: q_heads = 8 : i64
attn.kernel @minimal attributes {q_heads = 8, d_qk = 64, element_type = f32}

// CHECK-LABEL: attn.kernel @everything
// CHECK-SAME: accum_type = f32
// CHECK-SAME: d_qk = 192 : i64, d_v = 128 : i64
// CHECK-SAME: element_type = bf16
// CHECK-SAME: kv_heads = 1 : i64
// CHECK-SAME: layout = #attn.layout<bhsd>
// CHECK-SAME: lse = true
// CHECK-SAME: mask = #attn.mask<sliding_window, left = 128, right = 4, top_left>
// CHECK-SAME: mode = #attn.mode<decode>
// CHECK-SAME: probs = false
// CHECK-SAME: scale = 1.250000e-01 : f64
// CHECK-SAME: schedule = #attn.schedule<block_m = 16, block_n = 64, micro_m = 4, micro_n = 32, vector_width = 16, threads = 4, warps = 4, stages = 2, split_kv = 8, dot = 32, prefetch = 1>
// CHECK-SAME: score_mod = #attn.score_mod<alibi>
// CHECK-SAME: softcap = 3.000000e+01 : f64
// CHECK-SAME: variant = #attn.variant<softmax>
attn.kernel @everything attributes {
  q_heads = 16, kv_heads = 1, d_qk = 192, d_v = 128,
  element_type = bf16, accum_type = f32, scale = 0.125, softcap = 30.0,
  mask = #attn.mask<sliding_window, top_left, right = 4, left = 128>,
  score_mod = #attn.score_mod<alibi>, layout = #attn.layout<bhsd>,
  mode = #attn.mode<decode>, variant = #attn.variant<softmax>,
  lse = true, probs = false,
  schedule = #attn.schedule<split_kv = 8, block_m = 16, block_n = 64, micro_m = 4,
                            micro_n = 32, vector_width = 16, threads = 4,
                            prefetch = 1, warps = 4, stages = 2, dot = 32>
}

// CHECK-LABEL: attn.kernel @causal_bottom_right
// CHECK-SAME: mask = #attn.mask<causal, bottom_right>
attn.kernel @causal_bottom_right attributes {q_heads = 32, kv_heads = 8, d_qk = 128, element_type = f16, mask = #attn.mask<causal, bottom_right>}

// CHECK-LABEL: attn.kernel @block_sparse
// CHECK-SAME: block_sparse = #attn.block_sparse<block_q = 128, block_kv = 64>
// CHECK-SAME: mask = #attn.mask<causal, bottom_right>
attn.kernel @block_sparse attributes {q_heads = 4, d_qk = 64, element_type = f16, block_sparse = #attn.block_sparse<block_q = 128, block_kv = 64>, mask = #attn.mask<causal, bottom_right>}

// CHECK-LABEL: attn.kernel @linear
// CHECK-SAME: variant = #attn.variant<linear>
attn.kernel @linear attributes {q_heads = 4, d_qk = 64, element_type = f32, variant = #attn.variant<linear>, mask = #attn.mask<causal, top_left>}

// A custom feature map: softplus, log(1 + e^x).
// CHECK-LABEL: attn.kernel @softplus_features
// CHECK-SAME: feature_map = #attn.feature_map<custom>
// CHECK: feature {
// CHECK: math.log1p
// CHECK: attn.yield
attn.kernel @softplus_features attributes {q_heads = 4, d_qk = 64, element_type = f32, variant = #attn.variant<linear>, feature_map = #attn.feature_map<custom>} feature {
^bb0(%x: f32):
  %e = math.exp %x : f32
  %y = math.log1p %e : f32
  attn.yield %y : f32
}

// CHECK-LABEL: attn.kernel @custom_mask
// CHECK-SAME: mask = #attn.mask<custom>
// CHECK: mask {
// CHECK: ^bb0(%[[B:.*]]: index, %[[H:.*]]: index, %[[Q:.*]]: index, %[[K:.*]]: index):
// CHECK:   %[[C:.*]] = arith.cmpi ule, %[[K]], %[[Q]] : index
// CHECK:   attn.yield %[[C]] : i1
attn.kernel @custom_mask attributes {q_heads = 4, d_qk = 64, element_type = f32, mask = #attn.mask<custom>} mask {
^bb0(%b: index, %h: index, %q: index, %k: index):
  %c = arith.cmpi ule, %k, %q : index
  attn.yield %c : i1
}

// CHECK-LABEL: attn.kernel @custom_score
// CHECK-SAME: score_mod = #attn.score_mod<custom>
// CHECK: score {
// CHECK: ^bb0(%[[S:.*]]: f32, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index):
// CHECK:   attn.yield %{{.*}} : f32
attn.kernel @custom_score attributes {q_heads = 4, d_qk = 64, element_type = f32, score_mod = #attn.score_mod<custom>} score {
^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index):
  %half = arith.constant 0.5 : f32
  %r = arith.mulf %s, %half : f32
  attn.yield %r : f32
}

// Declared inputs, read with attn.load; attn.seq_len gives the lengths.
// CHECK-LABEL: attn.kernel @inputs
// CHECK-SAME: inputs = [#attn.input<"doc", i32, [batch, seq_kv]>, #attn.input<"bias", f32, [q_heads, any]>, #attn.input<"offset", i32, []>]
// CHECK: attn.load @doc[%{{.*}}, %{{.*}}] : i32
// CHECK: attn.seq_len kv
// CHECK: attn.load @bias[%{{.*}}, %{{.*}}] : f32
// CHECK: attn.load @offset[] : i32
attn.kernel @inputs attributes {q_heads = 4, d_qk = 64, element_type = f32,
    mask = #attn.mask<custom>, score_mod = #attn.score_mod<custom>,
    inputs = [#attn.input<"doc", i32, [batch, seq_kv]>,
              #attn.input<"bias", f32, [q_heads, any]>,
              #attn.input<"offset", i32, []>]} mask {
^bb0(%b: index, %h: index, %q: index, %k: index):
  %d = attn.load @doc[%b, %k] : i32
  %n = attn.seq_len kv
  %zero = arith.constant 0 : i32
  %c = arith.cmpi sge, %d, %zero : i32
  attn.yield %c : i1
} score {
^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index):
  %rel = arith.subi %k, %q : index
  %t = attn.load @bias[%h, %rel] : f32
  %o = attn.load @offset[] : i32
  %r = arith.addf %s, %t : f32
  attn.yield %r : f32
}
