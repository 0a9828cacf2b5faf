#include "runtime/cuda/CudaKernel.h"

#include "runtime/cuda/Driver.h"
#include "runtime/detail/CpuCompiler.h"

#include <fmt/format.h>

namespace attnc::cuda {
namespace {

constexpr int kMaxDynamicSharedMemoryAttribute = 8; // CU_FUNC_ATTRIBUTE_...

/// Mirrors `Params` in compiler/Target/CUDA/FlashForward.cuh.inc.
struct KernelParams {
  const void *q, *k, *v;
  void *o;
  float *lse;
  long long q_stride[3], k_stride[3], v_stride[3], o_stride[3];
  long long lse_stride[3];
  int seq_q, seq_kv;
};

Status checkTensor(const char *name, const DeviceTensor &t, int64_t heads,
                   int64_t dim) {
  if (!t.data)
    return Status::error(fmt::format("{}: device pointer is null", name));
  if (t.sizes[1] != heads || t.sizes[3] != dim)
    return Status::error(fmt::format(
        "{}: has {} heads of dim {}, but the kernel expects {} of dim {}", name,
        t.sizes[1], t.sizes[3], heads, dim));
  if (t.strides[3] != 1)
    return Status::error(fmt::format("{}: the head-dim stride must be 1", name));
  // cp.async moves 16-byte chunks: 8 elements of 2 bytes.
  if (t.data % 16 || t.strides[0] % 8 || t.strides[1] % 8 || t.strides[2] % 8)
    return Status::error(fmt::format(
        "{}: the address must be 16-byte aligned and the batch, head and seq "
        "strides multiples of 8 elements",
        name));
  return Status::success();
}

} // namespace

struct CudaKernel::Impl {
  KernelSpec spec;
  std::string arch;
  int64_t blockM = 0, warps = 0, sharedBytes = 0;
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

StatusOr<std::unique_ptr<CudaKernel>> CudaKernel::load(const CudaBinary &binary,
                                                       int ordinal) {
  auto driver = Driver::get();
  if (!driver.ok())
    return driver.status();
  if (Status st = (*driver)->use(ordinal); !st.ok())
    return st;
  const std::string arch = (*driver)->devices()[ordinal].arch();
  if (binary.arch != arch)
    return Status::error(fmt::format(
        "a kernel compiled for {} cannot load on device {} ({})", binary.arch,
        ordinal, arch));
  const detail::CudaTranslation &t = binary.translation;
  const DriverApi &api = (*driver)->api();
  auto impl = std::make_unique<Impl>();
  impl->ordinal = ordinal;
  if (int rc = api.moduleLoadData(&impl->module, binary.cubin.data()))
    return Status::error("cuModuleLoadData: " + (*driver)->describe(rc));
  if (int rc = api.moduleGetFunction(&impl->function, impl->module,
                                     t.spec.name.c_str()))
    return Status::error("cuModuleGetFunction: " + (*driver)->describe(rc));
  if (int rc = api.funcSetAttribute(impl->function,
                                    kMaxDynamicSharedMemoryAttribute,
                                    static_cast<int>(t.sharedBytes)))
    return Status::error(fmt::format("cannot opt in to {} bytes of shared "
                                     "memory: {}",
                                     t.sharedBytes, (*driver)->describe(rc)));
  impl->spec = t.spec;
  impl->arch = arch;
  impl->blockM = t.blockM;
  impl->warps = t.warps;
  impl->sharedBytes = t.sharedBytes;
  return std::unique_ptr<CudaKernel>(new CudaKernel(std::move(impl)));
}

Status CudaKernel::run(const CudaArgs &a, void *stream) const {
  const KernelSpec &s = impl_->spec;
  for (Status st : {checkTensor("q", a.q, s.qHeads, s.dQk),
                    checkTensor("k", a.k, s.kvHeads, s.dQk),
                    checkTensor("v", a.v, s.kvHeads, s.dV),
                    checkTensor("o", a.o, s.qHeads, s.dV)})
    if (!st.ok())
      return st;
  if (a.q.sizes[0] != a.k.sizes[0] || a.q.sizes[0] != a.v.sizes[0] ||
      a.q.sizes[0] != a.o.sizes[0] || a.k.sizes[2] != a.v.sizes[2] ||
      a.q.sizes[2] != a.o.sizes[2])
    return Status::error("q, k, v and o disagree on batch or sequence lengths");
  if (s.lse != (a.lse.data != 0))
    return Status::error(s.lse ? "lse: the kernel writes LSE; give a buffer"
                               : "lse: the kernel was compiled without LSE");
  KernelParams p{};
  p.q = reinterpret_cast<const void *>(a.q.data);
  p.k = reinterpret_cast<const void *>(a.k.data);
  p.v = reinterpret_cast<const void *>(a.v.data);
  p.o = reinterpret_cast<void *>(a.o.data);
  p.lse = reinterpret_cast<float *>(a.lse.data);
  for (int i = 0; i < 3; ++i) {
    p.q_stride[i] = a.q.strides[i];
    p.k_stride[i] = a.k.strides[i];
    p.v_stride[i] = a.v.strides[i];
    p.o_stride[i] = a.o.strides[i];
    p.lse_stride[i] = a.lse.strides[i];
  }
  p.seq_q = static_cast<int>(a.q.sizes[2]);
  p.seq_kv = static_cast<int>(a.k.sizes[2]);
  if (p.seq_q == 0 || a.q.sizes[0] == 0)
    return Status::success();
  auto driver = Driver::get();
  if (!driver.ok())
    return driver.status();
  if (Status st = (*driver)->use(impl_->ordinal); !st.ok())
    return st;
  void *params[] = {&p};
  unsigned grid = static_cast<unsigned>((p.seq_q + impl_->blockM - 1) / impl_->blockM);
  if (int rc = (*driver)->api().launchKernel(
          impl_->function, grid, static_cast<unsigned>(s.qHeads),
          static_cast<unsigned>(a.q.sizes[0]),
          static_cast<unsigned>(impl_->warps * 32), 1, 1,
          static_cast<unsigned>(impl_->sharedBytes), stream, params, nullptr))
    return Status::error("cuLaunchKernel: " + (*driver)->describe(rc));
  return Status::success();
}

} // namespace attnc::cuda
