// KernelIr -> resolved, scheduled attn.kernel -> host object code (CPU) or
// CUDA C++ (GPU). The only runtime file that drives compiler passes.
#include "runtime/detail/Compiler.h"

#include "compiler/AttnToSCF/AttnToSCF.h"
#include "compiler/KernelAbi.h"
#include "compiler/Passes.h"
#include "compiler/Pipelines/Pipelines.h"
#include "compiler/Target/CUDA/AttnToCuda.h"
#include "dialect/Transforms/Passes.h"
#include "runtime/CpuKernel.h"
#include "runtime/mlir/ParsedKernel.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "runtime/CodegenFingerprint.h" // generated: ATTNC_CODEGEN_FINGERPRINT

#ifndef ATTNC_VERSION
#error "ATTNC_VERSION must be defined by the build"
#endif

namespace attnc::detail {
namespace {

void initializeLlvmOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

/// The resolved, scheduled op in generic form: with the host target, what
/// the object code depends on.
std::string genericText(mlir::attn::KernelOp op) {
  std::string text;
  llvm::raw_string_ostream os(text);
  op->print(os, mlir::OpPrintingFlags().printGenericOpForm());
  return text;
}

/// Adds `void <packed entry>(void **args)` to `module`: it loads one
/// pointer per parameter of the kernel's C interface (a memref descriptor,
/// or the address of an int64) and calls it. The runtime packs arguments by
/// compiler/KernelAbi.h, from which the lowering built the signature; the
/// parameter count is checked against it here.
Status addPackedEntry(llvm::Module &module, const std::string &name,
                      size_t expectedParams) {
  llvm::Function *ciface = module.getFunction("_mlir_ciface_" + name);
  if (!ciface)
    return Status::error("internal error: the kernel has no C interface");
  if (ciface->arg_size() != expectedParams)
    return Status::error(fmt::format(
        "internal error: the kernel takes {} arguments, but its ABI "
        "(compiler/KernelAbi.h) says {}",
        ciface->arg_size(), expectedParams));
  llvm::LLVMContext &ctx = module.getContext();
  auto *ptr = llvm::PointerType::get(ctx, 0);
  auto *type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr}, false);
  auto *entry = llvm::Function::Create(type, llvm::Function::ExternalLinkage,
                                       mlir::attn::abi::cpuPackedEntry(name),
                                       module);
  llvm::IRBuilder<> ir(llvm::BasicBlock::Create(ctx, "entry", entry));
  std::vector<llvm::Value *> args;
  for (llvm::Argument &param : ciface->args()) {
    llvm::Value *slot = ir.CreateConstGEP1_64(ptr, entry->getArg(0), param.getArgNo());
    llvm::Value *address = ir.CreateLoad(ptr, slot);
    args.push_back(param.getType()->isPointerTy()
                       ? address
                       : ir.CreateLoad(param.getType(), address));
  }
  ir.CreateCall(ciface, args);
  ir.CreateRetVoid();
  return Status::success();
}

class CpuTranslation final : public Translation {
public:
  std::unique_ptr<ParsedKernel> parsed;
  KernelSpec resolved;
  std::string keyText, resolvedOp;
  size_t cifaceParams = 0; // the ABI's count (KernelAbi.h)

  const KernelSpec &spec() const override { return resolved; }
  const std::string &key() const override { return keyText; }
  const std::string &resolvedText() const override { return resolvedOp; }

