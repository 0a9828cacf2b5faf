#ifndef ATTNC_RUNTIME_MLIR_PARSEDKERNEL_H
#define ATTNC_RUNTIME_MLIR_PARSEDKERNEL_H

// The runtime's MLIR side (private, not installed: runtime/mlir/ is the one
// runtime folder whose headers include MLIR, for the .cpp files that drive
// the compiler): one attn.kernel in its own context, with the diagnostics
// collected so far.

#include "dialect/AttnOps.h"
#include "runtime/Spec.h"
#include "runtime/Status.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"

#include <memory>
#include <string>

namespace attnc::detail {

/// An MLIR context with attnc's dialects that records every diagnostic
/// (with its source location) for error messages.
struct KernelContext {
  mlir::DialectRegistry registry;
  std::unique_ptr<mlir::MLIRContext> context;
  llvm::SourceMgr sourceMgr;
  std::string diagnostics;
  std::unique_ptr<llvm::raw_string_ostream> diagStream;
  std::unique_ptr<mlir::SourceMgrDiagnosticHandler> handler;

  KernelContext();
  /// The diagnostics so far under a one-line summary (`what`).
  Status fail(const std::string &what) const;
};

/// One attn.kernel parsed from text and verified.
struct ParsedKernel : KernelContext {
  mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::attn::KernelOp kernel;

  /// Parses and verifies `text`, which must hold exactly one attn.kernel;
  /// diagnostics name `sourceName`.
  static StatusOr<std::unique_ptr<ParsedKernel>>
  parse(const std::string &text, const std::string &sourceName);
};

/// The read-only view of `op` (defaults applied where attributes are unset).
/// `mods`: the op's mask and score programs when the caller has them (a
/// translation of a KernelIr reuses its view's: resolving defaults and
/// choosing a schedule do not change them); else they are compiled.
KernelSpec viewOf(mlir::attn::KernelOp op,
                  std::shared_ptr<const ModPrograms> mods = nullptr);

/// `op` in the dialect's printed form: the canonical text of a kernel.
std::string printKernel(mlir::attn::KernelOp op);

} // namespace attnc::detail

#endif
