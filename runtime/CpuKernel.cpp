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
  Descriptor() = default; // unset words: only assigned descriptors are passed
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
/// splits, begin, end, kt, tags and the batch base (abi::kCpuTrailingArgs
/// in all) in a fixed array. The ABI has at most 6 tensors (q, k, v, o,
/// lse, probs), 2 page-table arrays, 4 block-mask arrays and 16 inputs, so
/// 28 + 7 = 35; load() checks it.
constexpr size_t kPackedArgs = 35;

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

namespace {

/// One kernel invocation's share of a call: the whole of a dense call, or
/// one sequence (with queries) of a varlen or paged call, run as a batch of
/// 1 (runtime/Tensor.h, Sequence).
struct Segment {
  const Sequence *sequence = nullptr; // null: the dense call itself
  int64_t batch = 0, seqQ = 0, seqKv = 0;
  int64_t splits = 1;
  int64_t firstItem = 0, items = 0; // items of all segments before, its own
  int64_t rows = 0;                 // batch x q_heads x seq_q
  int64_t workspace = 0;            // its partials' first float
};

/// Split-KV for the segments of a varlen or paged call: a sequence's keys
/// are cut so that no item holds much more than `perItem` keys (its share
/// of the call's work), so that one long sequence among short ones still
/// spreads over every thread; at least four key tiles a split.
int64_t sequenceSplits(int64_t seqKv, int64_t blockN, double perItem) {
  int64_t most = std::min(std::max<int64_t>(1, seqKv / (4 * blockN)), kMaxKvSplits);
  double wanted = std::ceil(static_cast<double>(seqKv) / perItem);
  return wanted >= static_cast<double>(most) ? most
                                             : std::max<int64_t>(1, static_cast<int64_t>(wanted));
}

} // namespace

