// The C API (include/attnc/attnc.h) over the C++ runtime. Only attnc_*
// symbols leave libattnc (see attnc.map).
#include "attnc/attnc.h"

#include "runtime/BlockMask.h"
#include "runtime/CpuKernel.h"
#include "runtime/KernelCache.h"
#include "runtime/Merge.h"
#include "runtime/cuda/CudaKernel.h"
#include "runtime/cuda/CudaMerge.h"
#include "runtime/cuda/SimtKernel.h"

#include <fmt/format.h>

#include <cstring>
#include <limits>

#include <cctype>
#include <exception>
#include <mutex>
#include <new>
#include <string>

struct attnc_block_mask {
  attnc::BlockMask mask;
};

struct attnc_kernel {
  attnc::KernelIr ir;
  attnc_target target = ATTNC_TARGET_CPU;
  std::once_flag compiled;
  attnc::StatusOr<std::shared_ptr<const attnc::CompiledKernel>> kernel =
      attnc::Status::error("not compiled");
  attnc_kernel(attnc::KernelIr ir, attnc_target target)
      : ir(std::move(ir)), target(target) {}
};

namespace {

thread_local std::string lastError;

attnc_status fail(attnc_status status, std::string message) {
  lastError = std::move(message);
  return status;
}

/// Runs the body of an API call: no exception crosses the C boundary (an
/// allocation that fails is ATTNC_ERROR_INTERNAL with a message).
template <typename Body> attnc_status guarded(const char *call, Body &&body) {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    return fail(ATTNC_ERROR_INTERNAL, fmt::format("{}: out of memory", call));
  } catch (const std::exception &e) {
    return fail(ATTNC_ERROR_INTERNAL, fmt::format("{}: {}", call, e.what()));
  }
}

/// Whether `m` is the CUDA driver's "there is no GPU to use" (Driver.cpp).
bool isNoDevice(const std::string &m) {
  for (const char *p : {"no CUDA driver", "no CUDA device", "cuInit failed"})
    if (m.rfind(p, 0) == 0)
      return true;
  return false;
}

/// Maps a compiler failure to a status code by the front end's summary line.
attnc_status failCompile(const attnc::Status &st) {
  const std::string &m = st.message();
  auto startsWith = [&](const char *p) { return m.rfind(p, 0) == 0; };
  if (startsWith("unsupported kernel"))
    return fail(ATTNC_ERROR_UNSUPPORTED, m);
  if (isNoDevice(m))
    return fail(ATTNC_ERROR_NO_DEVICE, m);
  if (startsWith("invalid kernel spec") || startsWith("scheduling failed") ||
      startsWith("element type") ||
      m.find("expected exactly one attn.kernel") != std::string::npos)
    return fail(ATTNC_ERROR_INVALID_SPEC, m);
  return fail(ATTNC_ERROR_INTERNAL, m);
}

/// The int a C caller stored in an enum field. Reading the field as the
/// C++ enum is undefined for a value outside its enumerators, which a
/// hostile or buggy caller can store: every check reads this instead.
template <typename E> int raw(const E &e) {
  static_assert(sizeof(E) == sizeof(int), "C enums are ints");
  int v;
  std::memcpy(&v, &e, sizeof v);
  return v;
}

attnc_status checkTarget(const attnc_target &target) {
  int t = raw(target);
  if (t == ATTNC_TARGET_CPU || t == ATTNC_TARGET_CUDA ||
      t == ATTNC_TARGET_CUDA_SIM)
    return ATTNC_OK;
  return fail(ATTNC_ERROR_INVALID_ARGUMENT,
              fmt::format("target ({}) is not an attnc_target", t));
}

attnc::DType dtypeOf(attnc_dtype d) {
  switch (raw(d)) {
  case ATTNC_DTYPE_F16:
    return attnc::DType::F16;
  case ATTNC_DTYPE_BF16:
    return attnc::DType::BF16;
  case ATTNC_DTYPE_I32:
    return attnc::DType::I32;
  default:
    return attnc::DType::F32;
  }
}

bool isDtype(int d) { return d >= ATTNC_DTYPE_F32 && d <= ATTNC_DTYPE_I32; }

