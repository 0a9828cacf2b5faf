// RUN: attn-opt %s --split-input-file --verify-diagnostics

// expected-error@+1 {{requires attribute 'q_heads'}}
attn.kernel @no_q_heads attributes {d_qk = 64, element_type = f32}

// -----

// expected-error@+1 {{q_heads (0) must be positive}}
attn.kernel @k attributes {q_heads = 0, d_qk = 64, element_type = f32}

// -----

// expected-error@+1 {{kv_heads (0) must be positive}}
attn.kernel @k attributes {q_heads = 8, kv_heads = 0, d_qk = 64, element_type = f32}

// -----

// expected-error@+1 {{kv_heads (3) must divide q_heads (32)}}
attn.kernel @k attributes {q_heads = 32, kv_heads = 3, d_qk = 64, element_type = f32}

// -----

// expected-error@+1 {{d_qk (0) must be in [1, 512]}}
attn.kernel @k attributes {q_heads = 8, d_qk = 0, element_type = f32}

// -----

// expected-error@+1 {{d_qk (1024) must be in [1, 512]}}
attn.kernel @k attributes {q_heads = 8, d_qk = 1024, element_type = f32}

// -----

// expected-error@+1 {{d_v (513) must be in [1, 512]}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, d_v = 513, element_type = f32}

// -----

// expected-error@+1 {{element_type must be f32, f16 or bf16, got 'i32'}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = i32}

// -----

// expected-error@+1 {{accum_type must be f32, got 'f16'}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f16, accum_type = f16}

// -----

// expected-error@+1 {{scale (-1) must be finite and positive}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, scale = -1.0}

// -----

// expected-error@+1 {{softcap (-2) must be finite and >= 0 (0 disables it)}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, softcap = -2.0}

// -----

// expected-error@+1 {{a custom mask requires a 'mask' region}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<custom>}

// -----

// expected-error@+1 {{a 'mask' region requires mask = #attn.mask<custom>}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32} mask {
^bb0(%b: index, %h: index, %q: index, %k: index):
  %t = arith.constant true
  attn.yield %t : i1
}

// -----

// expected-error@+1 {{a custom score_mod requires a 'score' region}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, score_mod = #attn.score_mod<custom>}

// -----

// expected-error@+1 {{a 'score' region requires score_mod = #attn.score_mod<custom>}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32} score {
^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index):
  attn.yield %s : f32
}

// -----

// expected-error@+1 {{'mask' region must take (b, h, q, k) as four index arguments}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<custom>} mask {
^bb0(%q: index, %k: index):
  %t = arith.constant true
  attn.yield %t : i1
}

// -----

// expected-error@+1 {{'mask' region must yield 'i1', got 'f32'}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<custom>} mask {
^bb0(%b: index, %h: index, %q: index, %k: index):
  %x = arith.constant 1.0 : f32
  attn.yield %x : f32
}

// -----

// expected-error@+1 {{'mask' region must end in attn.yield}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<custom>} mask {
^bb0(%b: index, %h: index, %q: index, %k: index):
  llvm.unreachable
}

// -----

// expected-error@+1 {{'score' region must take (score: f32, b, h, q, k: index)}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, score_mod = #attn.score_mod<custom>} score {
^bb0(%s: f16, %b: index, %h: index, %q: index, %k: index):
  attn.yield %s : f16
}

// -----

func.func @yield_outside() {
  %t = arith.constant true
  // expected-error@+1 {{expects parent op 'attn.kernel'}}
  attn.yield %t : i1
}

// -----

// expected-error@+1 {{linear attention supports mask none or causal, not sliding_window}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, variant = #attn.variant<linear>, mask = #attn.mask<sliding_window, left = 4, right = 0, top_left>}

// -----

// expected-error@+1 {{softcap applies only to softmax attention}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, variant = #attn.variant<linear>, softcap = 30.0}

// -----

// expected-error@+1 {{score_mod applies only to softmax attention}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, variant = #attn.variant<linear>, score_mod = #attn.score_mod<alibi>}

