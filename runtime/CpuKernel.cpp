// The CPU backend's kernels: object code (fresh from the compiler or from the
// cache) loaded into an ORC LLJIT, and launched on a thread pool.
#include "runtime/CpuKernel.h"

#include "compiler/AttnToSCF/WorkSplit.h"
#include "compiler/KernelAbi.h"
#include "runtime/ThreadPool.h"
#include "runtime/detail/Compiler.h"

#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/TargetSelect.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <array>
#include <limits>
#include <vector>
#include <mutex>
#include <new>

namespace attnc {
namespace {

/// A memref descriptor of the kernel's C interface (llvm.emit_c_interface)
/// as raw words: allocated and aligned pointers, offset, sizes, strides.
/// Ranks are at most 4 (tensors, block masks, declared inputs), so the
/// words live inline: building one per work item allocates nothing.
struct Descriptor {
  static constexpr int64_t kMaxRank = 4;
  std::array<int64_t, 3 + 2 * kMaxRank> words;
  Descriptor(const void *data, const int64_t *sizes, const int64_t *strides,
             int64_t rank) {
    auto address = static_cast<int64_t>(reinterpret_cast<uintptr_t>(data));
    words[0] = words[1] = address;
    words[2] = 0;
    std::copy(sizes, sizes + rank, words.begin() + 3);
    std::copy(strides, strides + rank, words.begin() + 3 + rank);
  }
  void *get() { return words.data(); }
};

/// The packed call holds the ABI's arguments, the split-KV workspace, then
/// splits, begin, end, kt and tags (abi::kCpuTrailingArgs in all) in a
/// fixed array. The ABI has at most 5 tensors, 4 block-mask arrays and 16
/// inputs, so 25 + 6 = 31; load() checks it.
constexpr size_t kPackedArgs = 32;

/// The kernel's packed entry point (compiler/KernelAbi.h): one pointer per
/// argument of its C interface.
using PackedFn = void (*)(void **args);

/// The calling thread's K^T cache (see convert-attn-to-scf): slots of one
/// d_qk x block_n tile each, and a tag per slot saying which key tile it
/// holds. A thread transposes each K tile once per call however many query
/// blocks use it, as long as the call's tiles fit; beyond the limit, tiles
/// share slots round-robin (still correct, less reuse).
struct KtCache {
  std::vector<float> tiles;
  std::vector<int64_t> tags;
  uint64_t call = 0; // the call whose tags these are
};

std::atomic<size_t> ktCacheLimit{size_t(64) << 20};

/// A number per CpuKernel::run, so a thread knows when to clear its tags.
uint64_t nextCall() {
  static std::atomic<uint64_t> calls{0};
  return calls.fetch_add(1, std::memory_order_relaxed) + 1;
}

} // namespace

struct CpuKernel::Impl {
  KernelSpec spec;
  std::string object;
  std::unique_ptr<llvm::orc::LLJIT> jit;
  PackedFn fn = nullptr;
  std::vector<mlir::attn::abi::Arg> args; // compiler/KernelAbi.h
};

CpuKernel::CpuKernel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CpuKernel::~CpuKernel() = default;
const KernelSpec &CpuKernel::spec() const { return impl_->spec; }
const std::string &CpuKernel::object() const { return impl_->object; }

StatusOr<std::unique_ptr<CpuKernel>>
CpuKernel::compile(const KernelIr &ir, const CpuCompileOptions &options) {
  auto translation = detail::translateForCpu(ir, options);
  if (!translation.ok())
    return translation.status();
  StatusOr<std::string> object = (*translation)->compile();
  if (!object.ok())
    return object.status();
  return load(*object, (*translation)->spec());
}

std::string CpuBackend::id() const {
  return fmt::format("cpu vector_width={}", options_.vectorWidth);
}

StatusOr<std::unique_ptr<Translation>>
CpuBackend::translate(const KernelIr &ir) const {
  return detail::translateForCpu(ir, options_);
}

StatusOr<std::shared_ptr<const CompiledKernel>>
CpuBackend::load(const Translation &translation,
                 const std::string &bytes) const {
  auto kernel = CpuKernel::load(bytes, translation.spec());
  if (!kernel.ok())
    return kernel.status();
  return std::shared_ptr<const CompiledKernel>(std::move(*kernel));
}

Status CpuKernel::launch(const AttentionArgs &args,
                         const LaunchOptions &options) const {
  if (options.stream)
    return Status::error("stream must be null for the cpu target");
  return run(args, options.threads, options.kvSplits);
}

StatusOr<std::unique_ptr<CpuKernel>> CpuKernel::load(const std::string &object,
                                                      const KernelSpec &spec) {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
  auto jit = llvm::orc::LLJITBuilder().create();
  if (!jit)
    return Status::error("cannot create the JIT: " +
                         llvm::toString(jit.takeError()));
  // Resolve the few libc symbols generated code may call (memcpy, memset).
  auto process = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      (*jit)->getDataLayout().getGlobalPrefix());
  if (!process)
    return Status::error("cannot open the process's symbols: " +
                         llvm::toString(process.takeError()));
  (*jit)->getMainJITDylib().addGenerator(std::move(*process));
  if (llvm::Error err = (*jit)->addObjectFile(
          llvm::MemoryBuffer::getMemBufferCopy(object, spec.name + ".o")))
    return Status::error("cannot load the kernel's object code: " +
                         llvm::toString(std::move(err)));
  auto symbol = (*jit)->lookup(mlir::attn::abi::cpuPackedEntry(spec.name));
  if (!symbol)
    return Status::error("the kernel's object code has no entry point: " +
                         llvm::toString(symbol.takeError()));
  auto impl = std::make_unique<Impl>();
  impl->spec = spec;
  impl->object = object;
  impl->fn = symbol->toPtr<PackedFn>();
  impl->args = detail::cpuAbiArgs(spec);
  if (impl->args.size() + mlir::attn::abi::kCpuTrailingArgs > kPackedArgs)
    return Status::error(fmt::format(
        "internal error: {} kernel arguments do not fit the packed call's {}",
        impl->args.size() + mlir::attn::abi::kCpuTrailingArgs, kPackedArgs));
  impl->jit = std::move(*jit);
  return std::unique_ptr<CpuKernel>(new CpuKernel(std::move(impl)));
}