/// The runtime's view of `t`; an unknown dtype is an error.
attnc_status view(const char *name, const attnc_tensor *t,
                  attnc::TensorView &v) {
  v = attnc::TensorView();
  if (!t)
    return ATTNC_OK;
  if (!isDtype(raw(t->dtype)))
    return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                fmt::format("{}->dtype ({}) is not an attnc_dtype", name,
                            raw(t->dtype)));
  v.data = t->data;
  v.dtype = dtypeOf(t->dtype);
  for (int i = 0; i < 4; ++i) {
    v.sizes[i] = t->sizes[i];
    v.strides[i] = t->strides[i];
  }
  return ATTNC_OK;
}

attnc_tensor tensor(const attnc::TensorView &v, attnc_dtype dtype) {
  attnc_tensor t;
  t.data = v.data;
  t.dtype = dtype;
  for (int i = 0; i < 4; ++i) {
    t.sizes[i] = v.sizes[i];
    t.strides[i] = v.strides[i];
  }
  return t;
}

/// The backend of `target`. CUDA: for GPU 0 when `needDevice` (an error
/// without one), else for its arch or sm_90, which is enough to check a
/// kernel before any GPU is needed.
attnc::StatusOr<std::unique_ptr<attnc::Backend>> backendFor(attnc_target target,
                                                            bool needDevice) {
  using Result = attnc::StatusOr<std::unique_ptr<attnc::Backend>>;
  switch (target) {
  case ATTNC_TARGET_CPU:
    return Result(std::make_unique<attnc::CpuBackend>());
  case ATTNC_TARGET_CUDA_SIM:
    return Result(std::make_unique<attnc::cuda::SimtBackend>());
  case ATTNC_TARGET_CUDA:
    break;
  }
  if (!needDevice)
    return Result(std::make_unique<attnc::cuda::CudaBackend>(
        attnc::cuda::CudaBackend::archOrDefault(0), 0));
  auto backend = attnc::cuda::CudaBackend::forDevice(0);
  if (!backend.ok())
    return Result(backend.status());
  return Result(std::make_unique<attnc::cuda::CudaBackend>(std::move(*backend)));
}

attnc_status create(attnc::StatusOr<attnc::KernelIr> ir, attnc_target target,
                    attnc_kernel **out) {
  if (!ir.ok())
    return failCompile(ir.status());
  // Check the kernel for the target now, so that a bad spec fails here and
  // not at run time. Nothing is compiled yet.
  auto backend = backendFor(target, /*needDevice=*/false);
  if (!backend.ok())
    return failCompile(backend.status());
  if (auto translation = (*backend)->translate(*ir); !translation.ok())
    return failCompile(translation.status());
  *out = new attnc_kernel(std::move(*ir), target);
  return ATTNC_OK;
}

/// The runtime's views of C inputs; an error names the bad one.
attnc_status convertInputs(const attnc_input *inputs, int64_t count,
                           std::vector<attnc::InputTensor> &out) {
  if (count < 0 || count > 64 || (count > 0 && !inputs))
    return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                fmt::format("num_inputs ({}) must be in [0, 64], with inputs "
                            "non-NULL when it is not 0",
                            count));
  for (int64_t i = 0; i < count; ++i) {
    const attnc_input &in = inputs[i];
    if (!in.name)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  fmt::format("inputs[{}].name is NULL", i));
    if (!isDtype(raw(in.dtype)))
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  fmt::format("inputs[{}] ('{}'): dtype ({}) is not an "
                              "attnc_dtype",
                              i, in.name, raw(in.dtype)));
    if (in.rank < 0 || in.rank > 4)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  fmt::format("inputs[{}] ('{}'): rank ({}) must be in [0, 4]",
                              i, in.name, in.rank));
    attnc::InputTensor t;
    t.name = in.name;
    t.data = const_cast<void *>(in.data);
    t.dtype = dtypeOf(in.dtype);
    t.sizes.assign(in.sizes, in.sizes + in.rank);
    t.strides.assign(in.strides, in.strides + in.rank);
    out.push_back(std::move(t));
  }
  return ATTNC_OK;
}

