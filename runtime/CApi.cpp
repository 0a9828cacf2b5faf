// The C API (include/attnc/attnc.h) over the C++ runtime. Only attnc_*
// symbols leave libattnc (see attnc.map).
#include "attnc/attnc.h"

#include "runtime/KernelCache.h"
#include "runtime/cuda/Driver.h"
#include "runtime/detail/CpuCompiler.h"

#include <fmt/format.h>

#include <cctype>
#include <mutex>
#include <string>

struct attnc_kernel {
  std::string source; // attn dialect text
  attnc_target target = ATTNC_TARGET_CPU;
  std::once_flag compiled;
  attnc::StatusOr<std::shared_ptr<const attnc::CpuKernel>> kernel =
      attnc::Status::error("not compiled");
  attnc::StatusOr<std::shared_ptr<const attnc::cuda::CudaKernel>> cudaKernel =
      attnc::Status::error("not compiled");
  const attnc::Status &status() const {
    return target == ATTNC_TARGET_CUDA ? cudaKernel.status() : kernel.status();
  }
};

namespace {

thread_local std::string lastError;

attnc_status fail(attnc_status status, std::string message) {
  lastError = std::move(message);
  return status;
}

/// Maps a compiler failure to a status code by the front end's summary line.
attnc_status failCompile(const attnc::Status &st) {
  const std::string &m = st.message();
  auto startsWith = [&](const char *p) { return m.rfind(p, 0) == 0; };
  if (startsWith("unsupported kernel"))
    return fail(ATTNC_ERROR_UNSUPPORTED, m);
  if (startsWith("no CUDA driver") || startsWith("no CUDA device") ||
      startsWith("cuInit failed"))
    return fail(ATTNC_ERROR_NO_DEVICE, m);
  if (startsWith("invalid kernel spec") || startsWith("scheduling failed") ||
      m.find("expected exactly one attn.kernel") != std::string::npos)
    return fail(ATTNC_ERROR_INVALID_SPEC, m);
  return fail(ATTNC_ERROR_INTERNAL, m);
}

attnc_status checkTarget(attnc_target target) {
  if (target == ATTNC_TARGET_CPU || target == ATTNC_TARGET_CUDA)
    return ATTNC_OK;
  return fail(ATTNC_ERROR_INVALID_ARGUMENT,
              fmt::format("target ({}) is not an attnc_target",
                          static_cast<int>(target)));
}

attnc::TensorView view(const attnc_tensor *t) {
  attnc::TensorView v;
  if (!t)
    return v;
  v.data = t->data;
  for (int i = 0; i < 4; ++i) {
    v.sizes[i] = t->sizes[i];
    v.strides[i] = t->strides[i];
  }
  return v;
}

/// A CUDA target view: `data` holds a device address.
attnc::cuda::DeviceTensor deviceTensor(const attnc_tensor *t) {
  attnc::cuda::DeviceTensor d;
  if (!t)
    return d;
  d.data = reinterpret_cast<uintptr_t>(t->data);
  for (int i = 0; i < 4; ++i) {
    d.sizes[i] = t->sizes[i];
    d.strides[i] = t->strides[i];
  }
  return d;
}

attnc_tensor tensor(const attnc::TensorView &v) {
  attnc_tensor t;
  t.data = v.data;
  for (int i = 0; i < 4; ++i) {
    t.sizes[i] = v.sizes[i];
    t.strides[i] = v.strides[i];
  }
  return t;
}

attnc_status create(std::string source, attnc_target target,
                    attnc_kernel **out) {
  if (!out)
    return fail(ATTNC_ERROR_INVALID_ARGUMENT, "out is NULL");
  *out = nullptr;
  if (attnc_status st = checkTarget(target); st != ATTNC_OK)
    return st;
  // Check the spec now, so that a bad spec fails here and not at run time.
  if (target == ATTNC_TARGET_CUDA) {
    auto driver = attnc::cuda::Driver::get();
    std::string arch = driver.ok() && !(*driver)->devices().empty()
                           ? (*driver)->devices()[0].arch()
                           : "sm_90";
    auto translation = attnc::detail::translateToCuda(source, arch);
    if (!translation.ok())
      return failCompile(translation.status());
  } else {
    auto frontEnd = attnc::detail::CpuFrontEnd::run(source, {0, "<spec>"});
    if (!frontEnd.ok())
      return failCompile(frontEnd.status());
  }
  *out = new attnc_kernel;
  (*out)->source = std::move(source);
  (*out)->target = target;
  return ATTNC_OK;
}

} // namespace

