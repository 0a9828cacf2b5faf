// RUN: attn-opt %s --attn-select-cpu-schedule="vector-width=16 threads=2" | FileCheck %s --check-prefix=AVX512
// RUN: attn-opt %s --attn-select-cpu-schedule="vector-width=8 threads=1" | FileCheck %s --check-prefix=AVX2

// Prefill: 128 keys a tile, whatever the head dim (K^T tiles come from the
// per-thread cache, not from L1).
// AVX512-LABEL: attn.kernel @d128
// AVX512-SAME: schedule = #attn.schedule<block_m = 64, block_n = 128, micro_m = 8, micro_n = 32, vector_width = 16, threads = 2>
// AVX2-LABEL: attn.kernel @d128
// AVX2-SAME: schedule = #attn.schedule<block_m = 64, block_n = 128, micro_m = 4, micro_n = 16, vector_width = 8, threads = 1>
attn.kernel @d128 attributes {q_heads = 8, d_qk = 128, element_type = f32}

// AVX512-LABEL: attn.kernel @d64
// AVX512-SAME: block_n = 128
attn.kernel @d64 attributes {q_heads = 8, d_qk = 64, element_type = f32}

// AVX512-LABEL: attn.kernel @d256
// AVX512-SAME: block_n = 128
attn.kernel @d256 attributes {q_heads = 8, d_qk = 256, element_type = f32}

// Decode: a tile is one query row of each head of a GQA group, so the
// group shares its K/V tiles; MHA decodes one row at a time. Tiles of up to
// 8 rows take the rows form: a tile's K and V rows stay within 32 KiB
// (block_n x (d_qk + d_v) x the cache's element size), 32 keys of f32 and
// 64 of f16/bf16 at d 128 (never under micro_n keys: d 256 f32 gets 32).
// Larger groups pack a K tile on the stack, kept within 32 KiB (d_qk x
// block_n f32).
// AVX512-LABEL: attn.kernel @decode_gqa
// AVX512-SAME: schedule = #attn.schedule<block_m = 4, block_n = 32, micro_m = 4,
// AVX2-LABEL: attn.kernel @decode_gqa
// AVX2-SAME: schedule = #attn.schedule<block_m = 4, block_n = 32, micro_m = 4,
attn.kernel @decode_gqa attributes {q_heads = 32, kv_heads = 8, d_qk = 128, element_type = f32, mode = #attn.mode<decode>}
// AVX512-LABEL: attn.kernel @decode_gqa_f16
// AVX512-SAME: schedule = #attn.schedule<block_m = 4, block_n = 64, micro_m = 4,
// AVX2-LABEL: attn.kernel @decode_gqa_f16
// AVX2-SAME: schedule = #attn.schedule<block_m = 4, block_n = 64, micro_m = 4,
attn.kernel @decode_gqa_f16 attributes {q_heads = 32, kv_heads = 8, d_qk = 128, element_type = f32, kv_element_type = f16, mode = #attn.mode<decode>}
// AVX512-LABEL: attn.kernel @decode_d64_bf16
// AVX512-SAME: block_n = 128
attn.kernel @decode_d64_bf16 attributes {q_heads = 32, kv_heads = 8, d_qk = 64, element_type = bf16, mode = #attn.mode<decode>}
// AVX512-LABEL: attn.kernel @decode_mha
// AVX512-SAME: schedule = #attn.schedule<block_m = 1, block_n = 32, micro_m = 1,
attn.kernel @decode_mha attributes {q_heads = 8, d_qk = 128, element_type = f32, mode = #attn.mode<decode>}
// AVX512-LABEL: attn.kernel @decode_group6
// AVX512-SAME: schedule = #attn.schedule<block_m = 6, block_n = 32, micro_m = 6,
attn.kernel @decode_group6 attributes {q_heads = 12, kv_heads = 2, d_qk = 128, element_type = f32, mode = #attn.mode<decode>}
// AVX512-LABEL: attn.kernel @decode_mqa
// AVX512-SAME: schedule = #attn.schedule<block_m = 32, block_n = 64, micro_m = 8,
attn.kernel @decode_mqa attributes {q_heads = 32, kv_heads = 1, d_qk = 128, element_type = f32, kv_element_type = f16, mode = #attn.mode<decode>}
// AVX512-LABEL: attn.kernel @decode_d256
// AVX512-SAME: block_n = 32
attn.kernel @decode_d256 attributes {q_heads = 8, d_qk = 256, element_type = f32, mode = #attn.mode<decode>}

// Fields the user set are kept; the rest are made to fit them.
// AVX512-LABEL: attn.kernel @user_block_m
// AVX512-SAME: schedule = #attn.schedule<block_m = 60, block_n = 128, micro_m = 6, micro_n = 32, vector_width = 16, threads = 7>
attn.kernel @user_block_m attributes {q_heads = 8, d_qk = 128, element_type = f32, schedule = #attn.schedule<block_m = 60, threads = 7>}

// AVX512-LABEL: attn.kernel @user_block_n
// AVX512-SAME: block_n = 16, micro_m = 8, micro_n = 16
attn.kernel @user_block_n attributes {q_heads = 8, d_qk = 128, element_type = f32, schedule = #attn.schedule<block_n = 16>}

// GPU fields pass through untouched.
// AVX512-LABEL: attn.kernel @gpu_fields
// AVX512-SAME: warps = 4, stages = 2
attn.kernel @gpu_fields attributes {q_heads = 8, d_qk = 128, element_type = f32, schedule = #attn.schedule<warps = 4, stages = 2>}