/// The runtime's view of a C block mask (contiguous arrays).
attnc_status convertBlockMask(const attnc_block_mask_view *m,
                              attnc::BlockMaskArgs &out) {
  if (!m)
    return ATTNC_OK;
  if (!m->kv_num_blocks || !m->kv_indices || !m->full_kv_num_blocks ||
      !m->full_kv_indices)
    return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                "block_mask: every array must be non-NULL");
  if (m->batch < 1 || m->heads < 1 || m->q_blocks < 0 || m->kv_blocks < 0)
    return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                fmt::format("block_mask: batch ({}) and heads ({}) must be >= "
                            "1 and q_blocks ({}), kv_blocks ({}) >= 0",
                            m->batch, m->heads, m->q_blocks, m->kv_blocks));
  auto view = [](const int32_t *data, std::vector<int64_t> sizes) {
    attnc::InputTensor t;
    t.data = const_cast<int32_t *>(data);
    t.dtype = attnc::DType::I32;
    t.strides.assign(sizes.size(), 1);
    // Saturating: a hostile size must not overflow here, before
    // validateBlockMask names it.
    for (int i = static_cast<int>(sizes.size()) - 2; i >= 0; --i)
      if (__builtin_mul_overflow(t.strides[i + 1], sizes[i + 1], &t.strides[i]))
        t.strides[i] = std::numeric_limits<int64_t>::max();
    t.sizes = std::move(sizes);
    return t;
  };
  out.numBlocks = view(m->kv_num_blocks, {m->batch, m->heads, m->q_blocks});
  out.indices =
      view(m->kv_indices, {m->batch, m->heads, m->q_blocks, m->kv_blocks});
  out.fullNumBlocks =
      view(m->full_kv_num_blocks, {m->batch, m->heads, m->q_blocks});
  out.fullIndices = view(m->full_kv_indices,
                         {m->batch, m->heads, m->q_blocks, m->kv_blocks});
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

attnc_tensor attnc_tensor_dense(void *data, attnc_dtype dtype,
                                attnc_layout layout, int64_t batch,
                                int64_t seq, int64_t heads, int64_t dim) {
  return tensor(attnc::denseView(static_cast<float *>(data),
                                 layout == ATTNC_LAYOUT_BHSD
                                     ? attnc::Layout::BHSD
                                     : attnc::Layout::BSHD,
                                 batch, seq, heads, dim),
                dtype);
}

attnc_tensor attnc_tensor_lse(float *data, int64_t batch, int64_t heads,
                              int64_t seq) {
  return tensor(attnc::lseView(data, batch, heads, seq), ATTNC_DTYPE_F32);
}

attnc_tensor attnc_tensor_probs(float *data, int64_t batch, int64_t heads,
                                int64_t seqQ, int64_t seqKv) {
  return tensor(attnc::probsView(data, batch, heads, seqQ, seqKv),
                ATTNC_DTYPE_F32);
}

attnc_status attnc_kernel_create(const attnc_spec *spec, attnc_target target,
                                 attnc_kernel **out) {
  return guarded("attnc_kernel_create", [&]() -> attnc_status {
    if (!out)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT, "out is NULL");
    *out = nullptr;
    if (!spec)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT, "spec is NULL");
    if (attnc_status st = checkTarget(target); st != ATTNC_OK)
      return st;
    attnc::KernelRequest r;
    r.name = spec->name ? spec->name : "attention";
    bool identifier = !r.name.empty() && !std::isdigit(static_cast<unsigned char>(r.name[0]));
    for (char c : r.name)
      identifier &= std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    if (!identifier)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  fmt::format("spec->name '{}' must be an identifier "
                              "([A-Za-z_][A-Za-z0-9_]*)",
                              r.name));
    const int mask = raw(spec->mask), alignment = raw(spec->alignment),
              layout = raw(spec->layout), dtype = raw(spec->dtype),
              kvDtype = raw(spec->kv_dtype);
    if (mask < ATTNC_MASK_NONE || mask > ATTNC_MASK_SLIDING_WINDOW)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  fmt::format("spec->mask ({}) is not an attnc_mask", mask));
    if (alignment < ATTNC_ALIGN_UNSET || alignment > ATTNC_ALIGN_BOTTOM_RIGHT)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  fmt::format("spec->alignment ({}) is not an attnc_alignment",
                              alignment));
    if (layout < ATTNC_LAYOUT_BSHD || layout > ATTNC_LAYOUT_PAGED)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  fmt::format("spec->layout ({}) is not an attnc_layout",
                              layout));
    if (dtype < ATTNC_DTYPE_F32 || dtype > ATTNC_DTYPE_BF16)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  fmt::format("spec->dtype ({}) must be ATTNC_DTYPE_F32, _F16 "
                              "or _BF16",
                              dtype));
    if (kvDtype < ATTNC_DTYPE_F32 || kvDtype > ATTNC_DTYPE_BF16)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  fmt::format("spec->kv_dtype ({}) must be ATTNC_DTYPE_F32 "
                              "(the same as dtype), _F16 or _BF16",
                              kvDtype));
    r.elementType = attnc::toString(dtypeOf(spec->dtype));
    // kv_dtype 0 (F32) means "as dtype": a 16-bit kernel with an f32 KV
    // cache is not a combination attnc offers.
    if (kvDtype != ATTNC_DTYPE_F32 && kvDtype != dtype)
      r.kvElementType = attnc::toString(dtypeOf(spec->kv_dtype));
    r.qHeads = spec->q_heads;
    r.kvHeads = spec->kv_heads;
    r.dQk = spec->d_qk;
    r.dV = spec->d_v;
    r.scale = spec->scale;
    r.softcap = spec->softcap;
    r.mask = static_cast<attnc::MaskKind>(mask);
    r.alignment = static_cast<attnc::Alignment>(alignment);
    r.windowLeft = spec->window_left;
    r.windowRight = spec->window_right;
    r.layout = static_cast<attnc::Layout>(layout);
    r.mode = spec->decode ? attnc::Mode::Decode : attnc::Mode::Prefill;
    r.lse = spec->lse != 0;
    r.scoreMod = spec->alibi ? attnc::ScoreMod::Alibi : attnc::ScoreMod::None;
    return create(attnc::KernelIr::build(r, "<attnc_spec>"), target, out);
  });
}

