// RUN: attn-opt %s --split-input-file --verify-diagnostics

// expected-error@+1 {{requires attribute 'q_heads'}}
attn.kernel @no_q_heads attributes {d_qk = 64, element_type = f32}

// -----

// A misspelt attribute is an error, never ignored.
// expected-error@+1 {{has no attribute 'sacle'; did you mean 'scale'?}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, sacle = 2.0}

// -----

// expected-error@+1 {{has no attribute 'frobnicate' (docs/dialect.md lists the attributes of attn.kernel)}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, frobnicate = 1}

// -----

// expected-error@+1 {{q_heads (0) must be positive}}
attn.kernel @k attributes {q_heads = 0, d_qk = 64, element_type = f32}

// -----

// expected-error@+1 {{kv_heads (0) must be positive}}
attn.kernel @k attributes {q_heads = 8, kv_heads = 0, d_qk = 64, element_type = f32}

// -----

// Fuzzing found 2^62 heads overflowing ALiBi's slope arithmetic.
// expected-error@+1 {{q_heads (65537) must be at most 65536}}
attn.kernel @k attributes {q_heads = 65537, kv_heads = 1, d_qk = 64, element_type = f32}

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

// expected-error@+1 {{kv_element_type must be f32, f16 or bf16, got 'f64'}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, kv_element_type = f64}

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

// expected-error@+1 {{'score' region must yield 'f32', got 'i1'}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, score_mod = #attn.score_mod<custom>} score {
^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index):
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

// expected-error@+1 {{unknown mask kind 'diagonal'; expected none, causal, sliding_window or custom}}
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

// expected-error@+1 {{sliding_window extents must be at most 2^40 (left = 1099511627777, right = 0)}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<sliding_window, left = 1099511627777, right = 0, bottom_right>}

// -----

// expected-error@+1 {{sliding_window mask requires both 'left' and 'right' extents}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<sliding_window, left = 4, bottom_right>}

// -----

// expected-error@+1 {{'left' and 'right' apply only to sliding_window masks, not causal}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<causal, left = 4, top_left>}

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

// expected-error@+1 {{unknown mask parameter 'width'; expected top_left, bottom_right, left or right}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<sliding_window, width = 4>}

// -----

//===----------------------------------------------------------------------===//
// #attn.schedule
//===----------------------------------------------------------------------===//

// expected-error@+1 {{unknown schedule key 'tile'; expected block_m, block_n, micro_m, micro_n, vector_width, threads, warps, stages, split_kv, dot or prefetch}}
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


// -----

// expected-error@+1 {{dot (8) must be 16 (bf16 products) or 32 (f32 products)}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = bf16, schedule = #attn.schedule<dot = 8>}

// -----

// expected-error@+1 {{prefetch (3) must be 1 (into L1) or 2 (into L2)}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mode = #attn.mode<decode>, schedule = #attn.schedule<prefetch = 3>}

// -----

//===----------------------------------------------------------------------===//
// Names, declared inputs and block sparsity
//===----------------------------------------------------------------------===//

// A kernel name becomes a symbol and part of a cache file name.
// expected-error@+1 {{kernel name '../x' must be an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64 characters)}}
attn.kernel @"../x" attributes {q_heads = 8, d_qk = 64, element_type = f32}

// -----

// expected-error@+1 {{input name 'a b' must be an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64 characters)}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, inputs = [#attn.input<"a b", i32, [seq_q]>]}

// -----

// expected-error@+1 {{input 'x' must have element type i32 or f32, got 'f16'}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, inputs = [#attn.input<"x", f16, [seq_q]>]}

// -----

// expected-error@+1 {{input 'x' has rank 5; at most 4 is supported}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, inputs = [#attn.input<"x", f32, [batch, batch, batch, batch, batch]>]}

// -----

// expected-error@+1 {{unknown input dimension 'rows'; expected batch, q_heads, kv_heads, seq_q, seq_kv or any}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, inputs = [#attn.input<"x", f32, [rows]>]}

// -----

// expected-error@+1 {{input 'x' is declared twice}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, inputs = [#attn.input<"x", f32, [seq_q]>, #attn.input<"x", i32, []>]}

// -----

// expected-error@+1 {{input name 'lse' is reserved for one of the kernel's own arguments}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, inputs = [#attn.input<"lse", f32, [seq_q]>]}

// -----