  StatusOr<std::string> compile() override {
    initializeLlvmOnce();
    ParsedKernel &p = *parsed;
    mlir::PassManager codegen(p.context.get());
    // Release builds verify the module once, after the pipeline, instead of
    // after each of its passes: that took about 100 of 155 ms on the Llama-3
    // example (docs/perf.md, "Cold compile"). Debug builds, attn-opt and the
    // lit tests still verify after every pass.
#ifdef NDEBUG
    codegen.enableVerifier(false);
#endif
    mlir::attn::buildAttnCpuCodegenPipeline(codegen);
    if (mlir::failed(codegen.run(*p.module)))
      return p.fail("lowering failed");
    if (mlir::failed(mlir::verify(*p.module)))
      return p.fail("lowering produced invalid IR (an attnc bug)");

    auto machineBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
    if (!machineBuilder)
      return Status::error("cannot detect the host CPU: " +
                           llvm::toString(machineBuilder.takeError()));
    machineBuilder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
    auto machine = machineBuilder->createTargetMachine();
    if (!machine)
      return Status::error("cannot create a target machine: " +
                           llvm::toString(machine.takeError()));
    llvm::LLVMContext llvmContext;
    auto llvmModule = mlir::translateModuleToLLVMIR(*p.module, llvmContext);
    if (!llvmModule)
      return p.fail("translation to LLVM IR failed");
    if (Status st = addPackedEntry(*llvmModule, resolved.name, cifaceParams);
        !st.ok())
      return st;
    llvmModule->setDataLayout((*machine)->createDataLayout());
    llvmModule->setTargetTriple((*machine)->getTargetTriple().str());
    if (llvm::Error err = mlir::makeOptimizingTransformer(
            3, 0, machine->get())(llvmModule.get()))
      return Status::error("LLVM optimisation failed: " +
                           llvm::toString(std::move(err)));
    llvm::SmallVector<char, 0> buffer;
    llvm::raw_svector_ostream out(buffer);
    llvm::legacy::PassManager emit;
    if ((*machine)->addPassesToEmitFile(emit, out, nullptr,
                                        llvm::CodeGenFileType::ObjectFile))
      return Status::error("the host target cannot emit object files");
    emit.run(*llvmModule);
    return std::string(buffer.data(), buffer.size());
  }
};

constexpr const char *kCpuKeyPrefix = "attnc-cpu-kernel";

} // namespace

std::vector<mlir::attn::abi::Arg> cpuAbiArgs(const KernelSpec &s) {
  namespace abi = mlir::attn::abi;
  std::vector<abi::InputArg> inputs;
  for (const InputDecl &in : s.inputs)
    inputs.push_back({in.name,
                      in.type == DType::F32 ? abi::ElementType::F32
                                            : abi::ElementType::I32,
                      static_cast<int64_t>(in.dims.size())});
  auto named = [](const std::string &type) {
    switch (dtypeNamed(type)) {
    case DType::F16:
      return abi::ElementType::F16;
    case DType::BF16:
      return abi::ElementType::BF16;
    default:
      return abi::ElementType::F32;
    }
  };
  return abi::kernelArgs(named(s.elementType), named(s.kvType()), s.lse,
                         s.probs, s.layout == Layout::Paged, s.blockQ > 0,
                         inputs);
}

std::string cacheKeyHeader(const char *prefix) {
  return fmt::format("{} attnc={} codegen={}", prefix, ATTNC_VERSION,
                     ATTNC_CODEGEN_FINGERPRINT);
}

const std::string &hostTargetId() {
  static const std::string id = [] {
    std::vector<std::string> features;
    for (const auto &f : llvm::sys::getHostCPUFeatures())
      if (f.getValue())
        features.push_back(f.getKey().str());
    std::sort(features.begin(), features.end());
    return fmt::format("triple={} cpu={} llvm={} features={}",
                       llvm::sys::getProcessTriple(),
                       llvm::sys::getHostCPUName().str(), LLVM_VERSION_STRING,
                       fmt::join(features, ","));
  }();
  return id;
}

