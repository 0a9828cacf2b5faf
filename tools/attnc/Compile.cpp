// attnc compile: print the kernel at a chosen stage of the CPU pipeline.
#include "Commands.h"

#include "compiler/Pipelines/Pipelines.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "compiler/Passes.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

#include <fmt/format.h>

namespace attnc::cli {

int compileCommand(const Options &o) {
  auto error = [](const std::string &message) {
    fmt::print(stderr, "attnc: error: {}\n", message);
    return 2;
  };
  StatusOr<std::string> text = loadSpecText(o);
  if (!text.ok())
    return error(text.status().message());

  mlir::DialectRegistry registry;
  mlir::attn::registerAttnDialects(registry);
  mlir::MLIRContext context(registry, mlir::MLIRContext::Threading::DISABLED);
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(
          *text, o.specFile.empty() ? "<flags>" : o.specFile),
      llvm::SMLoc());
  mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  auto module = mlir::parseSourceFile<mlir::ModuleOp>(
      sourceMgr, mlir::ParserConfig(&context));
  if (!module)
    return 2;

  mlir::attn::CpuPipelineOptions options;
  options.vectorWidth = o.vectorWidth;
  mlir::PassManager pm(&context);
  if (o.emit == "spec") {
    mlir::attn::buildAttnCpuSchedulePipeline(pm, options);
  } else if (o.emit == "loops") {
    mlir::attn::buildAttnCpuSchedulePipeline(pm, options);
    pm.addPass(mlir::attn::createConvertAttnToSCF());
  } else {
    mlir::attn::buildAttnLowerToCpuPipeline(pm, options);
  }
  if (mlir::failed(pm.run(*module)))
    return 2;

  std::error_code ec;
  llvm::ToolOutputFile out(o.outputFile.empty() ? "-" : o.outputFile, ec,
                           llvm::sys::fs::OF_Text);
  if (ec)
    return error(fmt::format("cannot write '{}': {}", o.outputFile,
                             ec.message()));
  if (o.emit == "llvm") {
    llvm::LLVMContext llvmContext;
    auto llvmModule = mlir::translateModuleToLLVMIR(*module, llvmContext);
    if (!llvmModule)
      return error("translation to LLVM IR failed");
    llvmModule->print(out.os(), nullptr);
  } else {
    module->print(out.os());
  }
  out.keep();
  return 0;
}

} // namespace attnc::cli
