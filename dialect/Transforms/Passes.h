#ifndef ATTNC_DIALECT_TRANSFORMS_PASSES_H
#define ATTNC_DIALECT_TRANSFORMS_PASSES_H

#include "mlir/Pass/Pass.h"

namespace mlir::attn {

#define GEN_PASS_DECL
#include "dialect/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "dialect/Transforms/Passes.h.inc"

} // namespace mlir::attn

#endif
