#ifndef ATTNC_COMPILER_TARGET_CUDA_MODPRINTER_H
#define ATTNC_COMPILER_TARGET_CUDA_MODPRINTER_H

// Prints a kernel's mask, score and key-range functions (dialect/Mods.h) as
// CUDA device functions over its Params: attnc_mask, attnc_score and
// attnc_range. Integers are carried as long long normalised to their width
// (i1 as 0 or 1, i32 sign-extended), with the same total semantics as the
// CPU lowering and the reference's interpreter (docs/dialect.md); floats
// are float.

#include "dialect/Mods.h"

#include <string>

namespace mlir::attn {

/// The helper functions and the three hooks for `defs` (absent functions
/// get their identity: every key visible, the score unchanged, every key in
/// range and none known to be fully visible for custom masks).
std::string printCudaMods(const ModDefinitions &defs, KernelOp op);

/// The helper functions and `attnc_feature(const Params &, float)`: linear
/// attention's phi, the kernel's 'feature' region or its built-in map.
std::string printCudaFeature(const ModDefinitions &defs, KernelOp op);

} // namespace mlir::attn

#endif