attnc_status attnc_kernel_create_from_mlir(const char *mlir,
                                           attnc_target target,
                                           attnc_kernel **out) {
  return guarded("attnc_kernel_create_from_mlir", [&]() -> attnc_status {
    if (!out)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT, "out is NULL");
    *out = nullptr;
    if (!mlir)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT, "mlir is NULL");
    if (attnc_status st = checkTarget(target); st != ATTNC_OK)
      return st;
    return create(attnc::KernelIr::parse(mlir, "<spec>"), target, out);
  });
}

attnc_status attnc_kernel_compile(attnc_kernel *kernel) {
  return guarded("attnc_kernel_compile", [&]() -> attnc_status {
    if (!kernel)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT, "kernel is NULL");
    std::call_once(kernel->compiled, [&] {
      auto backend = backendFor(kernel->target, /*needDevice=*/true);
      kernel->kernel =
          backend.ok() ? attnc::KernelCache::shared().get(kernel->ir, **backend)
                       : backend.status();
    });
    if (!kernel->kernel.ok())
      return failCompile(kernel->kernel.status());
    return ATTNC_OK;
  });
}

attnc_status attnc_kernel_run(attnc_kernel *kernel, const attnc_tensor *q,
                              const attnc_tensor *k, const attnc_tensor *v,
                              const attnc_tensor *o, const attnc_tensor *lse,
                              int threads, void *stream) {
  attnc_run_args args{q, k, v, o, lse, nullptr, 0, nullptr, threads, stream};
  return attnc_kernel_run_args(kernel, &args);
}

attnc_status attnc_kernel_run_with_inputs(
    attnc_kernel *kernel, const attnc_tensor *q, const attnc_tensor *k,
    const attnc_tensor *v, const attnc_tensor *o, const attnc_tensor *lse,
    const attnc_input *inputs, int64_t num_inputs, int threads, void *stream) {
  attnc_run_args args{q, k, v, o, lse, inputs, num_inputs, nullptr, threads,
                      stream};
  return attnc_kernel_run_args(kernel, &args);
}