// expected-error@+1 {{declares 17 inputs; at most 16 are supported}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, inputs = [#attn.input<"a0", f32, []>, #attn.input<"a1", f32, []>, #attn.input<"a2", f32, []>, #attn.input<"a3", f32, []>, #attn.input<"a4", f32, []>, #attn.input<"a5", f32, []>, #attn.input<"a6", f32, []>, #attn.input<"a7", f32, []>, #attn.input<"a8", f32, []>, #attn.input<"a9", f32, []>, #attn.input<"b0", f32, []>, #attn.input<"b1", f32, []>, #attn.input<"b2", f32, []>, #attn.input<"b3", f32, []>, #attn.input<"b4", f32, []>, #attn.input<"b5", f32, []>, #attn.input<"b6", f32, []>]}

// -----

attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<custom>} mask {
^bb0(%b: index, %h: index, %q: index, %k: index):
  // expected-error@+1 {{'attn.load' op reads 'doc', which the kernel does not declare in 'inputs'}}
  %d = attn.load @doc[%k] : i32
  %z = arith.constant 0 : i32
  %c = arith.cmpi eq, %d, %z : i32
  attn.yield %c : i1
}

// -----

attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, mask = #attn.mask<custom>, inputs = [#attn.input<"doc", i32, [batch, seq_kv]>]} mask {
^bb0(%b: index, %h: index, %q: index, %k: index):
  // expected-error@+1 {{'attn.load' op of 'doc' has 1 index, but the input has rank 2}}
  %d = attn.load @doc[%k] : i32
  %z = arith.constant 0 : i32
  %c = arith.cmpi eq, %d, %z : i32
  attn.yield %c : i1
}

// -----

attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, score_mod = #attn.score_mod<custom>, inputs = [#attn.input<"doc", i32, [seq_kv]>]} score {
^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index):
  // expected-error@+1 {{'attn.load' op of 'doc' must return 'i32', the input's element type, not 'f32'}}
  %d = attn.load @doc[%k] : f32
  attn.yield %d : f32
}

// -----

attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, score_mod = #attn.score_mod<custom>} score {
^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index):
  // expected-error@+1 {{'memref.alloc' op has side effects; 'score' regions must be pure (arith, math, attn.load, attn.seq_len)}}
  %m = memref.alloc() : memref<1xf32>
  attn.yield %s : f32
}

// -----

attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, score_mod = #attn.score_mod<custom>} score {
^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index):
  // expected-error@+1 {{'vector.broadcast' op is not allowed in a 'score' region: it may hold pure arith and math ops, attn.load and attn.seq_len (docs/dialect.md lists them)}}
  %v = vector.broadcast %s : f32 to vector<4xf32>
  attn.yield %s : f32
}

// -----

attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, score_mod = #attn.score_mod<custom>} score {
^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index):
  // expected-error@+1 {{'arith.constant' op uses type 'f64'; 'score' regions compute on i1, i32, i64, index and f32}}
  %d = arith.constant 1.0 : f64
  attn.yield %s : f32
}

// -----

// expected-error@+1 {{block_sparse block sizes must be in [1, 1048576], got block_q = 0, block_kv = 64}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, block_sparse = #attn.block_sparse<block_q = 0, block_kv = 64>}

// -----

// expected-error@+1 {{block_sparse applies only to softmax attention}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, variant = #attn.variant<linear>, block_sparse = #attn.block_sparse<block_q = 64, block_kv = 64>}

// -----

// expected-error@+1 {{feature_map, normalize and eps apply only to linear attention}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, normalize = false}

// -----

// expected-error@+1 {{a custom feature_map requires a 'feature' region}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, variant = #attn.variant<linear>, feature_map = #attn.feature_map<custom>}

// -----

// expected-error@+1 {{a 'feature' region requires feature_map = #attn.feature_map<custom>}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, variant = #attn.variant<linear>} feature {
^bb0(%x: f32):
  attn.yield %x : f32
}

// -----

// expected-error@+1 {{'feature' region must take (x: f32)}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, variant = #attn.variant<linear>, feature_map = #attn.feature_map<custom>} feature {
^bb0(%x: f32, %d: index):
  attn.yield %x : f32
}

// -----

// expected-error@+4 {{is not allowed in a 'feature' region}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, variant = #attn.variant<linear>, feature_map = #attn.feature_map<custom>} feature {
^bb0(%x: f32):
  %c = arith.constant 2 : index
  %v = vector.broadcast %x : f32 to vector<4xf32>
  attn.yield %x : f32
}

// -----

// expected-error@+1 {{eps must be finite and > 0, got 0}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, variant = #attn.variant<linear>, eps = 0.0}

// -----

// expected-error@+1 {{eps (1e-50) must be a normal f32, in [1.17549e-38, 3.40282e+38]}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, variant = #attn.variant<linear>, eps = 1.0e-50}
