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
/// Most query heads a kernel may have: far past any model, and small enough
/// that head arithmetic (ALiBi's slopes, work splits) never overflows.
constexpr int64_t kMaxHeads = 65536;
/// Largest sliding-window extent: longer than any sequence a call can have
/// in practice, and far from int64 overflow in diag - left, diag + right.
constexpr int64_t kMaxWindow = int64_t(1) << 40;
/// Largest head dim (d_qk and d_v) the dialect accepts.
constexpr int64_t kMaxHeadDim = 512;
/// Longest kernel or input name: names become symbols and file names.
constexpr size_t kMaxNameLength = 64;
/// Largest rank of a declared input, and most inputs a kernel declares.
constexpr size_t kMaxInputRank = 4;
constexpr size_t kMaxInputs = 16;
/// True for [A-Za-z_][A-Za-z0-9_]* of at most `limit` characters.
bool isIdentifier(StringRef name, size_t limit);
} // namespace mlir::attn

#endif