namespace {

/// A contiguous int32 array, or none when `data` is NULL.
attnc::InputTensor intArray(const int32_t *data, std::vector<int64_t> sizes) {
  return data ? attnc::int32Array(data, std::move(sizes)) : attnc::InputTensor();
}

/// attnc_sequences as the runtime's SequenceArgs.
attnc_status convertSequences(const attnc_sequences *q, attnc::SequenceArgs &out) {
  if (q->batch < 0 || q->batch > (int64_t(1) << 24) || q->max_pages < 0 ||
      q->max_pages > (int64_t(1) << 31) || q->num_kv_indices < 0 ||
      q->num_kv_indices > (int64_t(1) << 40))
    return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                fmt::format("sequences: batch ({}) must be in [0, 2^24], "
                            "max_pages ({}) in [0, 2^31] and num_kv_indices "
                            "({}) in [0, 2^40]",
                            q->batch, q->max_pages, q->num_kv_indices));
  const int64_t b = q->batch;
  out.cuSeqlensQ = intArray(q->cu_seqlens_q, {b + 1});
  out.cuSeqlensK = intArray(q->cu_seqlens_k, {b + 1});
  out.blockTable = intArray(q->block_table, {b, q->max_pages});
  out.cacheSeqlens = intArray(q->cache_seqlens, {b});
  out.kvIndptr = intArray(q->kv_indptr, {b + 1});
  out.kvIndices = intArray(q->kv_indices, {q->num_kv_indices});
  out.kvLastPageLen = intArray(q->kv_last_page_len, {b});
  if (attnc_status st = view("k_new", q->k_new, out.kNew); st != ATTNC_OK)
    return st;
  return view("v_new", q->v_new, out.vNew);
}

/// attnc_kernel_run_args, attnc_kernel_run_sequences and
/// attnc_kernel_run_probs (`sequences` and `probs` may be NULL).
attnc_status runCall(attnc_kernel *kernel, const attnc_run_args *a,
                     const attnc_sequences *sequences,
                     const attnc_tensor *probs = nullptr) {
    if (!kernel || !a || !a->q || !a->k || !a->v || !a->o)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  "kernel, q, k, v and o must not be NULL");
    if (a->threads < 0)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  fmt::format("threads must be >= 0, got {}", a->threads));
    if (kernel->target == ATTNC_TARGET_CUDA && a->threads != 0)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  "threads must be 0 for the CUDA target");
    if (kernel->target != ATTNC_TARGET_CUDA && a->stream)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  kernel->target == ATTNC_TARGET_CPU
                      ? "stream must be NULL for the CPU target"
                      : "stream must be NULL for the CUDA_SIM target");
    attnc::AttentionArgs args;
    for (auto [name, t, out] :
         {std::tuple{"q", a->q, &args.q}, std::tuple{"k", a->k, &args.k},
          std::tuple{"v", a->v, &args.v}, std::tuple{"o", a->o, &args.o},
          std::tuple{"lse", a->lse, &args.lse},
          std::tuple{"probs", probs, &args.probs}})
      if (attnc_status st = view(name, t, *out); st != ATTNC_OK)
        return st;
    if (attnc_status st = convertInputs(a->inputs, a->num_inputs, args.inputs);
        st != ATTNC_OK)
      return st;
    if (attnc_status st = convertBlockMask(a->block_mask, args.blockMask);
        st != ATTNC_OK)
      return st;
    const attnc::KernelSpec &spec = kernel->ir.view();
    if (!sequences && attnc::takesSequences(spec.layout))
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  fmt::format("kernel @{} has layout {}: run it with "
                              "attnc_kernel_run_sequences",
                              spec.name, attnc::toString(spec.layout)));
    if (sequences)
      if (attnc_status st = convertSequences(sequences, args.sequences);
          st != ATTNC_OK)
        return st;
    if (attnc_status st = attnc_kernel_compile(kernel); st != ATTNC_OK)
      return st;
    attnc::LaunchOptions options;
    options.threads = static_cast<unsigned>(a->threads);
    options.stream = a->stream;
    attnc::Status st = (*kernel->kernel)->launch(args, options);
    if (!st.ok())
      return fail(ATTNC_ERROR_INVALID_ARGUMENT, st.message());
    return ATTNC_OK;
}

} // namespace

attnc_status attnc_kernel_run_args(attnc_kernel *kernel,
                                   const attnc_run_args *a) {
  return guarded("attnc_kernel_run_args",
                 [&]() -> attnc_status { return runCall(kernel, a, nullptr); });
}

attnc_status attnc_kernel_run_probs(attnc_kernel *kernel,
                                    const attnc_run_args *a,
                                    const attnc_tensor *probs) {
  return guarded("attnc_kernel_run_probs", [&]() -> attnc_status {
    if (!probs)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  "probs must not be NULL (attnc_kernel_run_args runs "
                  "kernels without probs)");
    return runCall(kernel, a, nullptr, probs);
  });
}

