// Spec text -> resolved, scheduled attn.kernel -> LLVM -> host object code.
#include "runtime/detail/CpuCompiler.h"

#include "compiler/AttnToSCF/AttnToSCF.h"
#include "compiler/Pipelines/Pipelines.h"
#include "compiler/Target/CUDA/AttnToCuda.h"
#include "dialect/Transforms/Passes.h"
#include "dialect/AttnOps.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <vector>

namespace attnc::detail {
namespace {

void initializeLlvmOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

KernelSpec specOf(mlir::attn::KernelOp op) {
  using namespace mlir::attn;
  KernelSpec s;
  s.name = op.getSymName().str();
  s.qHeads = static_cast<int64_t>(op.getQHeads());
  s.kvHeads = op.getKvHeadsOrDefault();
  s.dQk = static_cast<int64_t>(op.getDQk());
  s.dV = op.getDvOrDefault();
  std::string type;
  llvm::raw_string_ostream(type) << op.getElementType();
  s.elementType = type;
  s.scale = op.getScaleOrDefault();
  s.softcap = op.getSoftcapOrDefault();
  MaskAttr mask = op.getMaskOrDefault();
  s.mask = mask.getKind() == mlir::attn::MaskKind::Causal
               ? attnc::MaskKind::Causal
           : mask.getKind() == mlir::attn::MaskKind::SlidingWindow
               ? attnc::MaskKind::SlidingWindow
               : attnc::MaskKind::None;
  s.alignment = mask.getAlignment() == mlir::attn::Alignment::TopLeft
                    ? attnc::Alignment::TopLeft
                : mask.getAlignment() == mlir::attn::Alignment::BottomRight
                    ? attnc::Alignment::BottomRight
                    : attnc::Alignment::Unset;
  s.windowLeft = mask.getLeft() == kAbsent ? 0 : mask.getLeft();
  s.windowRight = mask.getRight() == kAbsent ? 0 : mask.getRight();
  s.layout = op.getLayoutOrDefault() == mlir::attn::Layout::BHSD
                 ? attnc::Layout::BHSD
                 : attnc::Layout::BSHD;
  s.mode = op.getModeOrDefault() == mlir::attn::Mode::Decode
               ? attnc::Mode::Decode
               : attnc::Mode::Prefill;
  s.lse = op.getLseOrDefault();
  if (ScheduleAttr sched = op.getScheduleAttr()) { // absent before scheduling
    s.blockM = sched.getBlockM();
    s.blockN = sched.getBlockN();
    s.microM = sched.getMicroM();
    s.microN = sched.getMicroN();
    s.vectorWidth = sched.getVectorWidth();
    s.threads = sched.getThreads();
  }
  return s;
}

} // namespace

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

namespace {
/// One attn.kernel parsed from spec text, with its MLIR context and the
/// diagnostics collected so far (with source locations) for error messages.
struct ParsedSpec {
  mlir::DialectRegistry registry;
  std::unique_ptr<mlir::MLIRContext> context;
  llvm::SourceMgr sourceMgr;
  std::string diagnostics;
  std::unique_ptr<llvm::raw_string_ostream> diagStream;
  std::unique_ptr<mlir::SourceMgrDiagnosticHandler> handler;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::attn::KernelOp kernel;

  /// The diagnostics so far, under a one-line summary.
  Status fail(const std::string &what) const {
    std::string text = diagStream->str();
    while (!text.empty() && text.back() == '\n')
      text.pop_back();
    return Status::error(text.empty() ? what : what + ":\n" + text);
  }

