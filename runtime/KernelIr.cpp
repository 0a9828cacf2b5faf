// KernelIr: the op built, parsed, printed and rescheduled with the MLIR API.
#include "runtime/KernelIr.h"

#include "compiler/AttnToSCF/WorkSplit.h"
#include "dialect/Transforms/Passes.h"
#include "runtime/mlir/ParsedKernel.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/SHA256.h"

#include <fmt/format.h>

namespace attnc {

struct KernelIr::Impl {
  std::string text, source, sourceName;
  KernelSpec view;
  // Computed on first use (it parses and resolves the op again): only the
  // tuner and the dispatcher ask.
  mutable std::once_flag keyOnce;
  mutable std::string problemKey;
};

KernelIr::KernelIr(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
const std::string &KernelIr::text() const { return impl_->text; }
const std::string &KernelIr::source() const { return impl_->source; }
const std::string &KernelIr::sourceName() const { return impl_->sourceName; }
const KernelSpec &KernelIr::view() const { return impl_->view; }
namespace {

/// SHA-256 of the resolved op with its name and schedule removed (`p` is
/// a parse of its own, edited in place).
StatusOr<std::string> problemKeyOf(detail::ParsedKernel &p) {
  mlir::PassManager resolve(p.context.get());
  resolve.addPass(mlir::attn::createAttnResolveDefaults());
  if (mlir::failed(resolve.run(*p.module)))
    return p.fail("invalid kernel spec");
  p.kernel.setSymName("k");
  p.kernel.removeScheduleAttr();
  llvm::SHA256 hasher;
  hasher.update(detail::printKernel(p.kernel));
  return llvm::toHex(hasher.final(), /*LowerCase=*/true);
}

/// The #attn.schedule of `s`, each field left 0 taken from `old` (null:
/// none), with no prefetch level if `noPrefetch`; null, with a diagnostic,
/// when a field breaks a rule.
mlir::attn::ScheduleAttr
scheduleAttr(llvm::function_ref<mlir::InFlightDiagnostic()> emitError,
             mlir::MLIRContext *ctx, const Schedule &s,
             mlir::attn::ScheduleAttr old, bool noPrefetch = false) {
  namespace a = mlir::attn;
  auto pick = [&](int64_t given, int64_t (a::ScheduleAttr::*get)() const) {
    return given ? given : old ? (old.*get)() : 0;
  };
  return a::ScheduleAttr::getChecked(
      emitError, ctx, pick(s.blockM, &a::ScheduleAttr::getBlockM),
      pick(s.blockN, &a::ScheduleAttr::getBlockN),
      pick(s.microM, &a::ScheduleAttr::getMicroM),
      pick(s.microN, &a::ScheduleAttr::getMicroN),
      pick(s.vectorWidth, &a::ScheduleAttr::getVectorWidth),
      pick(s.threads, &a::ScheduleAttr::getThreads),
      pick(s.warps, &a::ScheduleAttr::getWarps),
      pick(s.stages, &a::ScheduleAttr::getStages),
      pick(s.splitKv, &a::ScheduleAttr::getSplitKv),
      pick(s.dot, &a::ScheduleAttr::getDot),
      noPrefetch ? 0 : pick(s.prefetch, &a::ScheduleAttr::getPrefetch));
}

} // namespace

const std::string &KernelIr::problemKey() const {
  std::call_once(impl_->keyOnce, [this] {
    auto parsed = detail::ParsedKernel::parse(impl_->text, impl_->sourceName);
    // The text was printed from a verified op: it parses and resolves.
    auto key = parsed.ok() ? problemKeyOf(**parsed)
                           : StatusOr<std::string>(parsed.status());
    impl_->problemKey = key.ok() ? *key : "invalid: " + key.status().message();
  });
  return impl_->problemKey;
}


KernelIr KernelIr::fromOp(mlir::attn::KernelOp op, const std::string *source,
                          const std::string &sourceName) {
  auto impl = std::make_shared<Impl>();
  impl->text = detail::printKernel(op);
  impl->source = source ? *source : impl->text;
  impl->sourceName = sourceName;
  impl->view = detail::viewOf(op);
  return KernelIr(std::move(impl));
}

StatusOr<KernelIr> KernelIr::parse(const std::string &text,
                                   const std::string &sourceName) {
  auto parsed = detail::ParsedKernel::parse(text, sourceName);
  if (!parsed.ok())
    return parsed.status();
  return fromOp((*parsed)->kernel, &text, sourceName);
}

namespace {
mlir::Type elementTypeNamed(mlir::MLIRContext *ctx, const std::string &name) {
  mlir::Builder b(ctx);
  if (name == "f32")
    return b.getF32Type();
  if (name == "f16")
    return b.getF16Type();
  if (name == "bf16")
    return b.getBF16Type();
  return {};
}
} // namespace

StatusOr<KernelIr> KernelIr::build(const KernelRequest &r,
                                   const std::string &sourceName) {
  namespace a = mlir::attn;
  detail::KernelContext c;
  mlir::MLIRContext *ctx = c.context.get();
  mlir::OpBuilder b(ctx);
  mlir::Type element = elementTypeNamed(ctx, r.elementType);
  if (!element)
    return Status::error(fmt::format(
        "element type '{}' must be f32, f16 or bf16", r.elementType));
  if (r.mask == MaskKind::Custom || r.scoreMod == ScoreMod::Custom)
    return Status::error("custom mask and score regions are written in spec "
                         "text (attn.kernel ... mask { ... }), not requested "
                         "by field");
  auto loc = mlir::FileLineColLoc::get(ctx, sourceName, 1, 1);
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  llvm::SmallVector<mlir::NamedAttribute> attrs = {
      b.getNamedAttr("sym_name", b.getStringAttr(r.name)),
      b.getNamedAttr("q_heads", b.getI64IntegerAttr(r.qHeads)),
      b.getNamedAttr("d_qk", b.getI64IntegerAttr(r.dQk)),
      b.getNamedAttr("element_type", mlir::TypeAttr::get(element))};
  auto optional = [&](const char *name, bool set, mlir::Attribute value) {
    if (set)
      attrs.push_back(b.getNamedAttr(name, value));
  };
  if (!r.kvElementType.empty()) {
    mlir::Type kv = elementTypeNamed(ctx, r.kvElementType);
    if (!kv)
      return Status::error(fmt::format(
          "kv element type '{}' must be f32, f16 or bf16", r.kvElementType));
    attrs.push_back(b.getNamedAttr("kv_element_type", mlir::TypeAttr::get(kv)));
  }
  optional("kv_heads", r.kvHeads != 0, b.getI64IntegerAttr(r.kvHeads));
  optional("d_v", r.dV != 0, b.getI64IntegerAttr(r.dV));
  optional("scale", r.scale != 0, b.getF64FloatAttr(r.scale));
  optional("softcap", r.softcap != 0, b.getF64FloatAttr(r.softcap));
  a::MaskKind kind = r.mask == MaskKind::Causal ? a::MaskKind::Causal
                     : r.mask == MaskKind::SlidingWindow
                         ? a::MaskKind::SlidingWindow
                         : a::MaskKind::None;
  a::Alignment align = r.alignment == Alignment::TopLeft ? a::Alignment::TopLeft
                       : r.alignment == Alignment::BottomRight
                           ? a::Alignment::BottomRight
                           : a::Alignment::Unset;
  bool window = r.mask == MaskKind::SlidingWindow;
  auto maskAttr = a::MaskAttr::getChecked(
      [&] { return mlir::emitError(loc); }, ctx, kind, align,
      window ? r.windowLeft : a::kAbsent, window ? r.windowRight : a::kAbsent);
  if (!maskAttr)
    return c.fail("invalid kernel spec");
  attrs.push_back(b.getNamedAttr("mask", maskAttr));
  optional("score_mod", r.scoreMod == ScoreMod::Alibi,
           a::ScoreModKindAttr::get(ctx, a::ScoreModKind::Alibi));
  attrs.push_back(b.getNamedAttr(
      "layout",
      a::LayoutAttr::get(ctx, r.layout == Layout::BHSD     ? a::Layout::BHSD
                              : r.layout == Layout::Varlen ? a::Layout::Varlen
                              : r.layout == Layout::Paged  ? a::Layout::Paged
                                                           : a::Layout::BSHD)));
  optional("mode", r.mode == Mode::Decode,
           a::ModeAttr::get(ctx, a::Mode::Decode));
  optional("lse", r.lse, b.getBoolAttr(true));
  const Schedule &s = r.schedule;
  if (s.blockM || s.blockN || s.microM || s.microN || s.vectorWidth ||
      s.threads || s.warps || s.stages || s.splitKv || s.dot ||
      s.prefetch) {
    auto sched = scheduleAttr([&] { return mlir::emitError(loc); }, ctx, s,
                              nullptr);
    if (!sched)
      return c.fail("invalid kernel spec");
    attrs.push_back(b.getNamedAttr("schedule", sched));
  }
  auto op = b.create<a::KernelOp>(loc, mlir::TypeRange{}, mlir::ValueRange{},
                                  attrs);
  if (mlir::failed(mlir::verify(op)))
    return c.fail("invalid kernel spec");
  // The printed text is the identity: a kernel built here and one written
  // by hand that prints the same are the same kernel.
  return fromOp(op, nullptr, sourceName);
}

StatusOr<KernelIr> KernelIr::withSchedule(const Schedule &s) const {
  auto parsed = detail::ParsedKernel::parse(source(), sourceName());
  if (!parsed.ok())
    return parsed.status();
  detail::ParsedKernel &p = **parsed;
  mlir::attn::ScheduleAttr old = p.kernel.getScheduleAttr();
  // A prefetch level (the op's, or the new one) that the new tiling cannot
  // use is dropped: a tuned block_m of 64 is not the decode rows form.
  const int64_t blockM = s.blockM ? s.blockM : old ? old.getBlockM() : 0;
  const bool noPrefetch =
      blockM && !mlir::attn::takesDecodeRowsForm(
                    p.kernel.getModeOrDefault() == mlir::attn::Mode::Decode,
                    blockM);
  auto sched = scheduleAttr([&] { return p.kernel.emitOpError(); },
                            p.context.get(), s, old, noPrefetch);
  if (!sched)
    return p.fail("invalid schedule");
  p.kernel.setScheduleAttr(sched);
  if (mlir::failed(mlir::verify(p.kernel)))
    return p.fail("invalid schedule");
  return fromOp(p.kernel, nullptr, sourceName());
}

StatusOr<KernelIr> KernelIr::withElementType(const std::string &type,
                                             const std::string &kvType) const {
  auto parsed = detail::ParsedKernel::parse(source(), sourceName());
  if (!parsed.ok())
    return parsed.status();
  detail::ParsedKernel &p = **parsed;
  for (const auto &[name, what] : {std::pair{&type, "element type"},
                                   std::pair{&kvType, "kv element type"}})
    if (!name->empty() && !elementTypeNamed(p.context.get(), *name))
      return Status::error(
          fmt::format("{} '{}' must be f32, f16 or bf16", what, *name));
  if (!type.empty()) {
    p.kernel.setElementType(elementTypeNamed(p.context.get(), type));
    p.kernel.removeKvElementTypeAttr();
  }
  if (!kvType.empty())
    p.kernel.setKvElementType(elementTypeNamed(p.context.get(), kvType));
  if (mlir::failed(mlir::verify(p.kernel)))
    return p.fail("invalid kernel spec");
  return fromOp(p.kernel, nullptr, sourceName());
}

StatusOr<KernelIr> KernelIr::withProbs() const {
  auto parsed = detail::ParsedKernel::parse(source(), sourceName());
  if (!parsed.ok())
    return parsed.status();
  detail::ParsedKernel &p = **parsed;
  p.kernel.setProbsAttr(mlir::BoolAttr::get(p.context.get(), true));
  if (mlir::failed(mlir::verify(p.kernel)))
    return p.fail("invalid kernel spec");
  return fromOp(p.kernel, nullptr, sourceName());
}

} // namespace attnc