StatusOr<std::unique_ptr<Translation>>
translateForCpu(const KernelIr &ir, const CpuCompileOptions &options) {
  auto parsed = ParsedKernel::parse(ir.source(), ir.sourceName());
  if (!parsed.ok())
    return parsed.status();
  auto t = std::make_unique<CpuTranslation>();
  t->parsed = std::move(*parsed);
  ParsedKernel &p = *t->parsed;

  mlir::attn::CpuPipelineOptions pipelineOptions;
  pipelineOptions.vectorWidth = options.vectorWidth;
  mlir::PassManager schedule(p.context.get());
  mlir::attn::buildAttnCpuSchedulePipeline(schedule, pipelineOptions);
  if (mlir::failed(schedule.run(*p.module)))
    return p.fail("scheduling failed");
  // The JIT compiles for this host: bf16 products need its instructions
  // (said first: on such a host the kernel's other rules do not matter).
  if (mlir::attn::ScheduleAttr s = p.kernel.getScheduleAttr();
      s && s.getDot() == 16 && !mlir::attn::hostHasBf16Dot()) {
    p.kernel.emitOpError()
        << "has schedule dot = 16 (bf16 products by vdpbf16ps), but this "
           "host's CPU ("
        << llvm::sys::getHostCPUName() << ") has no AVX512_BF16; use dot = 32";
    return p.fail("unsupported kernel");
  }
  if (mlir::failed(mlir::attn::checkCpuSupport(p.kernel)))
    return p.fail("unsupported kernel");
  t->resolved = viewOf(p.kernel, ir.view().mods);
  t->resolvedOp = printKernel(p.kernel);
  t->cifaceParams = cpuAbiArgs(t->resolved).size() +
                    mlir::attn::abi::kCpuTrailingArgs;
  // Everything the object code depends on.
  t->keyText = fmt::format("{}\n{}\n{}", cacheKeyHeader(kCpuKeyPrefix),
                           hostTargetId(), genericText(p.kernel));
  return std::unique_ptr<Translation>(std::move(t));
}

namespace {
/// `ir` parsed, with every default written out (what the CUDA emitters
/// take).
StatusOr<std::unique_ptr<ParsedKernel>> parseResolved(const KernelIr &ir) {
  auto parsed = ParsedKernel::parse(ir.source(), ir.sourceName());
  if (!parsed.ok())
    return parsed.status();
  ParsedKernel &p = **parsed;
  mlir::PassManager resolve(p.context.get());
  resolve.addPass(mlir::attn::createAttnResolveDefaults());
  if (mlir::failed(resolve.run(*p.module)))
    return p.fail("invalid kernel spec");
  return parsed;
}
} // namespace

StatusOr<LinearCudaCodegen> translateLinearForCuda(const KernelIr &ir) {
  auto parsed = parseResolved(ir);
  if (!parsed.ok())
    return parsed.status();
  ParsedKernel &p = **parsed;
  auto source = mlir::attn::linearKernelToCuda(p.kernel);
  if (mlir::failed(source))
    return p.fail("unsupported kernel");
  LinearCudaCodegen t;
  t.source = std::move(*source);
  t.entry = mlir::attn::linearEntryName(p.kernel);
  t.chunk = mlir::attn::linearChunk(p.kernel);
  t.sharedBytes = mlir::attn::linearSharedBytes(p.kernel);
  return t;
}

StatusOr<CudaCodegen> translateForCuda(const KernelIr &ir,
                                       const std::string &arch) {
  auto parsed = parseResolved(ir);
  if (!parsed.ok())
    return parsed.status();
  ParsedKernel &p = **parsed;
  mlir::attn::CudaSchedule schedule;
  auto source = mlir::attn::translateKernelToCuda(p.kernel, arch, &schedule);
  if (mlir::failed(source))
    return p.fail("unsupported kernel");
  CudaCodegen t;
  t.spec = viewOf(p.kernel, ir.view().mods);
  t.source = std::move(*source);
  t.resolvedText = printKernel(p.kernel);
  t.entry = mlir::attn::cudaEntryName(p.kernel);
  t.blockM = schedule.blockM;
  t.blockN = schedule.blockN;
  t.warps = schedule.warps;
  t.stages = schedule.stages;
  t.sharedBytes = schedule.sharedBytes;
  t.args = mlir::attn::cudaKernelArgs(p.kernel);
  t.params = mlir::attn::abi::cudaParamsLayout(t.args);
  return t;
}

} // namespace attnc::detail