Status CpuKernel::validate(const AttentionArgs &a) const {
  return validateCall(impl_->spec, a);
}

size_t CpuKernel::setKtCacheLimit(size_t bytes) {
  return ktCacheLimit.exchange(bytes);
}

int64_t CpuKernel::kvSplitsFor(int64_t batch, int64_t seqQ, int64_t seqKv,
                               unsigned threads) const {
  const KernelSpec &s = impl_->spec;
  if (s.blockQ > 0)
    return 1; // block lists are not split (convert-attn-to-scf)
  int64_t tiles = mlir::attn::WorkSplit::of(s.qHeads, s.kvHeads, s.blockM)
                      .items(s.qHeads, batch, seqQ);
  // Split only when there are fewer tiles than two per thread, and keep at
  // least four key tiles in each split so the merge stays cheap.
  int64_t wanted = (2 * static_cast<int64_t>(threads) + tiles - 1) / std::max<int64_t>(tiles, 1);
  int64_t most = std::max<int64_t>(1, seqKv / (4 * s.blockN));
  return std::clamp<int64_t>(wanted, 1, std::min(most, kMaxKvSplits));
}

Status CpuKernel::run(const AttentionArgs &a, unsigned threads,
                      int64_t kvSplits) const {
  if (Status st = validate(a); !st.ok())
    return st;
  if (kvSplits < 0 || kvSplits > kMaxKvSplits)
    return Status::error(fmt::format(
        "kvSplits must be in [0, {}] (0 chooses), got {}", kMaxKvSplits,
        kvSplits));
  const KernelSpec &s = impl_->spec;
  if (s.blockQ > 0 && kvSplits > 1)
    return Status::error(fmt::format(
        "kvSplits: block-sparse kernels do not split their keys (got {})",
        kvSplits));
  unsigned n = threads ? threads : static_cast<unsigned>(s.threads);
  const int64_t batch = a.q.batch(), seqQ = a.q.seq();
  int64_t splits =
      kvSplits ? kvSplits : kvSplitsFor(batch, seqQ, a.k.seq(), n);
  // One descriptor per argument, in the ABI's order (compiler/KernelAbi.h).
  // The kernel only reads them, so every thread passes the same ones.
  std::vector<Descriptor> descriptors;
  for (const mlir::attn::abi::Arg &arg : impl_->args) {
    using mlir::attn::abi::Role;
    const TensorView *view = arg.role == Role::Q   ? &a.q
                             : arg.role == Role::K ? &a.k
                             : arg.role == Role::V ? &a.v
                             : arg.role == Role::O ? &a.o
                             : arg.role == Role::Lse ? &a.lse
                                                     : nullptr;
    if (view) {
      descriptors.emplace_back(view->data, view->sizes.data(),
                               view->strides.data(), arg.rank);
      continue;
    }
    const BlockMaskArgs &m = a.blockMask;
    const InputTensor *part = arg.role == Role::KvNumBlocks ? &m.numBlocks
                              : arg.role == Role::KvIndices ? &m.indices
                              : arg.role == Role::FullKvNumBlocks
                                  ? &m.fullNumBlocks
                              : arg.role == Role::FullKvIndices ? &m.fullIndices
                                                                : nullptr;
    if (part) {
      descriptors.emplace_back(part->data, part->sizes.data(),
                               part->strides.data(), arg.rank);
      continue;
    }
    for (const InputTensor &t : a.inputs) // validated: exactly one
      if (t.name == arg.name)
        descriptors.emplace_back(t.data, t.sizes.data(), t.strides.data(),
                                 arg.rank);
  }

  // Split-KV partials live in a per-thread workspace that grows once and is
  // reused.
  const int64_t rows = batch * s.qHeads * seqQ;
  thread_local std::vector<float> workspace;
  int64_t partialFloats = 0;
  bool tooMany = __builtin_mul_overflow(splits * (s.dV + 2), rows, &partialFloats);
  if (splits > 1 && (tooMany || workspace.size() < static_cast<size_t>(partialFloats))) {
    try {
      if (tooMany)
        throw std::bad_alloc();
      workspace.resize(partialFloats);
    } catch (const std::bad_alloc &) {
      return Status::ioError(fmt::format(
          "the split-KV workspace ({} splits x {} rows x (d_v + 2) floats) "
          "cannot be allocated; pass kvSplits = 1",
          splits, rows));
    }
  }
  const int64_t workspaceSize = static_cast<int64_t>(workspace.size()),
                unitStride = 1;
  descriptors.emplace_back(workspace.data(), &workspaceSize, &unitStride, 1);
  std::vector<void *> shared;
  for (Descriptor &d : descriptors)
    shared.push_back(d.get());

  int64_t items = mlir::attn::WorkSplit::of(s.qHeads, s.kvHeads, s.blockM,
                                            /*oneHeadPerItem=*/s.blockQ > 0)
                      .items(s.qHeads, batch, seqQ) *
                  splits;
  PackedFn fn = impl_->fn;
  // Prefill kernels keep K^T tiles per thread (decode kernels visit each
  // tile once and pack it on the stack: they get an empty cache).
  const int64_t tileFloats = s.dQk * s.blockN;
  const int64_t slots =
      s.mode != Mode::Prefill
          ? 0
          : std::clamp<int64_t>(
                static_cast<int64_t>(ktCacheLimit.load() / (4 * tileFloats)), 1,
                (a.k.seq() + s.blockN - 1) / s.blockN);
  const uint64_t call = nextCall();
  // Each item is one (tile, kv split). The kernel only reads the
  // descriptors, so every thread passes the same ones.
  ThreadPool::shared().parallelFor(items, n, [&](int64_t item) {
    thread_local KtCache cache;
    if (cache.call != call) { // this thread's first item of the call
      if (cache.tiles.size() < static_cast<size_t>(slots * tileFloats))
        cache.tiles.resize(slots * tileFloats);
      if (cache.tags.size() < static_cast<size_t>(slots))
        cache.tags.resize(slots);
      std::fill_n(cache.tags.begin(), slots, 0);
      cache.call = call;
    }
    const int64_t ktSizes[] = {slots, s.dQk, s.blockN},
                  ktStrides[] = {tileFloats, s.blockN, 1};
    Descriptor kt(cache.tiles.data(), ktSizes, ktStrides, 3);
    Descriptor tags(cache.tags.data(), &slots, &unitStride, 1);
    int64_t begin = item, end = item + 1;
    // The ABI's arguments and the workspace, then splits, begin, end, kt
    // and tags (checked to fit in load()).
    void *args[kPackedArgs];
    size_t n = shared.size();
    std::copy(shared.begin(), shared.end(), args);
    args[n] = const_cast<int64_t *>(&splits);
    args[n + 1] = &begin;
    args[n + 2] = &end;
    args[n + 3] = kt.get();
    args[n + 4] = tags.get();
    fn(args);
  });
  if (splits == 1)
    return Status::success();

  // Merge: O = sum_s w_s acc_s / sum_s w_s l_s with w_s = exp(m_s - max m).
  const float *acc = workspace.data();
  const float *m = acc + splits * rows * s.dV, *l = m + splits * rows;
  ThreadPool::shared().parallelFor(rows, n, [&](int64_t row) {
    int64_t pos = row % seqQ, h = row / seqQ % s.qHeads, b = row / seqQ / s.qHeads;
    float best = -std::numeric_limits<float>::infinity();
    for (int64_t sp = 0; sp < splits; ++sp)
      best = std::max(best, m[sp * rows + row]);
    float total = 0;
    float weights[kMaxKvSplits];
    for (int64_t sp = 0; sp < splits; ++sp) {
      float w = l[sp * rows + row] > 0 ? std::exp(m[sp * rows + row] - best) : 0.f;
      weights[sp] = w;
      total += w * l[sp * rows + row];
    }
    // A split that saw a NaN score poisons the row (its l is NaN), as in
    // one pass; a fully masked split (l = 0) counts for nothing.
    for (int64_t sp = 0; sp < splits; ++sp)
      if (std::isnan(l[sp * rows + row]))
        total = std::numeric_limits<float>::quiet_NaN();
    float inv = total > 0 ? 1.f / total
                : std::isnan(total) ? total
                                    : 0.f;
    for (int64_t d = 0; d < s.dV; ++d) {
      float sum = 0;
      for (int64_t sp = 0; sp < splits; ++sp)
        if (weights[sp] != 0)
          sum += weights[sp] * acc[(sp * rows + row) * s.dV + d];
      a.o.set(b, h, pos, d, sum * inv);
    }
    if (s.lse)
      a.lse.at(b, h, pos, 0) =
          total > 0 || std::isnan(total)
              ? best + std::log(total)
              : -std::numeric_limits<float>::infinity();
  });
  return Status::success();
}

} // namespace attnc
