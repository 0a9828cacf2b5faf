#ifndef ATTNC_COMPILER_PASSES_H
#define ATTNC_COMPILER_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/Pass/Pass.h"

namespace mlir::attn {

#define GEN_PASS_DECL
#include "compiler/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "compiler/Passes.h.inc"

/// f32 lanes in the host's widest usable vector register (16, 8 or 4).
int64_t hostVectorWidth();
/// Whether the host has AVX512_BF16 (vdpbf16ps, vcvtne2ps2bf16).
bool hostHasBf16Dot();
/// Whether the host has AVX512_BF16 and issues vdpbf16ps at the rate of an
/// f32 FMA (AMD's cores), so that bf16 kernels use it (schedule dot = 16).
bool hostHasFastBf16Dot();
/// The host's L1 data cache in bytes (0 when the system does not say).
int64_t hostL1dBytes();
/// The decode rows form prefetches into L1 (schedule prefetch = 1) on
/// hosts whose L1d holds at least this much, else into L2 (prefetch = 2).
inline constexpr int64_t kMinL1dBytesForL1Prefetch = 48 * 1024;

} // namespace mlir::attn

#endif
