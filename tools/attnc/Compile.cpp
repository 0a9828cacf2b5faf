// attnc compile: print the kernel at a chosen stage of the CPU pipeline.
#include "Commands.h"

#include "compiler/Pipelines/Pipelines.h"
#include "compiler/Target/CUDA/AttnToCuda.h"
#include "runtime/cuda/Nvrtc.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "compiler/Passes.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/SourceMgr.h"
#include "runtime/Files.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace attnc::cli {
namespace {

/// Writes `text` to -o FILE (runtime/Files.h's rules) or stdout.
int emit(const Options &o, const std::string &text) {
  if (!o.outputFile.empty()) {
    Status st = writeOutputFile(o.outputFile, text);
    return st.ok() ? kExitOk : exitWith(st);
  }
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
      std::fflush(stdout) != 0)
    return exitWith(Status::ioError(
        fmt::format("cannot write to standard output: {}", std::strerror(errno))));
  return kExitOk;
}

/// CUDA C++ for each kernel, or its PTX / CUBIN from NVRTC.
int compileCuda(const Options &o, mlir::ModuleOp module) {
  std::string text;
  for (auto kernel : module.getOps<mlir::attn::KernelOp>()) {
    mlir::attn::CudaSchedule schedule;
    mlir::FailureOr<std::string> source =
        mlir::attn::translateKernelToCuda(kernel, o.arch, &schedule);
    if (mlir::failed(source))
      return 2; // the diagnostic is printed
    if (o.emit == "cuda") {
      text += *source;
      continue;
    }
    auto nvrtc = cuda::Nvrtc::get();
    if (!nvrtc.ok()) {
      fmt::print(stderr, "attnc: error: {}\n", nvrtc.status().message());
      return 2;
    }
    auto out = (*nvrtc)->compile(*source, kernel.getSymName().str() + ".cu",
                                 {o.arch, {}});
    if (!out.ok()) {
      fmt::print(stderr, "attnc: error: {}\n", out.status().message());
      return 2;
    }
    fmt::print(stderr, "{}: {} registers, {} bytes spilled, {} bytes of dynamic "
                       "shared memory\n",
               kernel.getSymName().str(), out->ptxas.registers,
               out->ptxas.spillStoreBytes + out->ptxas.spillLoadBytes,
               schedule.sharedBytes);
    text += o.emit == "ptx" ? out->ptx : out->cubin;
  }
  return emit(o, text);
}

} // namespace

int compileCommand(const Options &o) {
  auto error = [](const std::string &message) {
    fmt::print(stderr, "attnc: error: {}\n", message);
    return 2;
  };
  StatusOr<KernelIr> ir = loadKernel(o);
  if (!ir.ok())
    return exitWith(ir.status());

  mlir::DialectRegistry registry;
  mlir::attn::registerAttnDialects(registry);
  mlir::MLIRContext context(registry, mlir::MLIRContext::Threading::DISABLED);
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(ir->source(), ir->sourceName()),
      llvm::SMLoc());
  mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  auto module = mlir::parseSourceFile<mlir::ModuleOp>(
      sourceMgr, mlir::ParserConfig(&context));
  if (!module)
    return 2;

  if (o.target == "cuda")
    return compileCuda(o, *module);

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

  std::string text;
  llvm::raw_string_ostream out(text);
  if (o.emit == "llvm") {
    llvm::LLVMContext llvmContext;
    auto llvmModule = mlir::translateModuleToLLVMIR(*module, llvmContext);
    if (!llvmModule)
      return error("translation to LLVM IR failed");
    llvmModule->print(out, nullptr);
  } else {
    module->print(out);
  }
  out.flush();
  return emit(o, text);
}

} // namespace attnc::cli
