// RUN: attn-opt %s --attn-resolve-defaults | FileCheck %s
// Running the pass twice changes nothing:
// RUN: attn-opt %s --attn-resolve-defaults > %t.once
// RUN: attn-opt %t.once --attn-resolve-defaults > %t.twice
// RUN: diff %t.once %t.twice

// CHECK-LABEL: attn.kernel @minimal
// CHECK-SAME: accum_type = f32
// CHECK-SAME: d_qk = 64 : i64
// CHECK-SAME: d_v = 64 : i64
// CHECK-SAME: element_type = f32
// CHECK-NOT: eps
// CHECK-NOT: feature_map
// CHECK-SAME: kv_element_type = f32
// CHECK-SAME: kv_heads = 8 : i64
// CHECK-SAME: layout = #attn.layout<bshd>
// CHECK-SAME: lse = false
// CHECK-SAME: mask = #attn.mask<none>
// CHECK-SAME: mode = #attn.mode<prefill>
// CHECK-NOT: normalize
// CHECK-SAME: probs = false
// CHECK-SAME: q_heads = 8 : i64
// CHECK-SAME: scale = 1.250000e-01 : f64
// CHECK-SAME: score_mod = #attn.score_mod<none>
// CHECK-SAME: softcap = 0.000000e+00 : f64
// CHECK-SAME: variant = #attn.variant<softmax>
// CHECK-NOT: schedule
attn.kernel @minimal attributes {q_heads = 8, d_qk = 64, element_type = f32}

// Explicit choices are kept.
// CHECK-LABEL: attn.kernel @explicit
// CHECK-SAME: d_qk = 128 : i64
// CHECK-SAME: d_v = 64 : i64
// CHECK-SAME: kv_heads = 2 : i64
// CHECK-SAME: layout = #attn.layout<bhsd>
// CHECK-SAME: lse = true
// CHECK-SAME: mask = #attn.mask<causal, bottom_right>
// CHECK-SAME: scale = 5.000000e-01 : f64
// CHECK-SAME: schedule = #attn.schedule<block_m = 32>
// CHECK-SAME: softcap = 3.000000e+01 : f64
attn.kernel @explicit attributes {q_heads = 8, kv_heads = 2, d_qk = 128, d_v = 64, element_type = f32, scale = 0.5, softcap = 30.0, mask = #attn.mask<causal, bottom_right>, layout = #attn.layout<bhsd>, lse = true, schedule = #attn.schedule<block_m = 32>}

// K and V follow element_type unless kv_element_type is given.
// CHECK-LABEL: attn.kernel @half
// CHECK-SAME: element_type = bf16
// CHECK-SAME: kv_element_type = bf16
attn.kernel @half attributes {q_heads = 4, d_qk = 32, element_type = bf16}
// CHECK-LABEL: attn.kernel @mixed
// CHECK-SAME: element_type = f32
// CHECK-SAME: kv_element_type = f16
attn.kernel @mixed attributes {q_heads = 4, d_qk = 32, element_type = f32, kv_element_type = f16}

// Linear attention gets its feature map, normalisation and floor; softmax
// kernels (above) get none of them.
// CHECK-LABEL: attn.kernel @linear
// CHECK-SAME: eps = 9.9999999999999995E-7 : f64
// CHECK-SAME: feature_map = #attn.feature_map<elu1>
// CHECK-SAME: normalize = true
// CHECK-SAME: variant = #attn.variant<linear>
attn.kernel @linear attributes {q_heads = 2, d_qk = 16, element_type = f32, variant = #attn.variant<linear>}
