// Spec text through the parser, the verifier, the problem key, the CPU
// pipeline down to the LLVM dialect (no object code: that is LLVM's) and
// the CUDA emitter. Any input must give a value or an error, never a crash.
#include "FuzzInput.h"

#include "compiler/Pipelines/Pipelines.h"
#include "runtime/KernelIr.h"
#include "runtime/detail/Compiler.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1 << 16))
    return 0;
  std::string text(reinterpret_cast<const char *>(data), size);
  auto ir = attnc::KernelIr::parse(text, "<fuzz>");
  if (!ir.ok())
    return 0;
  (void)ir->problemKey();
  (void)attnc::detail::translateForCuda(*ir, "sm_90");

  mlir::DialectRegistry registry;
  mlir::attn::registerAttnDialects(registry);
  mlir::MLIRContext context(registry, mlir::MLIRContext::Threading::DISABLED);
  context.getDiagEngine().registerHandler([](mlir::Diagnostic &) {});
  auto module = mlir::parseSourceString<mlir::ModuleOp>(
      ir->text(), mlir::ParserConfig(&context));
  if (!module)
    __builtin_trap(); // the canonical text of a verified op must parse
  mlir::PassManager pm(&context);
  mlir::attn::buildAttnLowerToCpuPipeline(pm, {});
  (void)pm.run(*module);
  return 0;
}