  /// Parses and verifies `source`, which must hold exactly one attn.kernel.
  static StatusOr<std::unique_ptr<ParsedSpec>> parse(const std::string &source,
                                                      const std::string &name) {
    auto p = std::make_unique<ParsedSpec>();
    mlir::attn::registerAttnDialects(p->registry);
    p->context = std::make_unique<mlir::MLIRContext>(
        p->registry, mlir::MLIRContext::Threading::DISABLED);
    // The source line under each error says which spec; a dump of the op
    // in generic form after it would only bury the message.
    p->context->printOpOnDiagnostic(false);
    p->sourceMgr.AddNewSourceBuffer(
        llvm::MemoryBuffer::getMemBufferCopy(source, name), llvm::SMLoc());
    p->diagStream = std::make_unique<llvm::raw_string_ostream>(p->diagnostics);
    p->handler = std::make_unique<mlir::SourceMgrDiagnosticHandler>(
        p->sourceMgr, p->context.get(), *p->diagStream);
    p->module = mlir::parseSourceFile<mlir::ModuleOp>(
        p->sourceMgr, mlir::ParserConfig(p->context.get()));
    if (!p->module)
      return p->fail("invalid kernel spec");
    auto kernels = llvm::to_vector(p->module->getOps<mlir::attn::KernelOp>());
    if (kernels.size() != 1)
      return Status::error(fmt::format(
          "{}: expected exactly one attn.kernel, found {}", name,
          kernels.size()));
    p->kernel = kernels.front();
    return p;
  }
};
} // namespace

struct CpuFrontEnd::Impl {
  std::unique_ptr<ParsedSpec> parsed;
  KernelSpec spec;
  std::string canonical;
};

CpuFrontEnd::CpuFrontEnd(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CpuFrontEnd::~CpuFrontEnd() = default;
const KernelSpec &CpuFrontEnd::spec() const { return impl_->spec; }
const std::string &CpuFrontEnd::canonical() const { return impl_->canonical; }

StatusOr<std::unique_ptr<CpuFrontEnd>>
CpuFrontEnd::run(const std::string &source, const CpuCompileOptions &options) {
  auto parsed = ParsedSpec::parse(source, options.sourceName);
  if (!parsed.ok())
    return parsed.status();
  auto impl = std::make_unique<Impl>();
  impl->parsed = std::move(*parsed);
  ParsedSpec &p = *impl->parsed;

  mlir::attn::CpuPipelineOptions pipelineOptions;
  pipelineOptions.vectorWidth = options.vectorWidth;
  mlir::PassManager schedule(p.context.get());
  mlir::attn::buildAttnCpuSchedulePipeline(schedule, pipelineOptions);
  if (mlir::failed(schedule.run(*p.module)))
    return p.fail("scheduling failed");
  mlir::attn::KernelOp kernel = p.kernel;
  if (mlir::failed(mlir::attn::checkCpuSupport(kernel)))
    return p.fail("unsupported kernel");
  impl->spec = specOf(kernel);
  llvm::raw_string_ostream canonical(impl->canonical);
  kernel->print(canonical, mlir::OpPrintingFlags().printGenericOpForm());
  return std::unique_ptr<CpuFrontEnd>(new CpuFrontEnd(std::move(impl)));
}

StatusOr<std::string> CpuFrontEnd::emitObject() {
  initializeLlvmOnce();
  ParsedSpec &p = *impl_->parsed;
  mlir::PassManager codegen(p.context.get());
  mlir::attn::buildAttnCpuCodegenPipeline(codegen);
  if (mlir::failed(codegen.run(*p.module)))
    return p.fail("lowering failed");

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

StatusOr<CudaTranslation> translateToCuda(const std::string &specSource,
                                          const std::string &arch,
                                          const std::string &sourceName) {
  auto parsed = ParsedSpec::parse(specSource, sourceName);
  if (!parsed.ok())
    return parsed.status();
  ParsedSpec &p = **parsed;
  mlir::PassManager resolve(p.context.get());
  resolve.addPass(mlir::attn::createAttnResolveDefaults());
  if (mlir::failed(resolve.run(*p.module)))
    return p.fail("invalid kernel spec");
  mlir::attn::KernelOp kernel = p.kernel;
  mlir::attn::CudaSchedule schedule;
  auto source = mlir::attn::translateKernelToCuda(kernel, arch, &schedule);
  if (mlir::failed(source))
    return p.fail("unsupported kernel");
  CudaTranslation t;
  t.spec = specOf(kernel);
  t.source = std::move(*source);
  t.blockM = schedule.blockM;
  t.blockN = schedule.blockN;
  t.warps = schedule.warps;
  t.stages = schedule.stages;
  t.sharedBytes = schedule.sharedBytes;
  return t;
}

} // namespace attnc::detail
