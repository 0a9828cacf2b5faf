#ifndef ATTNC_RUNTIME_MLIR_MODCOMPILE_H
#define ATTNC_RUNTIME_MLIR_MODCOMPILE_H

// A kernel's mask, score and range definitions (dialect/Mods.h) turned into
// the reference's programs (runtime/ModProgram.h).

#include "dialect/AttnOps.h"
#include "runtime/ModProgram.h"

#include <memory>

namespace attnc::detail {

/// The programs for `op` (verified).
std::shared_ptr<const ModPrograms> compileMods(mlir::attn::KernelOp op);

/// The declared inputs of `op`.
std::vector<InputDecl> inputsOf(mlir::attn::KernelOp op);

} // namespace attnc::detail

#endif
