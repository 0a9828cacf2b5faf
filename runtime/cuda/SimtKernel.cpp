#include "runtime/cuda/SimtKernel.h"

#include "runtime/detail/Checks.h"

#include "runtime/Half.h"
#include "runtime/cuda/HostRun.h"
#include "runtime/cuda/Params.h"

#include <fmt/format.h>

#include <cstring>
#include <optional>

namespace attnc::cuda {
namespace {

/// The emulated target compiles what the GPU target would for sm_80.
constexpr const char *kArch = "sm_80";

/// A translation whose "bytes" are the kernel text: the host compile
/// happens at load, into a shared object the emulator keeps.
class SimtTranslation final : public Translation {
public:
  SimtTranslation(detail::CudaCodegen codegen, std::string key)
      : codegen(std::move(codegen)), keyText(std::move(key)) {}
  const KernelSpec &spec() const override { return codegen.spec; }
  const std::string &key() const override { return keyText; }
  const std::string &resolvedText() const override {
    return codegen.resolvedText;
  }
  StatusOr<std::string> compile() override { return codegen.source; }

  detail::CudaCodegen codegen;
  std::string keyText;
};

} // namespace

SimtKernel::SimtKernel(detail::CudaCodegen codegen,
                       std::unique_ptr<simt::Module> module)
    : codegen_(std::move(codegen)), module_(std::move(module)) {}
SimtKernel::~SimtKernel() = default;

Status SimtKernel::launch(const AttentionArgs &args,
                          const LaunchOptions &options) const {
  if (options.stream)
    return Status::error("stream must be null for the cuda-sim target");
  if (options.kvSplits)
    return Status::error("kvSplits must be 0 for the cuda-sim target");
  return launch(args, options.threads, nullptr);
}

Status SimtKernel::launch(const AttentionArgs &a, unsigned threads,
                          simt::LaunchReport *report,
                          const std::vector<simt::GlobalBuffer> &extra) const {
  const KernelSpec &s = codegen_.spec;
  std::vector<Sequence> sequences;
  if (Status st = checkCudaArgs(s, a, Memory::Host, &sequences); !st.ok())
    return st;
  simt::LaunchChecks checks;
  checks.threads = threads;
  checks.buffers = extra;
  // Varlen and paged: the table, in guarded memory the kernel's reads are
  // checked in; appends come after everything that can fail but the run.
  std::optional<SequenceTable> table;
  std::vector<simt::GuardedBuffer> tables;
  if (takesSequences(s.layout)) {
    table = sequenceTable(sequences);
    for (auto [name, data] :
         {std::pair{"sequence table", &table->rowData},
          std::pair{"page list", &table->pageData}}) {
      auto buffer = simt::GuardedBuffer::allocate(name, data->size() * 4);
      if (!buffer.ok())
        return buffer.status();
      if (!data->empty())
        std::memcpy(buffer->data(), data->data(), data->size() * 4);
      checks.buffers.push_back(buffer->global());
      tables.push_back(std::move(*buffer));
    }
    table->rows = static_cast<const int32_t *>(tables[0].data());
    table->pages = static_cast<const int32_t *>(tables[1].data());
  }
  const SequenceTable *t = table ? &*table : nullptr;
  std::string params = packParams(codegen_, a, t);
  const LaunchGrid g = launchGrid(codegen_, a, t);
  appendNewKeys(sequences); // none for dense calls
  if (g.empty())
    return Status::success();
  // Every tensor the kernel touches, by the bytes its (checked) view spans.
  auto add = [&](const char *name, const TensorView &t) {
    const detail::ByteSpan span = detail::byteSpan(t);
    checks.buffers.push_back({name, t.data, span.end - span.begin});
  };
  for (auto [name, view] :
       {std::pair{"q", &a.q}, std::pair{"k", &a.k}, std::pair{"v", &a.v},
        std::pair{"o", &a.o}})
    add(name, *view);
  if (s.lse)
    add("lse", a.lse);
  if (s.probs)
    add("probs", a.probs);
  std::vector<const InputTensor *> extraInputs;
  for (const InputTensor &in : a.inputs)
    extraInputs.push_back(&in);
  if (a.blockMask.given())
    for (const InputTensor *part :
         {&a.blockMask.numBlocks, &a.blockMask.indices,
          &a.blockMask.fullNumBlocks, &a.blockMask.fullIndices})
      extraInputs.push_back(part);
  for (const InputTensor *in : extraInputs)
    checks.buffers.push_back({in->name, in->data, inputBytes(*in)});
  simt::Dim3 grid{g.x, g.y, g.z};
  simt::Dim3 block{g.threads, 1, 1};
  Status st = module_->launch(grid, block, static_cast<size_t>(codegen_.sharedBytes),
                              params.data(), params.size(), checks, report);
  for (const simt::GuardedBuffer &b : tables)
    if (Status guard = b.checkGuards(); st.ok() && !guard.ok())
      st = guard;
  return st;
}

StatusOr<std::unique_ptr<Translation>>
SimtBackend::translate(const KernelIr &ir) const {
  auto codegen = detail::translateForCuda(ir, kArch);
  if (!codegen.ok())
    return codegen.status();
  std::string key = detail::cacheKeyHeader("attnc-cuda-sim-kernel") + "\n" +
                    codegen->source;
  return std::unique_ptr<Translation>(
      new SimtTranslation(std::move(*codegen), std::move(key)));
}

StatusOr<std::shared_ptr<const CompiledKernel>>
SimtBackend::load(const Translation &translation,
                  const std::string &bytes) const {
  // This backend made the translation (KernelCache passes it back).
  const auto &t = static_cast<const SimtTranslation &>(translation);
  simt::CompileOptions options;
  options.fileName = t.spec().name + ".cu";
  auto module = simt::Module::compile(bytes, options);
  if (!module.ok())
    return module.status();
  return std::shared_ptr<const CompiledKernel>(
      std::make_shared<SimtKernel>(t.codegen, std::move(*module)));
}

Status simtRunFromHost(const SimtKernel &kernel, const AttentionArgs &args,
                       unsigned threads, simt::LaunchReport *report) {
  const KernelSpec &s = kernel.spec();
  HalfKind kind;
  if (!halfKindOf(s.elementType, kind))
    return Status::error("the cuda-sim target runs f16 and bf16 kernels only");
  // The staged buffers are the emulated device memory: guarded.
  std::vector<simt::GuardedBuffer> buffers;
  auto staged = StagedCall::stage(
      s, "simtRunFromHost", args,
      [&](const std::string &name, size_t bytes) -> StatusOr<void *> {
        auto buffer = simt::GuardedBuffer::allocate(name, bytes);
        if (!buffer.ok())
          return buffer.status();
        buffers.push_back(std::move(*buffer));
        return buffers.back().data();
      });
  if (!staged.ok())
    return staged.status();
  if (Status st = kernel.launch(staged->args(), threads, report); !st.ok())
    return st;
  for (const simt::GuardedBuffer &b : buffers)
    if (Status st = b.checkGuards(); !st.ok())
      return st;
  return staged->unstage(args);
}

} // namespace attnc::cuda
