// RUN: attn-opt %s --attn-lower-to-cpu-pipeline="vector-width=16 threads=2" | FileCheck %s
// RUN: attn-opt %s --attn-lower-to-cpu-pipeline="vector-width=8 threads=1" | FileCheck %s --check-prefix=AVX2
// RUN: attn-opt %s --attn-lower-to-cpu-pipeline | FileCheck %s --check-prefix=LOWERED

// Only the LLVM dialect is left, and exp/log/tanh were approximated by
// polynomials rather than left as per-lane libm calls.
// LOWERED-NOT: {{ (attn|scf|memref|vector|arith|math)\.}}
// LOWERED-NOT: llvm.intr.exp
// LOWERED-NOT: llvm.intr.log
// LOWERED-NOT: unrealized_conversion_cast

// CHECK-LABEL: llvm.func @llama(
// CHECK: llvm.intr.fma{{.*}} : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>
// CHECK-LABEL: llvm.func @_mlir_ciface_llama(
// CHECK: llvm.call @llama(
// AVX2: llvm.intr.fma{{.*}} : (vector<8xf32>, vector<8xf32>, vector<8xf32>) -> vector<8xf32>
attn.kernel @llama attributes {q_heads = 32, kv_heads = 8, d_qk = 128, element_type = f32, mask = #attn.mask<causal, bottom_right>, lse = true}