attnc_status attnc_kernel_run_sequences(attnc_kernel *kernel,
                                        const attnc_run_args *a,
                                        const attnc_sequences *sequences) {
  return guarded("attnc_kernel_run_sequences", [&]() -> attnc_status {
    if (!sequences)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT, "sequences is NULL");
    if (sequences->struct_size != static_cast<int64_t>(sizeof(attnc_sequences)))
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  fmt::format("sequences->struct_size ({}) must be "
                              "sizeof(attnc_sequences) ({}); start from "
                              "attnc_sequences_init()",
                              sequences->struct_size, sizeof(attnc_sequences)));
    return runCall(kernel, a, sequences);
  });
}

attnc_status attnc_merge(const attnc_merge_args *a) {
  return guarded("attnc_merge", [&]() -> attnc_status {
    if (!a || !a->o)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT, "args and args->o must not be NULL");
    if (a->num_parts < 1 || a->num_parts > (int64_t(1) << 20))
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  fmt::format("num_parts ({}) must be in [1, 2^20]", a->num_parts));
    if (!a->outputs || !a->lses)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  "outputs and lses must not be NULL");
    if (a->threads < 0)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  fmt::format("threads must be >= 0, got {}", a->threads));
    const int target = raw(a->target);
    if (target != ATTNC_TARGET_CPU && target != ATTNC_TARGET_CUDA_SIM &&
        target != ATTNC_TARGET_CUDA)
      return fail(ATTNC_ERROR_UNSUPPORTED,
                  fmt::format("target ({}) is not an attnc_target", target));
    if (target == ATTNC_TARGET_CUDA && a->threads != 0)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  "threads must be 0 for the CUDA target");
    if (target != ATTNC_TARGET_CUDA && a->stream)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  "stream must be NULL for attnc_merge on the CPU and CUDA_SIM "
                  "targets");
    if (a->lse && !a->lse->data)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  "lse->data is NULL (pass lse = NULL to skip the merged LSE)");
    attnc::MergeArgs m;
    for (int64_t i = 0; i < a->num_parts; ++i) {
      m.outputs.emplace_back();
      m.lses.emplace_back();
      if (attnc_status st = view(fmt::format("outputs[{}]", i).c_str(),
                                 &a->outputs[i], m.outputs.back());
          st != ATTNC_OK)
        return st;
      if (attnc_status st = view(fmt::format("lses[{}]", i).c_str(),
                                 &a->lses[i], m.lses.back());
          st != ATTNC_OK)
        return st;
    }
    if (attnc_status st = view("o", a->o, m.o); st != ATTNC_OK)
      return st;
    if (attnc_status st = view("lse", a->lse, m.lse); st != ATTNC_OK)
      return st;
    const unsigned threads = static_cast<unsigned>(a->threads);
    if (target == ATTNC_TARGET_CUDA) {
      // The arguments first (INVALID_ARGUMENT); then what can fail on the
      // way to the GPU: no device, or the compile, load or launch
      // (INTERNAL).
      if (attnc::Status st = attnc::cuda::checkCudaMerge(m); !st.ok())
        return fail(ATTNC_ERROR_INVALID_ARGUMENT, st.message());
      if (attnc::Status st = attnc::cuda::deviceMerge(m, a->stream); !st.ok())
        return fail(isNoDevice(st.message()) ? ATTNC_ERROR_NO_DEVICE
                                             : ATTNC_ERROR_INTERNAL,
                    st.message());
      return ATTNC_OK;
    }
    attnc::Status st = target == ATTNC_TARGET_CPU ? attnc::mergeAttention(m, threads)
                                                  : attnc::cuda::simtMerge(m, threads);
    if (!st.ok())
      return fail(ATTNC_ERROR_INVALID_ARGUMENT, st.message());
    return ATTNC_OK;
  });
}

attnc_tensor attnc_tensor_pages(void *data, attnc_dtype dtype,
                                int64_t num_pages, int64_t page_size,
                                int64_t kv_heads, int64_t dim) {
  attnc::TensorView v = attnc::pagedView(data, attnc::DType::F32, num_pages,
                                         page_size, kv_heads, dim);
  return tensor(v, dtype);
}

attnc_sequences attnc_sequences_init(void) {
  attnc_sequences s;
  std::memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  return s;
}

