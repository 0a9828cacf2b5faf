// RUN: attn-opt %s --split-input-file --verify-diagnostics --attn-resolve-defaults --attn-select-cpu-schedule="vector-width=16 threads=1" --convert-attn-to-scf

// Block-sparse tiles must tile the sparse blocks.
// expected-error@+1 {{block_kv (40) must be a multiple of block_n (32) for the cpu backend}}
attn.kernel @k attributes {q_heads = 4, d_qk = 64, element_type = f32, block_sparse = #attn.block_sparse<block_q = 64, block_kv = 40>, schedule = #attn.schedule<block_n = 32, micro_n = 16, vector_width = 8>}

// -----

// expected-error@+1 {{is variant linear: the cpu backend compiles softmax attention; run linear attention with LinearKernel (runtime/Linear.h)}}
attn.kernel @k attributes {q_heads = 4, d_qk = 64, element_type = f32, variant = #attn.variant<linear>}

// -----

// expected-error@+1 {{the cpu backend does not support the probs output with layout paged yet}}
attn.kernel @k attributes {q_heads = 4, d_qk = 64, element_type = f32, probs = true, layout = #attn.layout<paged>}

// -----

// expected-error@+1 {{the cpu backend does not support the probs output with layout varlen yet}}
attn.kernel @k attributes {q_heads = 4, d_qk = 64, element_type = f32, probs = true, layout = #attn.layout<varlen>}

// -----

// expected-error@+1 {{has schedule dot = 16 (bf16 products), which needs element_type and kv_element_type bf16, got 'bf16' and 'f16'}}
attn.kernel @k attributes {q_heads = 4, d_qk = 64, element_type = bf16, kv_element_type = f16, schedule = #attn.schedule<dot = 16>}

// -----

// expected-error@+1 {{has schedule dot = 16 (bf16 products), which needs vector_width 16 (AVX-512), got 8}}
attn.kernel @k attributes {q_heads = 4, d_qk = 64, element_type = bf16, schedule = #attn.schedule<vector_width = 8, dot = 16>}

// -----

// A prefetch level is a property of the decode rows form; other kernels
// would silently ignore it.
// expected-error@+1 {{has schedule prefetch = 2, which applies only to decode kernels that take the rows form (mode decode, block_m <= 8), got mode prefill, block_m 64}}
attn.kernel @k attributes {q_heads = 4, d_qk = 64, element_type = f32, schedule = #attn.schedule<prefetch = 2>}

// -----

// expected-error@+1 {{has schedule prefetch = 1, which applies only to decode kernels that take the rows form (mode decode, block_m <= 8), got mode decode, block_m 16}}
attn.kernel @k attributes {q_heads = 16, kv_heads = 1, d_qk = 64, element_type = f32, mode = #attn.mode<decode>, schedule = #attn.schedule<prefetch = 1>}
