// RUN: attn-opt %s --attn-resolve-defaults --attn-select-cpu-schedule="vector-width=16 threads=2" --convert-attn-to-scf | FileCheck %s
// RUN: attn-opt %s --attn-resolve-defaults --attn-select-cpu-schedule="vector-width=16 threads=2" --convert-attn-to-scf --canonicalize | FileCheck %s --check-prefix=FUSED

// The kernel is fused: every local buffer is a static tile. No allocation
// has a run-time size, so none can scale with seq_q x seq_kv.
// FUSED-NOT: memref.alloc(
// FUSED-NOT: memref.alloca(%
// FUSED-NOT: memref<?x?xf32>
// FUSED-NOT: attn.kernel

// CHECK-LABEL: func.func @gqa_causal(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: memref<?x8x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>
// CHECK-SAME: %[[K:[a-z0-9]+]]: memref<?x2x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>
// CHECK-SAME: %[[V:[a-z0-9]+]]: memref<?x2x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>
// CHECK-SAME: %[[O:[a-z0-9]+]]: memref<?x8x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>
// CHECK-SAME: %[[LSE:[a-z0-9]+]]: memref<?x8x?xf32, strided<[?, ?, ?], offset: ?>>
// CHECK-SAME: %[[PARTIALS:[a-z0-9]+]]: memref<?xf32>, %[[SPLITS:[a-z0-9]+]]: index,
// CHECK-SAME: %[[BEGIN:[a-z0-9]+]]: index, %[[END:[a-z0-9]+]]: index,
// The calling thread's K^T cache: [slots, d_qk, block_n], a tag per slot;
// then the batch index regions add to b.
// CHECK-SAME: %[[KT:[a-z0-9]+]]: memref<?x64x128xf32>, %[[TAGS:[a-z0-9]+]]: memref<?xi64>,
// CHECK-SAME: %[[BATCHBASE:[a-z0-9]+]]: index)
// CHECK-SAME: attributes {llvm.emit_c_interface}
// Tiles: Q (block_m x d), S (block_m x block_n), acc, m, l. Prefill keeps no
// K^T tile on the stack, and V is read in place.
// CHECK-DAG: memref.alloca() {alignment = 64 : i64} : memref<64x64xf32>
// CHECK-DAG: memref.alloca() {alignment = 64 : i64} : memref<64x128xf32>
// CHECK-DAG: memref.alloca() {alignment = 64 : i64} : memref<64xf32>
// CHECK-NOT: memref<128x64xf32>
// CHECK: scf.for %{{.*}} = %[[BEGIN]] to %[[END]]
// GQA: kv head = q head / (8 / 2).
// CHECK: arith.divui %{{.*}}, %c4
// Key/value tiles stream through the online softmax.
// CHECK: scf.for
// Key tile t of a (batch, kv head) lives in slot t mod slots; it is
// transposed into the cache only when the slot holds another tile.
// CHECK: %[[SLOTS:.*]] = memref.dim %[[KT]], %c0
// CHECK: arith.remui %{{.*}}, %[[SLOTS]]
// CHECK: %[[HELD:.*]] = memref.load %[[TAGS]]
// CHECK: %[[STALE:.*]] = arith.cmpi ne, %[[HELD]]
// CHECK: scf.if %[[STALE]]
// CHECK: vector.shuffle
// CHECK: vector.store %{{.*}}, %[[KT]]
// CHECK: memref.store %{{.*}}, %[[TAGS]]
// The Q K^T micro-kernel: 8 rows x 2 vectors of accumulators in iter_args.
// CHECK: scf.for {{.*}} iter_args(
// CHECK-COUNT-16: vector.fma
// Causal: only tiles the diagonal cuts are masked (the range function of
// dialect/Mods.h proves the others fully visible); there the mask
// function runs with k as a vector of key lanes.
// CHECK: scf.if
// CHECK: arith.cmpi sle, %{{.*}} : vector<16xindex>
// CHECK: arith.select %{{.*}} : vector<16xi1>, vector<16xf32>
// Online softmax: running max, exp of s - max by Cody-Waite reduction and
// 2^n from exponent bits, rescale. A NaN score stays NaN through the exp
// (it poisons the row, as in PyTorch): no nnan flag anywhere.
// Each softmax row prefetches its share of the next key tile: V rows and
// the next K^T cache slot.
// CHECK: memref.prefetch %[[V]]
// CHECK: memref.prefetch %[[KT]]
// The running max is compare-and-select (one vmaxps on x86).
// CHECK: arith.cmpf ogt, %{{.*}} : vector<16xf32>
// CHECK-NOT: nnan
// Then across the lanes by halves: 8, 4, 2, 1.
// CHECK: vector.shuffle %{{.*}} [8, 9, 10, 11, 12, 13, 14, 15] : vector<16xf32>, vector<16xf32>
// CHECK: arith.cmpf ogt, %{{.*}} : vector<8xf32>
// CHECK: arith.cmpf ogt, %{{.*}} : vector<1xf32>
// CHECK: math.roundeven %{{.*}} : vector<16xf32>
// CHECK: math.fma
// CHECK: arith.shli %{{.*}} : vector<16xi32>
// CHECK: arith.bitcast %{{.*}} : vector<16xi32> to vector<16xf32>
// CHECK: vector.reduction <add>
// CHECK: math.exp %{{.*}} : f32
// The P V micro-kernel accumulates into the acc tile.
// CHECK: vector.fma
// Finalise: O = acc / l, LSE = m + log(l) with one split; else the
// unnormalised acc, m and l go to the partials buffer for the merge.
// CHECK: %[[ONE_SPLIT:.*]] = arith.cmpi eq, %[[SPLITS]], %c1
// CHECK: scf.if %[[ONE_SPLIT]]
// l != 0, true for NaN: a fully masked row gives 0, a NaN row stays NaN.
// CHECK: arith.cmpf une
// CHECK: vector.store %{{.*}}, %[[O]]
// CHECK: math.log
// CHECK: memref.store %{{.*}}, %[[LSE]]
// CHECK: } else {
// CHECK: vector.store %{{.*}}, %[[PARTIALS]]
// CHECK: memref.store %{{.*}}, %[[PARTIALS]]
attn.kernel @gqa_causal attributes {q_heads = 8, kv_heads = 2, d_qk = 64, element_type = f32, mask = #attn.mask<causal, bottom_right>, lse = true}

// Head dims that are not a multiple of the vector width use masked loads and
// stores for the last lanes, and a kernel without lse takes no LSE buffer.
// CHECK-LABEL: func.func @odd_dims(
// CHECK-SAME: memref<?x4x?x20xf32
// CHECK-SAME: memref<?x4x?x24xf32, strided<[?, ?, ?, 1], offset: ?>>, %{{[a-z0-9]+}}: memref<?xf32>
// CHECK: vector.maskedload
// CHECK: vector.maskedstore
// CHECK-NOT: math.log
// CHECK: return
attn.kernel @odd_dims attributes {q_heads = 4, d_qk = 20, d_v = 24, element_type = f32}

// Decode of a GQA group of up to 8 query heads (here 4) takes the rows form:
// no K^T or V tile on the stack, K's and V's rows are read in place. Each
// key prefetches its V row (the P V passes prefetch the next tile's K
// rows; decode-prefetch.mlir), its lane-wise
// products with the 4 rows go to a [4, 16 x 16] tile, and a shuffle tree
// sums each row's 16 vectors across lanes (first level: the halves of
// keys 0 and 1; last level: the even and odd lanes), keys in order. The
// K^T cache is not touched.
// CHECK-LABEL: func.func @decode(
// CHECK-SAME: %[[DKT:[a-z0-9]+]]: memref<?x64x{{[0-9]+}}xf32>, %[[DTAGS:[a-z0-9]+]]: memref<?xi64>
// CHECK-NOT: memref<64x{{[0-9]+}}xf32>
// CHECK: memref.alloca() {alignment = 64 : i64} : memref<4x256xf32>
// CHECK-NOT: memref<64x{{[0-9]+}}xf32>
// CHECK-NOT: memref<128x64xf32>
// CHECK: memref.prefetch
// CHECK: vector.fma
// CHECK: vector.shuffle %{{.+}}, %{{.+}} [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23] : vector<16xf32>, vector<16xf32>
// CHECK: vector.shuffle %{{.+}}, %{{.+}} [4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31] : vector<16xf32>, vector<16xf32>
// CHECK: vector.shuffle %{{.+}}, %{{.+}} [0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29] : vector<16xf32>, vector<16xf32>
// CHECK: vector.shuffle %{{.+}}, %{{.+}} [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31] : vector<16xf32>, vector<16xf32>
// CHECK-NOT: %[[DTAGS]]
// CHECK-NOT: %[[DKT]]
// CHECK: return
attn.kernel @decode attributes {q_heads = 8, kv_heads = 2, d_qk = 64, element_type = f32, mode = #attn.mode<decode>}

// A decode tile of more than 8 rows (16 query heads on one kv head) is
// compute-bound and keeps tiles: K^T and V are packed on the stack
// (sequential streams from memory), and copying a V row prefetches the next
// tile's V and K rows.
// CHECK-LABEL: func.func @decode_mqa(
// CHECK-SAME: %[[MKT:[a-z0-9]+]]: memref<?x64x{{[0-9]+}}xf32>, %[[MTAGS:[a-z0-9]+]]: memref<?xi64>
// CHECK-DAG: memref.alloca() {alignment = 64 : i64} : memref<64x[[BN:[0-9]+]]xf32>
// CHECK-DAG: memref.alloca() {alignment = 64 : i64} : memref<[[BN]]x64xf32>
// CHECK: memref.prefetch
// CHECK-NOT: %[[MTAGS]]
// CHECK-NOT: %[[MKT]]
// CHECK: return
attn.kernel @decode_mqa attributes {q_heads = 16, kv_heads = 1, d_qk = 64, element_type = f32, mode = #attn.mode<decode>}

// A sliding window bounds the key range on both sides.
// CHECK-LABEL: func.func @window(
// CHECK: arith.cmpi sge, %{{.*}} : vector<16xindex>
// CHECK: arith.cmpi sle, %{{.*}} : vector<16xindex>
attn.kernel @window attributes {q_heads = 4, d_qk = 32, element_type = f32, mask = #attn.mask<sliding_window, left = 16, right = 2, top_left>}

// Softcap: c * tanh(s / c).
// CHECK-LABEL: func.func @softcap(
// CHECK: math.tanh %{{.*}} : vector<16xf32>
attn.kernel @softcap attributes {q_heads = 4, d_qk = 32, element_type = f32, softcap = 30.0}

// A custom mask over packed documents: the declared input follows the
// tensors; b, h and q stay scalars (doc[q] is one load per row), k is a
// vector of key lanes (doc[k] is one gather), and every index is clamped
// into the input first.
// CHECK-LABEL: func.func @document(
// CHECK-SAME: %[[DOC:[a-z0-9]+]]: memref<?xi32, strided<[?], offset: ?>>, %{{[a-z0-9]+}}: memref<?xf32>
// CHECK: memref.dim %[[DOC]], %c0
// CHECK: arith.minsi %{{.*}} : index
// CHECK: memref.load %[[DOC]]
// CHECK: memref.extract_strided_metadata %[[DOC]]
// CHECK: vector.gather
// CHECK: arith.cmpi eq, %{{.*}} : vector<16xi32>
attn.kernel @document attributes {q_heads = 4, d_qk = 32, element_type = f32, mask = #attn.mask<custom>, inputs = [#attn.input<"doc", i32, [seq_kv]>]} mask {
^bb0(%b: index, %h: index, %q: index, %k: index):
  %dq = attn.load @doc[%q] : i32
  %dk = attn.load @doc[%k] : i32
  %same = arith.cmpi eq, %dq, %dk : i32
  attn.yield %same : i1
}

// ALiBi: s - slope(h) * |k - diagonal(q)|, the slope from the head (a
// scalar per row), the distance a vector over the key lanes.
// CHECK-LABEL: func.func @alibi(
// CHECK: math.exp2 %{{.*}} : f32
// CHECK: math.absf %{{.*}} : vector<16xf32>
attn.kernel @alibi attributes {q_heads = 12, d_qk = 32, element_type = f32, score_mod = #attn.score_mod<alibi>}

// Integer division in user code is total: by zero it gives 0 instead of a
// trap.
// CHECK-LABEL: func.func @division(
// CHECK: arith.cmpi eq, %{{.*}}, %{{.*}} : vector<16xindex>
// CHECK: arith.divsi %{{.*}} : vector<16xindex>
// CHECK: arith.select
attn.kernel @division attributes {q_heads = 4, d_qk = 32, element_type = f32, mask = #attn.mask<custom>} mask {
^bb0(%b: index, %h: index, %q: index, %k: index):
  %r = arith.divsi %q, %k : index
  %z = arith.constant 0 : index
  %c = arith.cmpi eq, %r, %z : index
  attn.yield %c : i1
}

// Block-sparse: the block mask follows the tensors; a tile walks its query
// block's partial kv blocks (the mask runs there), then its full ones.
// CHECK-LABEL: func.func @blocks(
// CHECK-SAME: %[[NUM:[a-z0-9]+]]: memref<?x?x?xi32, strided<[?, ?, ?], offset: ?>>, %[[IDX:[a-z0-9]+]]: memref<?x?x?x?xi32, strided<[?, ?, ?, ?], offset: ?>>
// CHECK-SAME: %[[FNUM:[a-z0-9]+]]: memref<?x?x?xi32, strided<[?, ?, ?], offset: ?>>, %[[FIDX:[a-z0-9]+]]: memref<?x?x?x?xi32, strided<[?, ?, ?, ?], offset: ?>>
// CHECK: memref.load %[[NUM]]
// CHECK: scf.for
// CHECK: memref.load %[[IDX]]
// CHECK: arith.cmpi ule, %{{.*}} : vector<16xindex>
// CHECK: memref.load %[[FNUM]]
// CHECK: memref.load %[[FIDX]]
attn.kernel @blocks attributes {q_heads = 4, d_qk = 32, element_type = f32, block_sparse = #attn.block_sparse<block_q = 64, block_kv = 64>, mask = #attn.mask<custom>} mask {
^bb0(%b: index, %h: index, %q: index, %k: index):
  %c = arith.cmpi ule, %k, %q : index
  attn.yield %c : i1
}
