#ifndef ATTNC_DIALECT_ATTNATTRS_H
#define ATTNC_DIALECT_ATTNATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#include "dialect/AttnDialect.h"
#include "dialect/AttnEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/AttnAttrs.h.inc"

namespace mlir::attn {
/// Marks an integer parameter of #attn.mask that was not written.
constexpr int64_t kAbsent = -1;
/// Largest head dim (d_qk and d_v) the dialect accepts.
constexpr int64_t kMaxHeadDim = 512;
} // namespace mlir::attn

#endif