// -----

// expected-error@+1 {{lse and probs outputs exist only for softmax attention}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, variant = #attn.variant<linear>, lse = true}

// -----

//===----------------------------------------------------------------------===//
// #attn.mask
//===----------------------------------------------------------------------===//

// expected-error@+1 {{unknown mask kind 'diagonal'; expected none, causal, sliding_window, block_sparse or custom}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<diagonal>}

// -----

// expected-error@+1 {{causal mask requires an explicit alignment: top_left or bottom_right}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<causal>}

// -----

// expected-error@+1 {{sliding_window mask requires an explicit alignment: top_left or bottom_right}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<sliding_window, left = 4, right = 0>}

// -----

// expected-error@+1 {{alignment applies only to causal and sliding_window masks, not none}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<none, top_left>}

// -----

// expected-error@+1 {{sliding_window mask requires both 'left' and 'right' extents}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<sliding_window, left = 4, bottom_right>}

// -----

// expected-error@+1 {{'left' and 'right' apply only to sliding_window masks, not causal}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<causal, left = 4, top_left>}

// -----

// expected-error@+1 {{block_sparse mask requires positive 'block_q' and 'block_kv' (got 64, -1)}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<block_sparse, block_q = 64>}

// -----

// expected-error@+1 {{'block_q' and 'block_kv' apply only to block_sparse masks, not causal}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<causal, block_q = 64, top_left>}

// -----

// expected-error@+1 {{mask parameter 'left' must be >= 0, got -3}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<sliding_window, left = -3, right = 0, top_left>}

// -----

// expected-error@+1 {{mask alignment given twice}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<causal, top_left, bottom_right>}

// -----

// expected-error@+1 {{mask parameter 'left' given twice}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<sliding_window, left = 1, left = 2, right = 0, top_left>}

// -----

// expected-error@+1 {{unknown mask parameter 'width'; expected top_left, bottom_right, left, right, block_q or block_kv}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<sliding_window, width = 4>}

// -----

//===----------------------------------------------------------------------===//
// #attn.schedule
//===----------------------------------------------------------------------===//

// expected-error@+1 {{unknown schedule key 'tile'; expected block_m, block_n, micro_m, micro_n, vector_width, threads, warps, stages or split_kv}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, schedule = #attn.schedule<tile = 4>}

// -----

// expected-error@+1 {{schedule key 'block_m' given twice}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, schedule = #attn.schedule<block_m = 4, block_m = 8>}

// -----

// expected-error@+1 {{schedule 'threads' (-1) must be >= 0 (0 means unset)}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, schedule = #attn.schedule<threads = -1>}

// -----

// expected-error@+1 {{block_m (2048) and block_n (0) must be at most 1024}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, schedule = #attn.schedule<block_m = 2048>}

// -----

// expected-error@+1 {{vector_width (7) must be 4, 8 or 16}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, schedule = #attn.schedule<vector_width = 7>}

// -----

// expected-error@+1 {{micro_m (32) must be at most 16}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, schedule = #attn.schedule<micro_m = 32>}

// -----

// expected-error@+1 {{block_m (60) must be a multiple of micro_m (8)}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, schedule = #attn.schedule<block_m = 60, micro_m = 8>}

// -----

// expected-error@+1 {{micro_n (24) must be a multiple of vector_width (16)}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, schedule = #attn.schedule<micro_n = 24, vector_width = 16>}

// -----

// expected-error@+1 {{micro_n (144) must be at most 8 vectors of vector_width (16)}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, schedule = #attn.schedule<micro_n = 144, vector_width = 16>}

// -----

// expected-error@+1 {{block_n (48) must be a multiple of micro_n (32)}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, schedule = #attn.schedule<block_n = 48, micro_n = 32>}

// -----

// expected-error@+1 {{warps (3) must be a power of two no greater than 16}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, schedule = #attn.schedule<warps = 3>}

// -----

// expected-error@+1 {{stages (9) must be at most 8}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, schedule = #attn.schedule<stages = 9>}
