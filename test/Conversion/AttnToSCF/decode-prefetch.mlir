// RUN: attn-opt %s --split-input-file --attn-resolve-defaults --attn-select-cpu-schedule="vector-width=16 threads=1 l1d-bytes=32768" --convert-attn-to-scf | FileCheck %s --check-prefix=L1D32
// RUN: attn-opt %s --split-input-file --attn-resolve-defaults --attn-select-cpu-schedule="vector-width=16 threads=1 l1d-bytes=49152" --convert-attn-to-scf | FileCheck %s --check-prefix=L1D48
// RUN: attn-opt %s --split-input-file --attn-resolve-defaults --attn-select-cpu-schedule="vector-width=16 threads=1 l1d-bytes=32768" | FileCheck %s --check-prefix=SCHED

// The rows form's prefetches (this tile's V rows from the scores loop, the
// next tile's K rows from the P V passes) fill L2 (locality 1, prefetcht2)
// on a host whose L1d is under 48 KiB, and L1 (locality 3, prefetcht0) on
// one of 48 KiB or more.
// SCHED-LABEL: attn.kernel @gqa
// SCHED-SAME: prefetch = 2
// L1D32-LABEL: func.func @gqa(
// L1D32-SAME: %{{[a-z0-9]+}}: memref<{{[^%]+}}>, %[[K:[a-z0-9]+]]: memref<{{[^%]+}}>, %[[V:[a-z0-9]+]]: memref<{{[^%]+}}>, %{{[a-z0-9]+}}: memref
// L1D32-NOT: locality<3>
// L1D32-DAG: memref.prefetch %[[V]]{{.+}} read, locality<1>, data
// L1D32-DAG: memref.prefetch %[[K]]{{.+}} read, locality<1>, data
// L1D32-NOT: locality<3>
// L1D32: return
// L1D48-LABEL: func.func @gqa(
// L1D48-SAME: %{{[a-z0-9]+}}: memref<{{[^%]+}}>, %[[K:[a-z0-9]+]]: memref<{{[^%]+}}>, %[[V:[a-z0-9]+]]: memref<{{[^%]+}}>, %{{[a-z0-9]+}}: memref
// L1D48-NOT: locality<1>
// L1D48-DAG: memref.prefetch %[[V]]{{.+}} read, locality<3>, data
// L1D48-DAG: memref.prefetch %[[K]]{{.+}} read, locality<3>, data
// L1D48-NOT: locality<1>
// L1D48: return
attn.kernel @gqa attributes {q_heads = 32, kv_heads = 8, d_qk = 128, element_type = f32, mode = #attn.mode<decode>}

// -----

// A schedule that says prefetch = 1 keeps L1 prefetches on any host.
// SCHED-LABEL: attn.kernel @gqa_l1
// SCHED-SAME: prefetch = 1
// L1D32-LABEL: func.func @gqa_l1(
// L1D32-NOT: locality<1>
// L1D32: memref.prefetch {{.+}} read, locality<3>, data
// L1D32-NOT: locality<1>
// L1D32: return
attn.kernel @gqa_l1 attributes {q_heads = 32, kv_heads = 8, d_qk = 128, element_type = f32, mode = #attn.mode<decode>, schedule = #attn.schedule<prefetch = 1>}

// -----

// Kernels that do not take the rows form (MQA decode tiles of 32 rows,
// prefill) get no prefetch level, and their prefetches stay in L1.
// SCHED-LABEL: attn.kernel @mqa
// SCHED-NOT: prefetch =
// L1D32-LABEL: func.func @mqa(
// L1D32-NOT: locality<1>
// L1D32: memref.prefetch {{.+}} read, locality<3>, data
// L1D32-NOT: locality<1>
// L1D32: return
attn.kernel @mqa attributes {q_heads = 32, kv_heads = 1, d_qk = 128, element_type = f32, mode = #attn.mode<decode>}

// -----

// SCHED-LABEL: attn.kernel @prefill
// SCHED-NOT: prefetch =
// L1D32-LABEL: func.func @prefill(
// L1D32-NOT: locality<1>
// L1D32: return
attn.kernel @prefill attributes {q_heads = 32, kv_heads = 8, d_qk = 128, element_type = f32}
