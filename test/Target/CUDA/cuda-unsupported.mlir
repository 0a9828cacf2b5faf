// RUN: attn-translate %s --attn-to-cuda --cuda-arch=sm_80 --split-input-file --verify-diagnostics

// expected-error@+1 {{the cuda backend needs element_type f16 or bf16, got 'f32'}}
attn.kernel @k attributes {q_heads = 4, d_qk = 64, element_type = f32}

// -----

// expected-error@+1 {{the cuda backend does not support kv_element_type different from element_type yet}}
attn.kernel @k attributes {q_heads = 4, d_qk = 64, element_type = f16, kv_element_type = bf16}

// -----

// expected-error@+1 {{the cuda backend needs head dims that are multiples of 8 up to 256, got d_qk = 20, d_v = 20}}
attn.kernel @k attributes {q_heads = 4, d_qk = 20, element_type = f16}

// -----

// expected-error@+1 {{the cuda backend needs head dims that are multiples of 8 up to 256, got d_qk = 64, d_v = 512}}
attn.kernel @k attributes {q_heads = 4, d_qk = 64, d_v = 512, element_type = f16}

// -----

// expected-error@+1 {{block_m (48) must be 16 x warps (4) for the cuda backend}}
attn.kernel @k attributes {q_heads = 4, d_qk = 64, element_type = f16, schedule = #attn.schedule<block_m = 48, warps = 4>}

// -----

// expected-error@+1 {{block_n (24) must be a multiple of 16 up to 256 for the cuda backend}}
attn.kernel @k attributes {q_heads = 4, d_qk = 64, element_type = f16, schedule = #attn.schedule<block_n = 24>}

// -----

// expected-error@+1 {{the schedule needs 304128 bytes of shared memory, more than the 166912 of sm_80; lower block_m, block_n or stages}}
attn.kernel @k attributes {q_heads = 4, d_qk = 256, element_type = f16, schedule = #attn.schedule<block_n = 64, stages = 4>}

// -----

// expected-error@+1 {{block_q (40) and block_kv (64) must be multiples of 16 for the cuda backend}}
attn.kernel @k attributes {q_heads = 4, d_qk = 64, element_type = f16, block_sparse = #attn.block_sparse<block_q = 40, block_kv = 64>}

// -----

// expected-error@+1 {{block_kv (48) must be a multiple of block_n (32) for the cuda backend}}
attn.kernel @k attributes {q_heads = 4, d_qk = 64, element_type = f16, block_sparse = #attn.block_sparse<block_q = 64, block_kv = 48>, schedule = #attn.schedule<block_n = 32>}

// -----

// expected-error@+1 {{block_q (32) must be a multiple of block_m (64) for the cuda backend}}
attn.kernel @k attributes {q_heads = 4, d_qk = 64, element_type = f16, block_sparse = #attn.block_sparse<block_q = 32, block_kv = 64>, schedule = #attn.schedule<warps = 4>}



// -----

// expected-error@+1 {{is variant linear: the cuda attention kernel computes softmax attention; linear attention has a kernel of its own (cuda::CudaLinear, runtime/cuda/CudaLinear.h)}}
attn.kernel @k attributes {q_heads = 4, d_qk = 64, element_type = f16, variant = #attn.variant<linear>}

// -----

// expected-error@+1 {{the cuda backend does not support the probs output with layout varlen yet}}
attn.kernel @k attributes {q_heads = 4, d_qk = 64, element_type = f16, probs = true, layout = #attn.layout<varlen>}
