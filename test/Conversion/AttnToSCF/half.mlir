// RUN: attn-opt %s --split-input-file --attn-resolve-defaults --attn-select-cpu-schedule="vector-width=16 threads=1 bf16-dot=0" --convert-attn-to-scf | FileCheck %s
// RUN: attn-opt %s --split-input-file --attn-lower-to-cpu-pipeline="vector-width=16 threads=1 bf16-dot=0" | FileCheck %s --check-prefix=LLVM

// 16-bit tensors keep their type in the signature; loads widen to f32
// (masked loads of a head dim that is no multiple of the vector width read
// 16-bit zeros), O is narrowed as it is stored, LSE and the tiles stay f32.
// CHECK-LABEL: func.func @bf16_kernel(
// CHECK-SAME: memref<?x4x?x40xbf16, strided<[?, ?, ?, 1], offset: ?>>
// CHECK-SAME: memref<?x2x?x40xbf16, strided<[?, ?, ?, 1], offset: ?>>
// CHECK-SAME: memref<?x2x?x40xbf16, strided<[?, ?, ?, 1], offset: ?>>
// CHECK-SAME: memref<?x4x?x40xbf16, strided<[?, ?, ?, 1], offset: ?>>
// CHECK-SAME: memref<?x4x?xf32, strided<[?, ?, ?], offset: ?>>
// CHECK: vector.maskedload {{.*}} : memref<?x4x?x40xbf16, {{.*}}>, vector<16xi1>, vector<16xbf16> into vector<16xbf16>
// CHECK: arith.extf {{.*}} : vector<16xbf16> to vector<16xf32>
// CHECK: arith.truncf {{.*}} : vector<16xf32> to vector<16xbf16>
// CHECK: vector.maskedstore {{.*}} : memref<?x4x?x40xbf16, {{.*}}>, vector<16xi1>, vector<16xbf16>
// The bf16 conversions become integer operations: nothing is left for a
// library call.
// LLVM-LABEL: llvm.func @bf16_kernel(
// LLVM-NOT: llvm.fpext {{.*}}bf16
// LLVM-NOT: llvm.fptrunc {{.*}}bf16
// LLVM: llvm.func @_mlir_ciface_bf16_kernel
attn.kernel @bf16_kernel attributes {q_heads = 4, kv_heads = 2, d_qk = 40, element_type = bf16, lse = true}

// -----

// f32 queries and output over an f16 KV cache.
// CHECK-LABEL: func.func @f16_cache(
// CHECK-SAME: memref<?x8x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>
// CHECK-SAME: memref<?x1x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>
// CHECK-SAME: memref<?x1x?x64xf16, strided<[?, ?, ?, 1], offset: ?>>
// CHECK-SAME: memref<?x8x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>
// CHECK: vector.load {{.*}} : memref<?x1x?x64xf16, {{.*}}>, vector<16xf16>
// CHECK: arith.extf {{.*}} : vector<16xf16> to vector<16xf32>
// CHECK-NOT: arith.truncf
// CHECK: return
// LLVM-LABEL: llvm.func @f16_cache(
// LLVM: llvm.fpext {{.*}} : vector<16xf16> to vector<16xf32>
attn.kernel @f16_cache attributes {q_heads = 8, kv_heads = 1, d_qk = 64, element_type = f32, kv_element_type = f16, mode = #attn.mode<decode>}
