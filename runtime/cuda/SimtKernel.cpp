#include "runtime/cuda/SimtKernel.h"

#include "runtime/Half.h"
#include "runtime/cuda/Params.h"

#include <fmt/format.h>

#include <cstring>



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

/// The bytes a strided view spans, from its first element.
size_t extentBytes(const int64_t *sizes, const int64_t *strides, size_t rank,
                   int64_t elementBytes) {
  int64_t last = 0;
  for (size_t i = 0; i < rank; ++i) {
    if (sizes[i] <= 0)
      return 0;
    last += (sizes[i] - 1) * strides[i];
  }
  return static_cast<size_t>((last + 1) * elementBytes);
}

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
  if (Status st = checkCudaArgs(s, a, Memory::Host); !st.ok())
    return st;
  std::string params = packParams(codegen_, a);
  if (a.q.sizes[0] == 0 || a.q.sizes[2] == 0)
    return Status::success();
  simt::LaunchChecks checks;
  checks.threads = threads;
  checks.buffers = extra;
  for (auto [name, view] :
       {std::pair{"q", &a.q}, std::pair{"k", &a.k}, std::pair{"v", &a.v},
        std::pair{"o", &a.o}})
    checks.buffers.push_back(
        {name, view->data,
         extentBytes(view->sizes.data(), view->strides.data(), 4, 2)});
  if (s.lse)
    checks.buffers.push_back(
        {"lse", a.lse.data,
         extentBytes(a.lse.sizes.data(), a.lse.strides.data(), 3, 4)});
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
  const LaunchGrid g = launchGrid(codegen_, a);
  simt::Dim3 grid{g.x, g.y, g.z};
  simt::Dim3 block{g.threads, 1, 1};
  return module_->launch(grid, block, static_cast<size_t>(codegen_.sharedBytes),
                         params.data(), params.size(), checks, report);
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
  if (Status st = checkF32HostViews("simtRunFromHost", args); !st.ok())
    return st;
  const DType element = kind == HalfKind::BF16 ? DType::BF16 : DType::F16;
  std::vector<simt::GuardedBuffer> buffers;
  buffers.reserve(5 + args.inputs.size());
  // A dense copy of `host` in guarded memory: half bits (rounded in place
  // in `host` first) or f32.
  auto dense = [&](const char *name, const TensorView &host, bool half,
                   bool copyIn) -> StatusOr<TensorView> {
    TensorView d = denseView(nullptr, s.layout, host.batch(), host.seq(),
                             host.heads(), host.dim());
    if (!half) // LSE: [b, h, s]
      d = lseView(nullptr, host.batch(), host.heads(), host.seq());
    int64_t count = host.batch() * host.heads() * host.seq() * host.dim();
    auto buffer = simt::GuardedBuffer::allocate(name, count * (half ? 2 : 4));
    if (!buffer.ok())
      return buffer.status();
    d.data = buffer->data();
    d.dtype = half ? element : DType::F32;
    if (copyIn)
      for (int64_t b = 0; b < host.batch(); ++b)
        for (int64_t h = 0; h < host.heads(); ++h)
          for (int64_t q = 0; q < host.seq(); ++q)
            for (int64_t e = 0; e < host.dim(); ++e) {
              float &x = host.at(b, h, q, e);
              x = roundToHalf(x, kind);
              d.at<uint16_t>(b, h, q, e) = toHalfBits(x, kind);
            }
    buffers.push_back(std::move(*buffer));
    return d;
  };
  AttentionArgs device;
  for (auto [name, host, out, copyIn] :
       {std::tuple{"q", &args.q, &device.q, true},
        std::tuple{"k", &args.k, &device.k, true},
        std::tuple{"v", &args.v, &device.v, true},
        std::tuple{"o", &args.o, &device.o, false}}) {
    auto d = dense(name, *host, true, copyIn);
    if (!d.ok())
      return d.status();
    *out = *d;
  }
  if (s.lse) {
    auto d = dense("lse", args.lse, false, false);
    if (!d.ok())
      return d.status();
    device.lse = *d;
  }
  // Declared inputs and the block mask: copied as they are (f32 or i32,
  // their own strides) into guarded memory.
  auto copyIn = [&](const InputTensor &in) -> StatusOr<InputTensor> {
    size_t bytes = inputBytes(in);
    auto buffer = simt::GuardedBuffer::allocate(in.name, bytes);
    if (!buffer.ok())
      return buffer.status();
    if (bytes)
      std::memcpy(buffer->data(), in.data, bytes);
    InputTensor copy = in;
    copy.data = buffer->data();
    buffers.push_back(std::move(*buffer));
    return copy;
  };
  if (Status st = copyInputsAndBlockMask(args, device, copyIn); !st.ok())
    return st;
  if (Status st = kernel.launch(device, threads, report); !st.ok())
    return st;
  for (const simt::GuardedBuffer &b : buffers)
    if (Status st = b.checkGuards(); !st.ok())
      return st;
  for (int64_t b = 0; b < args.o.batch(); ++b)
    for (int64_t h = 0; h < args.o.heads(); ++h)
      for (int64_t q = 0; q < args.o.seq(); ++q) {
        for (int64_t e = 0; e < args.o.dim(); ++e)
          args.o.at(b, h, q, e) =
              fromHalfBits(device.o.at<uint16_t>(b, h, q, e), kind);
        if (s.lse)
          args.lse.at(b, h, q, 0) = device.lse.at(b, h, q, 0);
      }
  return Status::success();
}

} // namespace attnc::cuda