attnc_status attnc_block_table_from_csr(const int32_t *kv_indptr,
                                        const int32_t *kv_indices,
                                        int64_t num_kv_indices, int64_t batch,
                                        int32_t *block_table,
                                        int64_t max_pages) {
  return guarded("attnc_block_table_from_csr", [&]() -> attnc_status {
    if (!kv_indptr || !block_table || (!kv_indices && num_kv_indices > 0))
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  "kv_indptr and block_table must not be NULL, nor kv_indices "
                  "when num_kv_indices > 0");
    if (batch < 0 || batch > (int64_t(1) << 24) || max_pages < 1 ||
        max_pages > (int64_t(1) << 31) || num_kv_indices < 0)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  fmt::format("batch ({}) must be in [0, 2^24], max_pages ({}) "
                              "in [1, 2^31] and num_kv_indices ({}) >= 0",
                              batch, max_pages, num_kv_indices));
    if (kv_indptr[0] != 0)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  fmt::format("kv_indptr[0] must be 0, got {}", kv_indptr[0]));
    for (int64_t i = 0; i < batch; ++i) {
      int64_t pages = int64_t(kv_indptr[i + 1]) - kv_indptr[i];
      if (pages < 0)
        return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                    fmt::format("kv_indptr must not decrease: kv_indptr[{}] = "
                                "{} is below kv_indptr[{}] = {}",
                                i + 1, kv_indptr[i + 1], i, kv_indptr[i]));
      if (pages > max_pages)
        return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                    fmt::format("sequence {} has {} pages, more than max_pages "
                                "({})",
                                i, pages, max_pages));
      if (kv_indptr[i + 1] > num_kv_indices)
        return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                    fmt::format("kv_indptr[{}] = {} is past num_kv_indices ({})",
                                i + 1, kv_indptr[i + 1], num_kv_indices));
    }
    for (int64_t i = 0; i < batch; ++i) {
      int64_t pages = int64_t(kv_indptr[i + 1]) - kv_indptr[i];
      for (int64_t j = 0; j < max_pages; ++j)
        block_table[i * max_pages + j] = j < pages ? kv_indices[kv_indptr[i] + j] : -1;
    }
    return ATTNC_OK;
  });
}

attnc_status attnc_block_mask_build(attnc_kernel *kernel, int64_t batch,
                                    int64_t seq_q, int64_t seq_kv,
                                    const attnc_input *inputs,
                                    int64_t num_inputs, attnc_block_mask **out) {
  return guarded("attnc_block_mask_build", [&]() -> attnc_status {
    if (!out)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT, "out is NULL");
    *out = nullptr;
    if (!kernel)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT, "kernel is NULL");
    if (batch < 1 || seq_q < 0 || seq_kv < 0)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  fmt::format("batch ({}) must be >= 1 and seq_q ({}), seq_kv "
                              "({}) >= 0",
                              batch, seq_q, seq_kv));
    const attnc::KernelSpec &spec = kernel->ir.view();
    attnc::AttentionArgs args;
    args.q.sizes = {batch, spec.qHeads, seq_q, spec.dQk};
    args.k.sizes = {batch, spec.kvHeads, seq_kv, spec.dQk};
    if (attnc_status st = convertInputs(inputs, num_inputs, args.inputs);
        st != ATTNC_OK)
      return st;
    auto mask = attnc::buildBlockMask(spec, args);
    if (!mask.ok())
      return fail(ATTNC_ERROR_INVALID_ARGUMENT, mask.status().message());
    *out = new attnc_block_mask{std::move(*mask)};
    return ATTNC_OK;
  });
}

attnc_block_mask_view attnc_block_mask_get(const attnc_block_mask *m) {
  attnc_block_mask_view v{};
  if (!m)
    return v;
  v.kv_num_blocks = m->mask.numBlocks.data();
  v.kv_indices = m->mask.indices.data();
  v.full_kv_num_blocks = m->mask.fullNumBlocks.data();
  v.full_kv_indices = m->mask.fullIndices.data();
  v.batch = m->mask.batch;
  v.heads = m->mask.heads;
  v.q_blocks = m->mask.qBlocks;
  v.kv_blocks = m->mask.kvBlocks;
  return v;
}

double attnc_block_mask_density(const attnc_block_mask *m) {
  return m ? m->mask.density() : 0.0;
}

void attnc_block_mask_destroy(attnc_block_mask *m) { delete m; }

void attnc_kernel_destroy(attnc_kernel *kernel) { delete kernel; }

const char *attnc_last_error(void) { return lastError.c_str(); }

const char *attnc_version(void) { return ATTNC_VERSION; }

} // extern "C"
