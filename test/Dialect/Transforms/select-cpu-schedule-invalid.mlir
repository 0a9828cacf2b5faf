// RUN: attn-opt %s --split-input-file --verify-diagnostics --attn-select-cpu-schedule="vector-width=16 threads=2"

// expected-error@+1 {{block_n (20) must be a multiple of vector_width (16) for the cpu backend}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, schedule = #attn.schedule<block_n = 20>}

// -----

// The completed schedule is verified like a written one.
// expected-error@+1 {{block_m (20) must be a multiple of micro_m (8)}}
attn.kernel @k attributes {q_heads = 8, d_qk = 64, element_type = f32, schedule = #attn.schedule<block_m = 20, micro_m = 8>}