Status CpuKernel::run(const AttentionArgs &a, unsigned threads,
                      int64_t kvSplits) const {
  // Per-thread buffers reused between calls. Named through references:
  // inside the parallel loop's body a thread_local would name the worker's
  // own (empty) copy.
  thread_local std::vector<Sequence> sequenceBuffer;
  std::vector<Sequence> &sequences = sequenceBuffer;
  if (Status st = validateCall(impl_->spec, a, Memory::Host, &sequences);
      !st.ok())
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
  if (s.probs && kvSplits > 1)
    return Status::error(fmt::format(
        "kvSplits: probs kernels do not split their keys (they write P from "
        "each row's final LSE; got {})",
        kvSplits));
  if (s.probs)
    kvSplits = 1;
  unsigned n = threads ? threads : static_cast<unsigned>(s.threads);
  const bool bySequence = takesSequences(s.layout);
  const auto split =
      mlir::attn::WorkSplit::of(s.qHeads, s.kvHeads, s.blockM,
                                /*oneHeadPerItem=*/s.blockQ > 0);

  // The segments: the whole call, or each sequence with queries.
  thread_local std::vector<Segment> segmentBuffer;
  std::vector<Segment> &segments = segmentBuffer;
  segments.clear();
  int64_t longestKv = 0;
  if (!bySequence) {
    Segment g;
    g.batch = a.q.batch();
    g.seqQ = a.q.seq();
    g.seqKv = a.k.seq();
    g.splits = kvSplits ? kvSplits : kvSplitsFor(g.batch, g.seqQ, g.seqKv, n);
    segments.push_back(g);
    longestKv = g.seqKv;
  } else {
    // Work a tile costs is about its keys: aim at four items a thread.
    double work = 0;
    for (const Sequence &q : sequences)
      work += static_cast<double>(split.items(s.qHeads, 1, q.seqQ)) *
              std::max<int64_t>(q.seqKv, 1);
    const double perItem = std::max(work / (4.0 * n), 1.0);
    for (const Sequence &q : sequences) {
      longestKv = std::max(longestKv, q.seqKv);
      if (q.seqQ == 0)
        continue;
      Segment g;
      g.sequence = &q;
      g.batch = 1;
      g.seqQ = q.seqQ;
      g.seqKv = q.seqKv;
      g.splits = kvSplits ? kvSplits
                 : s.blockQ > 0
                     ? 1
                     : sequenceSplits(q.seqKv, s.blockN, perItem);
      segments.push_back(g);
    }
  }
  // Prefill kernels' K^T cache tags hold (batch x kv_heads) and the tile
  // in 32 bits each (convert-attn-to-scf); decode kernels keep no tags.
  const int64_t batches = bySequence ? static_cast<int64_t>(sequences.size())
                                     : a.q.batch();
  int64_t tagged = 0;
  if (s.mode == Mode::Prefill &&
      (__builtin_mul_overflow(batches, s.kvHeads, &tagged) ||
       tagged >= (int64_t(1) << 31) || longestKv >= (int64_t(1) << 31) * s.blockN))
    return Status::error(fmt::format(
        "prefill kernels on the cpu run at most 2^31 - 1 batch x kv_heads and "
        "2^31 key tiles a sequence; got batch {} x kv_heads {} and {} keys "
        "(a decode kernel has neither limit)",
        batches, s.kvHeads, longestKv));
  int64_t items = 0, partialFloats = 0;
  bool tooMany = false;
  for (Segment &g : segments) {
    g.firstItem = items;
    g.items = split.items(s.qHeads, g.batch, g.seqQ) * g.splits;
    items += g.items;
    g.rows = g.batch * s.qHeads * g.seqQ;
    g.workspace = partialFloats;
    int64_t floats = 0;
    if (g.splits > 1)
      tooMany |= __builtin_mul_overflow(g.splits * (s.dV + 2), g.rows, &floats) ||
                 __builtin_add_overflow(partialFloats, floats, &partialFloats);
  }

  // Split-KV partials live in a per-thread workspace that grows once and is
  // reused.
  thread_local std::vector<float> workspaceBuffer;
  std::vector<float> &workspace = workspaceBuffer;
  if (tooMany || workspace.size() < static_cast<size_t>(partialFloats)) {
    try {
      if (tooMany)
        throw std::bad_alloc();
      workspace.resize(partialFloats);
    } catch (const std::bad_alloc &) {
      return Status::ioError(
          segments.size() == 1
              ? fmt::format("the split-KV workspace ({} splits x {} rows x "
                            "(d_v + 2) floats) cannot be allocated; pass "
                            "kvSplits = 1",
                            segments[0].splits, segments[0].rows)
              : fmt::format("the split-KV workspaces of {} sequences cannot "
                            "be allocated; pass kvSplits = 1",
                            segments.size()));
    }
  }

  // One descriptor per argument, in the ABI's order (compiler/KernelAbi.h),
  // then the workspace. The kernel only reads them, so every thread passes
  // the same ones; a sequence's item patches its own views into a copy.
  using mlir::attn::abi::Role;
  auto viewOf = [&](Role role, const Sequence *q) -> const TensorView * {
    switch (role) {
    case Role::Q:
      return q ? &q->q : &a.q;
    case Role::K:
      return q ? &q->k : &a.k;
    case Role::V:
      return q ? &q->v : &a.v;
    case Role::O:
      return q ? &q->o : &a.o;
    case Role::Lse:
      return q ? &q->lse : &a.lse;
    case Role::Probs: // dense layouts only (checkCpuSupport)
      return &a.probs;
    default:
      return nullptr;
    }
  };
  const BlockMaskArgs &m = a.blockMask;
  auto blockPart = [&](Role role) -> const InputTensor * {
    switch (role) {
    case Role::KvNumBlocks:
      return &m.numBlocks;
    case Role::KvIndices:
      return &m.indices;
    case Role::FullKvNumBlocks:
      return &m.fullNumBlocks;
    case Role::FullKvIndices:
      return &m.fullIndices;
    default:
      return nullptr;
    }
  };
  thread_local std::vector<Descriptor> sharedBuffer;
  std::vector<Descriptor> &shared = sharedBuffer;
  shared.clear();
  const int64_t zeros[Descriptor::kMaxRank] = {};
  for (const mlir::attn::abi::Arg &arg : impl_->args) {
    if (const TensorView *view = viewOf(arg.role, nullptr)) {
      shared.emplace_back(view->data, view->sizes.data(), view->strides.data(),
                          arg.rank);
    } else if (const InputTensor *part = blockPart(arg.role)) {
      shared.emplace_back(part->data, part->sizes.data(), part->strides.data(),
                          arg.rank);
    } else if (arg.role == Role::Input) {
      for (const InputTensor &t : a.inputs) // validated: exactly one
        if (t.name == arg.name)
          shared.emplace_back(t.data, t.sizes.data(), t.strides.data(),
                              arg.rank);
    } else { // the page table and kv lengths: set per sequence
      shared.emplace_back(nullptr, zeros, zeros, arg.rank);
    }
  }
  const int64_t workspaceSize = static_cast<int64_t>(workspace.size()),
                unitStride = 1;
  shared.emplace_back(workspace.data(), &workspaceSize, &unitStride, 1);

  // Prefill kernels keep K^T tiles per thread (decode kernels visit each
  // tile once and pack it on the stack: they get an empty cache).
  const int64_t ktRows = mlir::attn::abi::ktRows(s.dQk, s.dot);
  const int64_t tileFloats = ktRows * s.blockN;
  const int64_t slots =
      s.mode != Mode::Prefill
          ? 0
          : std::clamp<int64_t>(
                static_cast<int64_t>(ktCacheLimit.load() / (4 * tileFloats)), 1,
                std::max<int64_t>((longestKv + s.blockN - 1) / s.blockN, 1));
  // Paged calls with k_new/v_new: the new rows go into their pages first
  // (checked: no page that takes them is shared), then attention reads
  // them. Last of all the checks, so that a refused call changes nothing.
  if (s.layout == Layout::Paged && a.sequences.kNew.data)
    appendNewKeys(sequences);
  const uint64_t call = nextCall();
  PackedFn fn = impl_->fn;
  const std::vector<mlir::attn::abi::Arg> &abiArgs = impl_->args;
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
    // The item's segment: the last one starting at or before it.
    auto it = std::upper_bound(
        segments.begin(), segments.end(), item,
        [](int64_t i, const Segment &g) { return i < g.firstItem; });
    const Segment &g = *std::prev(it);
    const Sequence *q = g.sequence;
    const int64_t ktSizes[] = {slots, ktRows, s.blockN},
                  ktStrides[] = {tileFloats, s.blockN, 1};
    Descriptor kt(cache.tiles.data(), ktSizes, ktStrides, 3);
    Descriptor tags(cache.tags.data(), &slots, &unitStride, 1);
    int64_t begin = item - g.firstItem, end = begin + 1, splits = g.splits,
            batchBase = q ? q->index : 0;
    void *args[kPackedArgs];
    size_t count = shared.size();
    // A sequence's own views, page list, kv length, block-mask rows and
    // partials, in copies of the shared descriptors.
    // Not zeroed: every item of a dense call would pay for clearing it.
    Descriptor own[kPackedArgs];
    const int32_t kvLen = static_cast<int32_t>(g.seqKv);
    const int64_t one = 1, pageSizes[] = {1, q ? q->pageCount : 0},
                  pageStrides[] = {0, q ? q->pageStride : 0};
    for (size_t i = 0; i < count; ++i)
      args[i] = shared[i].get();
    if (q) {
      for (size_t i = 0; i < abiArgs.size(); ++i) {
        const mlir::attn::abi::Arg &arg = abiArgs[i];
        if (const TensorView *view = viewOf(arg.role, q)) {
          own[i] = Descriptor(view->data, view->sizes.data(),
                              view->strides.data(), arg.rank);
        } else if (arg.role == Role::PageTable) {
          own[i] = Descriptor(q->pages, pageSizes, pageStrides, 2);
        } else if (arg.role == Role::KvSeqlens) {
          own[i] = Descriptor(&kvLen, &one, &one, 1);
        } else if (const InputTensor *part = blockPart(arg.role);
                   part && part->sizes[0] != 1) {
          // This sequence's row of a per-batch block mask.
          own[i] = shared[i];
          own[i].words[0] = own[i].words[1] +=
              q->index * part->strides[0] * 4;
          own[i].words[3] = 1;
        } else {
          continue;
        }
        args[i] = own[i].get();
      }
      own[count - 1] = shared[count - 1];
      own[count - 1].words[0] = own[count - 1].words[1] += g.workspace * 4;
      own[count - 1].words[3] = workspaceSize - g.workspace;
      args[count - 1] = own[count - 1].get();
    }
    // Then splits, begin, end, kt, tags and the batch base (checked to fit
    // in load()).
    args[count] = &splits;
    args[count + 1] = &begin;
    args[count + 2] = &end;
    args[count + 3] = kt.get();
    args[count + 4] = tags.get();
    args[count + 5] = &batchBase;
    fn(args);
  });

  // Merge the split segments' rows, all in one parallel loop: O = sum_s
  // w_s acc_s / sum_s w_s l_s with w_s = exp(m_s - max m).
  thread_local std::vector<std::pair<int64_t, const Segment *>> mergeBuffer;
  std::vector<std::pair<int64_t, const Segment *>> &merges = mergeBuffer;
  merges.clear();
  int64_t mergeRows = 0;
  for (const Segment &g : segments)
    if (g.splits > 1) {
      merges.emplace_back(mergeRows, &g);
      mergeRows += g.rows;
    }
  if (merges.empty())
    return Status::success();
  ThreadPool::shared().parallelFor(mergeRows, n, [&](int64_t at) {
    // The row's segment: the last one starting at or before it.
    auto it = std::upper_bound(
        merges.begin(), merges.end(), at,
        [](int64_t i, const std::pair<int64_t, const Segment *> &m) {
          return i < m.first;
        });
    const Segment &g = *std::prev(it)->second;
    const int64_t row = at - std::prev(it)->first;
    const int64_t splits = g.splits, rows = g.rows, seqQ = g.seqQ;
    const TensorView &o = g.sequence ? g.sequence->o : a.o;
    const TensorView &lse = g.sequence ? g.sequence->lse : a.lse;
    const float *acc = workspace.data() + g.workspace;
    const float *mx = acc + splits * rows * s.dV, *l = mx + splits * rows;
    int64_t pos = row % seqQ, h = row / seqQ % s.qHeads,
            b = row / seqQ / s.qHeads;
    float best = -std::numeric_limits<float>::infinity();
    for (int64_t sp = 0; sp < splits; ++sp)
      best = std::max(best, mx[sp * rows + row]);
    float total = 0;
    float weights[kMaxKvSplits];
    for (int64_t sp = 0; sp < splits; ++sp) {
      float w = l[sp * rows + row] > 0 ? std::exp(mx[sp * rows + row] - best)
                                       : 0.f;
      weights[sp] = w;
      total += w * l[sp * rows + row];
    }
    // A split that saw a NaN score poisons the row (its l is NaN), as in
    // one pass; a fully masked split (l = 0) counts for nothing.
    for (int64_t sp = 0; sp < splits; ++sp)
      if (std::isnan(l[sp * rows + row]))
        total = std::numeric_limits<float>::quiet_NaN();
    float inv = total > 0 ? 1.f / total : std::isnan(total) ? total : 0.f;
    for (int64_t d = 0; d < s.dV; ++d) {
      float sum = 0;
      for (int64_t sp = 0; sp < splits; ++sp)
        if (weights[sp] != 0)
          sum += weights[sp] * acc[(sp * rows + row) * s.dV + d];
      o.set(b, h, pos, d, sum * inv);
    }
    if (s.lse)
      lse.at(b, h, pos, 0) = total > 0 || std::isnan(total)
                                 ? best + std::log(total)
                                 : -std::numeric_limits<float>::infinity();
  });
  return Status::success();
}

} // namespace attnc
