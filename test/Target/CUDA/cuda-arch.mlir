// RUN: not attn-translate %s --attn-to-cuda --cuda-arch=sm_75 2>&1 | FileCheck %s
// CHECK: error: 'attn.kernel' op cuda arch must be sm_80 or newer, got 'sm_75'
attn.kernel @k attributes {q_heads = 4, d_qk = 64, element_type = f16}
