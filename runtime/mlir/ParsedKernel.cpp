#include "runtime/mlir/ParsedKernel.h"

#include "compiler/Pipelines/Pipelines.h"
#include "dialect/AttnDialect.h"
#include "runtime/mlir/ModCompile.h"

#include "mlir/Parser/Parser.h"

#include <fmt/format.h>

namespace attnc::detail {

KernelContext::KernelContext() {
  mlir::attn::registerAttnDialects(registry);
  context = std::make_unique<mlir::MLIRContext>(
      registry, mlir::MLIRContext::Threading::DISABLED);
  // The attn dialect, for the builder; the parser and the passes load the
  // others they meet.
  context->getOrLoadDialect<mlir::attn::AttnDialect>();
  // The source line under each error says which spec; a dump of the op in
  // generic form after it would only bury the message.
  context->printOpOnDiagnostic(false);
  diagStream = std::make_unique<llvm::raw_string_ostream>(diagnostics);
  handler = std::make_unique<mlir::SourceMgrDiagnosticHandler>(
      sourceMgr, context.get(), *diagStream);
}

Status KernelContext::fail(const std::string &what) const {
  std::string text = diagStream->str();
  while (!text.empty() && text.back() == '\n')
    text.pop_back();
  return Status::error(text.empty() ? what : what + ":\n" + text);
}

StatusOr<std::unique_ptr<ParsedKernel>>
ParsedKernel::parse(const std::string &text, const std::string &sourceName) {
  auto p = std::make_unique<ParsedKernel>();
  p->sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(text, sourceName), llvm::SMLoc());
  p->module = mlir::parseSourceFile<mlir::ModuleOp>(
      p->sourceMgr, mlir::ParserConfig(p->context.get()));
  if (!p->module)
    return p->fail("invalid kernel spec");
  auto kernels = llvm::to_vector(p->module->getOps<mlir::attn::KernelOp>());
  if (kernels.size() != 1)
    return Status::error(fmt::format(
        "{}: expected exactly one attn.kernel, found {}", sourceName,
        kernels.size()));
  p->kernel = kernels.front();
  return p;
}

KernelSpec viewOf(mlir::attn::KernelOp op,
                  std::shared_ptr<const ModPrograms> mods) {
  namespace a = mlir::attn;
  KernelSpec s;
  s.name = op.getSymName().str();
  s.qHeads = static_cast<int64_t>(op.getQHeads());
  s.kvHeads = op.getKvHeadsOrDefault();
  s.dQk = static_cast<int64_t>(op.getDQk());
  s.dV = op.getDvOrDefault();
  auto name = [](mlir::Type t) {
    std::string text;
    llvm::raw_string_ostream(text) << t;
    return text;
  };
  s.elementType = name(op.getElementType());
  s.kvElementType = name(op.getKvElementTypeOrDefault());
  s.scale = op.getScaleOrDefault();
  s.softcap = op.getSoftcapOrDefault();
  a::MaskAttr mask = op.getMaskOrDefault();
  switch (mask.getKind()) {
  case a::MaskKind::Causal:
    s.mask = MaskKind::Causal;
    break;
  case a::MaskKind::SlidingWindow:
    s.mask = MaskKind::SlidingWindow;
    break;
  case a::MaskKind::Custom:
    s.mask = MaskKind::Custom;
    break;
  default:
    s.mask = MaskKind::None;
  }
  s.alignment = mask.getAlignment() == a::Alignment::TopLeft
                    ? Alignment::TopLeft
                : mask.getAlignment() == a::Alignment::BottomRight
                    ? Alignment::BottomRight
                    : Alignment::Unset;
  s.windowLeft = mask.getLeft() == a::kAbsent ? 0 : mask.getLeft();
  s.windowRight = mask.getRight() == a::kAbsent ? 0 : mask.getRight();
  switch (op.getScoreModOrDefault()) {
  case a::ScoreModKind::Alibi:
    s.scoreMod = ScoreMod::Alibi;
    break;
  case a::ScoreModKind::Custom:
    s.scoreMod = ScoreMod::Custom;
    break;
  default:
    s.scoreMod = ScoreMod::None;
  }
  switch (op.getLayoutOrDefault()) {
  case a::Layout::BSHD:
    s.layout = Layout::BSHD;
    break;
  case a::Layout::BHSD:
    s.layout = Layout::BHSD;
    break;
  case a::Layout::Varlen:
    s.layout = Layout::Varlen;
    break;
  case a::Layout::Paged:
    s.layout = Layout::Paged;
    break;
  }
  s.mode = op.getModeOrDefault() == a::Mode::Decode ? Mode::Decode
                                                    : Mode::Prefill;
  s.lse = op.getLseOrDefault();
  s.probs = op.getProbsOrDefault();
  s.linear = op.getVariantOrDefault() == a::Variant::Linear;
  switch (op.getFeatureMapOrDefault()) {
  case a::FeatureMap::Elu1:
    s.featureMap = FeatureMap::Elu1;
    break;
  case a::FeatureMap::Relu:
    s.featureMap = FeatureMap::Relu;
    break;
  case a::FeatureMap::Identity:
    s.featureMap = FeatureMap::Identity;
    break;
  case a::FeatureMap::Custom:
    s.featureMap = FeatureMap::Custom;
    break;
  }
  s.normalize = op.getNormalizeOrDefault();
  s.eps = op.getEpsOrDefault();
  s.inputs = inputsOf(op);
  if (a::BlockSparseAttr blocks = op.getBlockSparseAttr()) {
    s.blockQ = blocks.getBlockQ();
    s.blockKv = blocks.getBlockKv();
  }
  s.mods = mods ? std::move(mods) : compileMods(op);
  if (a::ScheduleAttr sched = op.getScheduleAttr()) {
    s.blockM = sched.getBlockM();
    s.blockN = sched.getBlockN();
    s.microM = sched.getMicroM();
    s.microN = sched.getMicroN();
    s.vectorWidth = sched.getVectorWidth();
    s.threads = sched.getThreads();
    s.dot = sched.getDot();
    s.prefetch = sched.getPrefetch();
  }
  return s;
}

std::string printKernel(mlir::attn::KernelOp op) {
  std::string text;
  llvm::raw_string_ostream os(text);
  op->print(os);
  os << "\n";
  return text;
}

} // namespace attnc::detail
