#ifndef ATTNC_DIALECT_ATTNDIALECT_H
#define ATTNC_DIALECT_ATTNDIALECT_H

#include "mlir/IR/Dialect.h"

#include "dialect/AttnDialect.h.inc"

#endif