extern "C" {

attnc_spec attnc_spec_default(void) {
  attnc_spec s{};
  s.mask = ATTNC_MASK_NONE;
  s.alignment = ATTNC_ALIGN_UNSET;
  s.layout = ATTNC_LAYOUT_BSHD;
  return s;
}

attnc_tensor attnc_tensor_dense(float *data, attnc_layout layout,
                                int64_t batch, int64_t seq, int64_t heads,
                                int64_t dim) {
  return tensor(attnc::denseView(
      data, layout == ATTNC_LAYOUT_BHSD ? attnc::Layout::BHSD
                                        : attnc::Layout::BSHD,
      batch, seq, heads, dim));
}

attnc_tensor attnc_tensor_lse(float *data, int64_t batch, int64_t heads,
                              int64_t seq) {
  return tensor(attnc::lseView(data, batch, heads, seq));
}

attnc_status attnc_kernel_create(const attnc_spec *spec, attnc_target target,
                                 attnc_kernel **out) {
  if (!spec)
    return fail(ATTNC_ERROR_INVALID_ARGUMENT, "spec is NULL");
  attnc::KernelSpec s;
  s.name = spec->name ? spec->name : "attention";
  bool identifier = !s.name.empty() && !std::isdigit(static_cast<unsigned char>(s.name[0]));
  for (char c : s.name)
    identifier &= std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  if (!identifier)
    return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                fmt::format("spec->name '{}' must be an identifier "
                            "([A-Za-z_][A-Za-z0-9_]*)",
                            s.name));
  if (spec->mask < ATTNC_MASK_NONE || spec->mask > ATTNC_MASK_SLIDING_WINDOW)
    return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                fmt::format("spec->mask ({}) is not an attnc_mask",
                            static_cast<int>(spec->mask)));
  if (spec->alignment < ATTNC_ALIGN_UNSET ||
      spec->alignment > ATTNC_ALIGN_BOTTOM_RIGHT)
    return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                fmt::format("spec->alignment ({}) is not an attnc_alignment",
                            static_cast<int>(spec->alignment)));
  if (spec->layout != ATTNC_LAYOUT_BSHD && spec->layout != ATTNC_LAYOUT_BHSD)
    return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                fmt::format("spec->layout ({}) is not an attnc_layout",
                            static_cast<int>(spec->layout)));
  if (spec->dtype < ATTNC_DTYPE_F32 || spec->dtype > ATTNC_DTYPE_BF16)
    return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                fmt::format("spec->dtype ({}) is not an attnc_dtype",
                            static_cast<int>(spec->dtype)));
  s.elementType = spec->dtype == ATTNC_DTYPE_F16    ? "f16"
                  : spec->dtype == ATTNC_DTYPE_BF16 ? "bf16"
                                                    : "f32";
  s.qHeads = spec->q_heads;
  s.kvHeads = spec->kv_heads;
  s.dQk = spec->d_qk;
  s.dV = spec->d_v;
  s.scale = spec->scale;
  s.softcap = spec->softcap;
  s.mask = static_cast<attnc::MaskKind>(spec->mask);
  s.alignment = static_cast<attnc::Alignment>(spec->alignment);
  s.windowLeft = spec->window_left;
  s.windowRight = spec->window_right;
  s.layout = static_cast<attnc::Layout>(spec->layout);
  s.mode = spec->decode ? attnc::Mode::Decode : attnc::Mode::Prefill;
  s.lse = spec->lse != 0;
  return create(attnc::toMlir(s), target, out);
}

attnc_status attnc_kernel_create_from_mlir(const char *mlir,
                                           attnc_target target,
                                           attnc_kernel **out) {
  if (!mlir)
    return fail(ATTNC_ERROR_INVALID_ARGUMENT, "mlir is NULL");
  return create(mlir, target, out);
}

attnc_status attnc_kernel_compile(attnc_kernel *kernel) {
  if (!kernel)
    return fail(ATTNC_ERROR_INVALID_ARGUMENT, "kernel is NULL");
  std::call_once(kernel->compiled, [&] {
    if (kernel->target == ATTNC_TARGET_CUDA)
      kernel->cudaKernel = attnc::KernelCache::shared().getCuda(kernel->source);
    else
      kernel->kernel = attnc::KernelCache::shared().get(kernel->source);
  });
  if (!kernel->status().ok())
    return failCompile(kernel->status());
  return ATTNC_OK;
}

attnc_status attnc_kernel_run(attnc_kernel *kernel, const attnc_tensor *q,
                              const attnc_tensor *k, const attnc_tensor *v,
                              const attnc_tensor *o, const attnc_tensor *lse,
                              int threads, void *stream) {
  if (!kernel || !q || !k || !v || !o)
    return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                "kernel, q, k, v and o must not be NULL");
  if (threads < 0)
    return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                fmt::format("threads must be >= 0, got {}", threads));
  if (kernel->target == ATTNC_TARGET_CUDA) {
    if (threads != 0)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  "threads must be 0 for the CUDA target");
    if (attnc_status st = attnc_kernel_compile(kernel); st != ATTNC_OK)
      return st;
    attnc::cuda::CudaArgs args{deviceTensor(q), deviceTensor(k),
                               deviceTensor(v), deviceTensor(o),
                               deviceTensor(lse)};
    attnc::Status st = (*kernel->cudaKernel)->run(args, stream);
    if (!st.ok())
      return fail(ATTNC_ERROR_INVALID_ARGUMENT, st.message());
    return ATTNC_OK;
  }
  if (stream)
    return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                "stream must be NULL for the CPU target");
  if (attnc_status st = attnc_kernel_compile(kernel); st != ATTNC_OK)
    return st;
  attnc::AttentionArgs args{view(q), view(k), view(v), view(o), view(lse)};
  attnc::Status st =
      (*kernel->kernel)->run(args, static_cast<unsigned>(threads));
  if (!st.ok())
    return fail(ATTNC_ERROR_INVALID_ARGUMENT, st.message());
  return ATTNC_OK;
}

void attnc_kernel_destroy(attnc_kernel *kernel) { delete kernel; }

const char *attnc_last_error(void) { return lastError.c_str(); }

const char *attnc_version(void) { return ATTNC_VERSION; }

} // extern "C"
