// RUN: attn-opt %s --split-input-file --attn-resolve-defaults --attn-select-cpu-schedule="vector-width=16 threads=1 bf16-dot=1" | FileCheck %s --check-prefix=SCHED
// RUN: attn-opt %s --split-input-file --attn-resolve-defaults --attn-select-cpu-schedule="vector-width=16 threads=1 bf16-dot=0" | FileCheck %s --check-prefix=NODOT
// RUN: attn-opt %s --split-input-file --attn-resolve-defaults --attn-select-cpu-schedule="vector-width=8 threads=1 bf16-dot=1" | FileCheck %s --check-prefix=NODOT
// RUN: attn-opt %s --split-input-file --attn-resolve-defaults --attn-select-cpu-schedule="vector-width=16 threads=1 bf16-dot=1" --convert-attn-to-scf | FileCheck %s
// RUN: attn-opt %s --split-input-file --attn-resolve-defaults --attn-select-cpu-schedule="vector-width=16 threads=1 bf16-dot=1" --convert-attn-to-scf | FileCheck %s --check-prefix=NOEXT
// RUN: attn-opt %s --split-input-file --attn-lower-to-cpu-pipeline="vector-width=16 threads=1 bf16-dot=1" | FileCheck %s --check-prefix=LLVM

// The K^T cache is 20 words (pairs) of 40 dims by 128 keys.
// bf16 products: on a target that multiplies bf16 pairs fast, a kernel whose
// Q, K and V are all bf16 gets dot = 16 (not with 8 lanes, nor on other
// targets). Its tiles hold bf16 pairs in f32 words: Q and K rows are loaded
// 32 bf16 at a time (the 40-wide head dim's tail masked) and moved as 16
// words; V's key rows are interleaved in pairs; P is rounded to bf16 pairs;
// both products are vdpbf16ps.
// SCHED-LABEL: attn.kernel @bf16_dot
// SCHED-SAME: vector_width = 16, threads = 1, dot = 16>
// NODOT-LABEL: attn.kernel @bf16_dot
// NODOT-NOT: dot =
// CHECK-LABEL: func.func @bf16_dot(
// CHECK-SAME: memref<?x20x128xf32>
// CHECK: vector.maskedload {{.*}} : memref<?x4x?x40xbf16, {{.*}}>, vector<32xi1>, vector<32xbf16> into vector<32xbf16>
// CHECK: vector.bitcast {{.*}} : vector<32xbf16> to vector<16xf32>
// CHECK: vector.shuffle {{.*}} [0, 16, 1, 17, {{.*}}, 15, 31] : vector<16xbf16>, vector<16xbf16>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512bf16.dpbf16ps.512"({{.*}}) : (vector<16xf32>, vector<32xbf16>, vector<32xbf16>) -> vector<16xf32>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512bf16.cvtne2ps2bf16.512"({{.*}}) : (vector<16xf32>, vector<16xf32>) -> vector<32xbf16>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512bf16.dpbf16ps.512"
// CHECK: return
// Nothing widens bf16 anywhere in the function (packs included).
// NOEXT-LABEL: func.func @bf16_dot(
// NOEXT-NOT: arith.extf
// NOEXT: return
// LLVM-LABEL: llvm.func @bf16_dot(
// LLVM: llvm.call_intrinsic "llvm.x86.avx512bf16.dpbf16ps.512"
// LLVM: llvm.func @_mlir_ciface_bf16_dot
attn.kernel @bf16_dot attributes {q_heads = 4, kv_heads = 2, d_qk = 40, element_type = bf16, lse = true}

// -----

// f16, or bf16 queries over an f16 cache: f32 products.
// SCHED-LABEL: attn.kernel @f16_kernel
// SCHED-NOT: dot =
// CHECK-LABEL: func.func @f16_kernel(
// CHECK-NOT: llvm.call_intrinsic
// CHECK: return
// NOEXT-LABEL: func.func @f16_kernel(
attn.kernel @f16_kernel attributes {q_heads = 4, d_qk = 64, element_type = f16}

// -----

// SCHED-LABEL: attn.kernel @mixed
// SCHED-NOT: dot =
attn.kernel @mixed attributes {q_heads = 4, d_qk = 64, element_type = bf16, kv_element_type = f16}

// -----

// A bf16 decode tile of up to 8 rows (GQA 8/2: 4 rows) takes the rows form,
// and where bf16 pairs are fast it gets dot = 16 too: the scores multiply
// the bf16 pairs of Q and of K's rows in place (vdpbf16ps, then the lane
// sums and the scale), P V multiplies f32 P by V widened to f32 (FMAs); no
// K^T or V tile, and P is not rounded to bf16 (no vcvtne2ps2bf16).
// SCHED-LABEL: attn.kernel @bf16_decode
// SCHED-SAME: dot = 16
// NODOT-LABEL: attn.kernel @bf16_decode
// NODOT-NOT: dot =
// The Q tile holds 32 words a row (64 bf16 as pairs), Q is not pre-scaled
// (no multiply before the first vdpbf16ps), and the scale multiplies the
// lane-summed scores.
// CHECK-LABEL: func.func @bf16_decode(
// CHECK-NOT: memref<32x{{[0-9]+}}xf32>
// CHECK-NOT: memref<64x64xf32>
// CHECK: memref.alloca() {alignment = 64 : i64} : memref<4x32xf32>
// CHECK-NOT: memref<32x{{[0-9]+}}xf32>
// CHECK-NOT: memref<64x64xf32>
// CHECK-NOT: arith.mulf
// CHECK-NOT: cvtne2ps2bf16
// CHECK: llvm.call_intrinsic "llvm.x86.avx512bf16.dpbf16ps.512"
// CHECK: vector.shuffle
// CHECK: arith.addf
// CHECK: %[[SCALE:.+]] = arith.constant dense<1.250000e-01> : vector<16xf32>
// CHECK-NEXT: arith.mulf %{{[0-9]+}}, %[[SCALE]]
// CHECK-NOT: cvtne2ps2bf16
// CHECK: vector.fma
// CHECK-NOT: cvtne2ps2bf16
// CHECK: return
// NOEXT-LABEL: func.func @bf16_decode(
attn.kernel @bf16_decode attributes {q_heads = 8, kv_heads = 2, d_qk = 64, element_type = bf16, mode = #attn.mode<decode>}

// -----

// A bf16 decode tile of more than 8 rows (MQA 16/1) keeps K^T tiles and
// gets bf16 products.
// SCHED-LABEL: attn.kernel @bf16_decode_mqa
// SCHED-SAME: dot = 16>
// NODOT-LABEL: attn.kernel @bf16_decode_mqa
// NODOT-NOT: dot =
// CHECK-LABEL: func.func @bf16_decode_mqa(
// CHECK: llvm.call_intrinsic "llvm.x86.avx512bf16.dpbf16ps.512"
// CHECK: return
// NOEXT-LABEL: func.func @bf16_decode_mqa(
attn.kernel @bf16_decode_mqa attributes {q_heads = 16, kv_heads = 1, d_qk = 64, element_type = bf16, mode = #attn.mode<decode>}
