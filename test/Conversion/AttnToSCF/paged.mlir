// RUN: attn-opt %s --attn-resolve-defaults --attn-select-cpu-schedule="vector-width=16 threads=1" --convert-attn-to-scf | FileCheck %s

// A paged kernel takes the page table [b, max pages] and the kv lengths
// [b] after o (and lse); its K and V are the pools [pages, kv_heads,
// page_size, d]. Each batch's key count comes from kv_seqlens, each tile's
// rows from the page table (page = table[b, key / page_size], slot =
// key % page_size, dim 2 of the pool).
attn.kernel @paged attributes {q_heads = 4, kv_heads = 2, d_qk = 64, element_type = f32, layout = #attn.layout<paged>, mode = #attn.mode<decode>}

// CHECK-LABEL: func.func @paged(
// CHECK-SAME: %[[K:[a-z0-9]+]]: memref<?x2x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
// CHECK-SAME: %[[TABLE:[a-z0-9]+]]: memref<?x?xi32, strided<[?, ?], offset: ?>>, %[[LENS:[a-z0-9]+]]: memref<?xi32, strided<[?], offset: ?>>,
// CHECK: %[[PAGESIZE:.+]] = memref.dim %[[K]], %c2
// CHECK: memref.load %[[LENS]]
// CHECK: arith.divui %{{.+}}, %[[PAGESIZE]]
// CHECK: memref.load %[[TABLE]]
// CHECK: arith.remui %{{.+}}, %[[PAGESIZE]]
