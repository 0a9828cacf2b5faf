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

#endif
