// RUN: attn-opt %s --verify-diagnostics --convert-attn-to-scf

// expected-error@+1 {{has no complete cpu schedule; run attn-select-cpu-schedule first}}
attn.kernel @k attributes {q_heads = 4, d_qk = 64, element_type = f32, schedule = #attn.schedule<block_m = 64>}
