#ifndef ATTNC_DIALECT_MODS_H
#define ATTNC_DIALECT_MODS_H

// The one definition of every mask and score modifier. Built-ins (causal in
// both alignments, sliding window, softcap, ALiBi) are written here as
// canonical regions; custom ones are the kernel's own regions. The CPU
// lowering inlines these functions into its loop nest, the CUDA emitter
// prints them as device functions, and the float64 reference interprets
// them: no backend has a second copy of what a mask means.

#include "dialect/AttnOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace mlir::attn {

struct ModDefinitions {
  /// Owns the functions below (in the kernel's context).
  OwningOpRef<ModuleOp> module;
  /// (b, h, q, k: index) -> i1: whether query q sees key k. Null: every
  /// key is visible.
  func::FuncOp mask;
  /// (s: f32, b, h, q, k: index) -> f32: the scaled score after softcap,
  /// ALiBi and the custom score region, in that order. Null: unchanged.
  func::FuncOp score;
  /// (q_first, q_last, seq_q, seq_kv: index) -> (lo, hi, full_lo, full_hi):
  /// for the query rows [q_first, q_last], every visible key lies in
  /// [lo, hi), and every key in [full_lo, full_hi) is visible to every row
  /// (empty when full_lo >= full_hi). For a single row the two ranges are
  /// that row's visible keys exactly. Null for custom masks: every key may
  /// be visible and none is known to be.
  func::FuncOp range;
  /// (x: f32) -> f32: a custom feature map phi (linear attention, the
  /// kernel's 'feature' region). Null for the built-in ones
  /// (runtime/Linear.h).
  func::FuncOp feature;
};

/// The definitions for `op` (verified; defaults may be implicit). Each
/// function carries the op's declared inputs as `attn.inputs`.
ModDefinitions buildModDefinitions(KernelOp op);

/// ALiBi's slope for query head `h` of `heads` (BLOOM's and MPT's
/// geometric sequence, extended for head counts that are not powers of
/// two): with n = 2^floor(log2 heads), 2^(-8 (h + 1) / n) for h < n, else
/// 2^(-4 (2 (h - n) + 1) / n). The score region computes the same thing.
double alibiSlope(int64_t h, int64_t heads);

} // namespace mlir::attn

#endif
