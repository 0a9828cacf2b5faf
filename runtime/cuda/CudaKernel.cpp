#include "runtime/cuda/CudaKernel.h"

#include "runtime/cuda/Driver.h"
#include "runtime/cuda/Params.h"
#include "runtime/cuda/Nvrtc.h"

#include <fmt/format.h>

#include <cstring>



namespace attnc::cuda {
namespace {

constexpr int kMaxDynamicSharedMemoryAttribute = 8; // CU_FUNC_ATTRIBUTE_...

} // namespace

CudaTranslation::CudaTranslation(detail::CudaCodegen codegen, std::string arch,
                                 std::string key)
    : codegen_(std::move(codegen)), arch_(std::move(arch)), key_(std::move(key)) {}

StatusOr<std::string> CudaTranslation::compile() {
  auto nvrtc = Nvrtc::get();
  if (!nvrtc.ok())
    return nvrtc.status();
  auto out = (*nvrtc)->compile(codegen_.source, codegen_.spec.name + ".cu",
                               {arch_, {}});
  if (!out.ok())
    return out.status();
  return std::move(out->cubin);
}

struct CudaKernel::Impl {
  KernelSpec spec;
  detail::CudaCodegen codegen; // the ABI and schedule, without the source
  std::string arch;
  int64_t sharedBytes = 0;
  void *module = nullptr; // owned: unloaded with the kernel
  void *function = nullptr;
  int ordinal = 0;
  ~Impl() {
    if (!module)
      return;
    if (auto driver = Driver::get(); driver.ok() && (*driver)->use(ordinal).ok())
      (*driver)->api().moduleUnload(module);
  }
};

CudaKernel::CudaKernel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CudaKernel::~CudaKernel() = default;
const KernelSpec &CudaKernel::spec() const { return impl_->spec; }
const std::string &CudaKernel::arch() const { return impl_->arch; }

StatusOr<std::unique_ptr<CudaKernel>>
CudaKernel::load(const CudaTranslation &translation, const std::string &cubin,
                 int ordinal) {
  auto driver = Driver::get();
  if (!driver.ok())
    return driver.status();
  if (Status st = (*driver)->use(ordinal); !st.ok())
    return st;
  const std::string arch = (*driver)->devices()[ordinal].arch();
  if (translation.arch() != arch)
    return Status::error(fmt::format(
        "a kernel compiled for {} cannot load on device {} ({})",
        translation.arch(), ordinal, arch));
  const detail::CudaCodegen &t = translation.codegen();
  const DriverApi &api = (*driver)->api();
  auto impl = std::make_unique<Impl>();
  impl->ordinal = ordinal;
  if (int rc = api.moduleLoadData(&impl->module, cubin.data()))
    return Status::error("cuModuleLoadData: " + (*driver)->describe(rc));
  if (int rc = api.moduleGetFunction(&impl->function, impl->module,
                                     t.entry.c_str()))
    return Status::error("cuModuleGetFunction: " + (*driver)->describe(rc));
  if (int rc = api.funcSetAttribute(impl->function,
                                    kMaxDynamicSharedMemoryAttribute,
                                    static_cast<int>(t.sharedBytes)))
    return Status::error(fmt::format("cannot opt in to {} bytes of shared "
                                     "memory: {}",
                                     t.sharedBytes, (*driver)->describe(rc)));
  impl->spec = t.spec;
  impl->codegen = t;
  impl->codegen.source.clear();
  impl->arch = arch;
  impl->sharedBytes = t.sharedBytes;
  return std::unique_ptr<CudaKernel>(new CudaKernel(std::move(impl)));
}

Status CudaKernel::launch(const AttentionArgs &a,
                          const LaunchOptions &options) const {
  if (options.threads || options.kvSplits)
    return Status::error("threads and kvSplits must be 0 for the cuda target");
  const KernelSpec &s = impl_->spec;
  if (Status st = checkCudaArgs(s, a, Memory::Device); !st.ok())
    return st;
  return launchOn(packParams(impl_->codegen, a),
                  cuda::launchGrid(impl_->codegen, a), options.stream);
}

Status CudaKernel::launchChecked(const AttentionArgs &device,
                                 const SequenceTable &table,
                                 void *stream) const {
  return launchOn(packParams(impl_->codegen, device, &table),
                  cuda::launchGrid(impl_->codegen, device, &table), stream);
}

Status CudaKernel::launchOn(const std::string &params, const LaunchGrid &g,
                              void *stream) const {
  if (g.empty())
    return Status::success();
  auto driver = Driver::get();
  if (!driver.ok())
    return driver.status();
  if (Status st = (*driver)->use(impl_->ordinal); !st.ok())
    return st;
  std::string bytes = params;
  void *args[] = {bytes.data()};
  if (int rc = (*driver)->api().launchKernel(
          impl_->function, g.x, g.y, g.z, g.threads, 1, 1,
          static_cast<unsigned>(impl_->sharedBytes), stream, args, nullptr))
    return Status::error("cuLaunchKernel: " + (*driver)->describe(rc));
  return Status::success();
}

CudaBackend::CudaBackend(std::string arch, int ordinal)
    : arch_(std::move(arch)), ordinal_(ordinal) {}

StatusOr<CudaBackend> CudaBackend::forDevice(int ordinal) {
  auto driver = Driver::get();
  if (!driver.ok())
    return driver.status();
  if (ordinal < 0 || ordinal >= static_cast<int>((*driver)->devices().size()))
    return Status::error(fmt::format("no CUDA device {} (this machine has {})",
                                     ordinal, (*driver)->devices().size()));
  return CudaBackend((*driver)->devices()[ordinal].arch(), ordinal);
}

std::string CudaBackend::archOrDefault(int ordinal) {
  auto driver = Driver::get();
  if (driver.ok() && ordinal >= 0 &&
      ordinal < static_cast<int>((*driver)->devices().size()))
    return (*driver)->devices()[ordinal].arch();
  return "sm_90";
}

std::string CudaBackend::id() const {
  return fmt::format("cuda arch={} device={}", arch_, ordinal_);
}

StatusOr<std::unique_ptr<Translation>>
CudaBackend::translate(const KernelIr &ir) const {
  auto codegen = detail::translateForCuda(ir, arch_);
  if (!codegen.ok())
    return codegen.status();
  auto nvrtc = Nvrtc::get();
  if (!nvrtc.ok())
    return nvrtc.status();
  // Everything a CUBIN depends on: the CUDA C++ (which spells out the
  // resolved spec and schedule), the arch and the NVRTC version.
  std::string key = fmt::format(
      "{}\narch={} nvrtc={}.{}\n{}", detail::cacheKeyHeader("attnc-cuda-kernel"),
      arch_, (*nvrtc)->majorVersion(), (*nvrtc)->minorVersion(), codegen->source);
  return std::unique_ptr<Translation>(
      new CudaTranslation(std::move(*codegen), arch_, std::move(key)));
}

StatusOr<std::shared_ptr<const CompiledKernel>>
CudaBackend::load(const Translation &translation,
                  const std::string &bytes) const {
  if (ordinal_ < 0)
    return Status::error(fmt::format(
        "this cuda backend compiles for {} only; it has no device to load "
        "kernels on",
        arch_));
  // This backend made the translation (KernelCache passes it back).
  auto kernel = CudaKernel::load(static_cast<const CudaTranslation &>(translation),
                                 bytes, ordinal_);
  if (!kernel.ok())
    return kernel.status();
  return std::shared_ptr<const CompiledKernel>(std::move(*kernel));
}

} // namespace attnc::cuda
