#ifndef ATTNC_DIALECT_ATTNOPS_H
#define ATTNC_DIALECT_ATTNOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialect/AttnAttrs.h"

#define GET_OP_CLASSES
#include "dialect/AttnOps.h.inc"

namespace mlir::attn {
/// The ops a mask or score region may hold (by name): pure arith and math
/// ops, attn.load, attn.seq_len and attn.yield. Every backend and the
/// reference interpreter handle each of them.
ArrayRef<StringRef> modRegionOps();
/// The types region values may have: i1, i32, i64, index, f32.
bool isModRegionType(Type type);
} // namespace mlir::attn

#endif
