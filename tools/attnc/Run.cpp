// attnc run: compile a spec for this CPU (or, with --target cuda, for the
// GPU), run it on random or .npy inputs, check it against the float64
// reference, and time it.
#include "Commands.h"
#include "DeclaredInputs.h"
#include "Heatmap.h"

#include "runtime/BlockMask.h"
#include "runtime/CpuKernel.h"
#include "runtime/Dispatch.h"
#include "runtime/KernelCache.h"
#include "runtime/Npy.h"
#include "runtime/Reference.h"
#include "runtime/cuda/CudaKernel.h"
#include "runtime/cuda/DeviceRun.h"
#include "runtime/cuda/SimtKernel.h"
#include "runtime/cuda/Driver.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <tuple>

namespace attnc::cli {
namespace {

/// The (batch, seq, heads, dim) of an .npy array stored in `layout` order.
struct LayoutDims {
  int64_t batch, seq, heads, dim;
};

StatusOr<LayoutDims> dimsOf(const std::string &file, const NpyArray &a,
                            Layout layout, const char *headsName,
                            int64_t heads, const char *dimName, int64_t dim) {
  const char *expected = layout == Layout::BSHD ? "(batch, seq, heads, dim)"
                                                : "(batch, heads, seq, dim)";
  if (a.shape.size() != 4)
    return Status::error(fmt::format(
        "{}: has {} dimensions; layout {} expects 4: {}", file, a.shape.size(),
        toString(layout), expected));
  LayoutDims d = layout == Layout::BSHD
                     ? LayoutDims{a.shape[0], a.shape[1], a.shape[2], a.shape[3]}
                     : LayoutDims{a.shape[0], a.shape[2], a.shape[1], a.shape[3]};
  if (d.heads != heads || d.dim != dim)
    return Status::error(fmt::format(
        "{}: shape ({}) is {} with {} heads and dim {}, but the kernel has {} "
        "= {} and {} = {}",
        file, fmt::join(a.shape, ", "), expected, d.heads, d.dim, headsName,
        heads, dimName, dim));
  if (d.batch < 1 || d.seq < 1)
    return Status::error(fmt::format(
        "{}: shape ({}) has batch {} and seq {}; both must be >= 1", file,
        fmt::join(a.shape, ", "), d.batch, d.seq));
  return d;
}

Status fail(const std::string &message) { return Status::error(message); }

/// The inputs of a run: .npy files (their shapes give batch and lengths)
/// or random values from the seed.
struct Inputs {
  std::vector<float> q, k, v;
  int64_t batch = 0, seqQ = 0, seqKv = 0;
  DeclaredInputs declared; // the kernel's #attn.input tensors
};


StatusOr<Inputs> loadInputs(const Options &o, const KernelSpec &s) {
  if (!o.lseFile.empty() && !s.lse)
    return fail(fmt::format(
        "--lse needs a kernel that returns LSE; add lse = true to @{}", s.name));
  Inputs in;
  if (!o.qFile.empty()) {
    StatusOr<NpyArray> q = readNpy(o.qFile), k = readNpy(o.kFile),
                       v = readNpy(o.vFile);
    for (auto *a : {&q, &k, &v})
      if (!a->ok())
        return a->status();
    // uint16 files are read as bf16 bit patterns; f16 bits saved as uint16
    // would be misread, so an f16 tensor must come from a float16 file.
    for (auto [file, a, name, type] :
         {std::tuple{&o.qFile, &q, "q", &s.elementType},
          std::tuple{&o.kFile, &k, "k", &s.kvType()},
          std::tuple{&o.vFile, &v, "v", &s.kvType()}})
      if ((*a)->stored == DType::BF16 && dtypeNamed(*type) == DType::F16)
        return fail(fmt::format(
            "{}: holds uint16, which attnc reads as bf16 bit patterns, but "
            "this kernel's {} is f16; save it as float16",
            *file, name));
    auto qd = dimsOf(o.qFile, *q, s.layout, "q_heads", s.qHeads, "d_qk", s.dQk);
    auto kd = dimsOf(o.kFile, *k, s.layout, "kv_heads", s.kvHeads, "d_qk", s.dQk);
    auto vd = dimsOf(o.vFile, *v, s.layout, "kv_heads", s.kvHeads, "d_v", s.dV);
    for (auto *d : {&qd, &kd, &vd})
      if (!d->ok())
        return d->status();
    in.batch = qd->batch;
    in.seqQ = qd->seq;
    in.seqKv = kd->seq;
    if (kd->batch != in.batch || vd->batch != in.batch || vd->seq != in.seqKv)
      return fail(fmt::format(
          "{}, {} and {} disagree: batch {}, {}, {}; k and v seq {} vs {}",
          o.qFile, o.kFile, o.vFile, in.batch, kd->batch, vd->batch, in.seqKv,
          vd->seq));
    for (auto [flag, given, actual] :
         {std::tuple{"--batch", o.batch, in.batch},
          std::tuple{"--seq-q", o.seqQ, in.seqQ},
          std::tuple{"--seq-kv", o.seqKv, in.seqKv}})
      if (given && *given != actual)
        return fail(fmt::format(
            "{} {} contradicts the .npy inputs, which have {}", flag, *given,
            actual));
    in.q = std::move(q->data);
    in.k = std::move(k->data);
    in.v = std::move(v->data);
  } else {
    if (!o.seqQ)
      return fail("--seq-q is required (or give --q/--k/--v)");
    in.batch = o.batch.value_or(1);
    in.seqQ = *o.seqQ;
    in.seqKv = o.seqKv.value_or(in.seqQ);
  }
  // Sizes are >= 1 here: the flags are checked when parsed, the .npy
  // shapes by dimsOf (each error names where the size came from).
  if (Status st = checkTensorSizes(s, in.batch, in.seqQ, in.seqKv); !st.ok())
    return st;
  std::mt19937_64 rng(o.seed);
  if (o.qFile.empty()) {
    auto random = [&](int64_t n) { return uniformInputs(n, rng); };
    in.q = random(in.batch * in.seqQ * s.qHeads * s.dQk);
    in.k = random(in.batch * in.seqKv * s.kvHeads * s.dQk);
    in.v = random(in.batch * in.seqKv * s.kvHeads * s.dV);
  }
  auto declared = loadDeclaredInputs(o.inputFiles, s, in.batch, in.seqQ,
                                     in.seqKv, rng);
  if (!declared.ok())
    return declared.status();
  in.declared = std::move(*declared);
  return in;
}

/// What both targets print first: the kernel.
void printKernel(const KernelSpec &s) {
  std::string mask = toString(s.mask);
  if (s.mask == MaskKind::SlidingWindow)
    mask += fmt::format(" left {} right {}", s.windowLeft, s.windowRight);
  if (s.mask == MaskKind::Causal || s.mask == MaskKind::SlidingWindow)
    mask += fmt::format(" ({})", toString(s.alignment));
  fmt::print("kernel    @{}: q_heads {}, kv_heads {}, d_qk {}, d_v {}, {}, "
             "mask {}, layout {}{}{}{}\n",
             s.name, s.qHeads, s.kvHeads, s.dQk, s.dV,
             s.kvType() == s.elementType
                 ? s.elementType
                 : fmt::format("{} (k, v {})", s.elementType, s.kvType()),
             mask,
             toString(s.layout), s.softcap ? fmt::format(", softcap {}", s.softcap) : "",
             s.scoreMod != ScoreMod::None
                 ? fmt::format(", score_mod {}", toString(s.scoreMod))
                 : "",
             s.lse ? ", lse" : "");
}

/// The CPU kernel's schedule line; `from` says where the schedule came from.
void printCpuSchedule(const KernelSpec &t, unsigned threads,
                      const std::string &from) {
  fmt::print("schedule  block_m {}, block_n {}, micro {}x{}, vector_width {}, "
             "threads {}{}{} ({})\n",
             t.blockM, t.blockN, t.microM, t.microN, t.vectorWidth, threads,
             t.dot == 16 ? ", bf16 products (dot 16)" : "",
             t.prefetch == 2   ? ", prefetch into L2"
             : t.prefetch == 1 ? ", prefetch into L1"
                               : "",
             from);
}

void printShape(const Options &o, const Inputs &in) {
  fmt::print("shape     batch {}, seq_q {}, seq_kv {}{}\n", in.batch, in.seqQ,
             in.seqKv,
             o.qFile.empty() ? fmt::format(" (random inputs, seed {})", o.seed)
                             : " (from .npy)");
  if (!in.declared.notes.empty())
    fmt::print("inputs    {}\n", fmt::join(in.declared.notes, "; "));
}

void printTime(std::vector<double> millis, const KernelSpec &s,
               const AttentionArgs &args) {
  std::sort(millis.begin(), millis.end());
  double median = millis[millis.size() / 2];
  double flops = attentionFlops(s, args);
  fmt::print("time      {:.3f} ms (median of {}; min {:.3f})   {:.1f} GFLOP/s\n",
             median, millis.size(), millis.front(), flops / (median * 1e6));
}

/// Host buffers for O and LSE, and the views of one call. With `typed`
/// (the CPU target), q and o are held in the kernel's element type and k
/// and v in its kv element type, rounded to nearest even from the inputs;
/// otherwise every view is f32 (the CUDA paths convert for the device).
struct HostCall {
  std::vector<float> out, lse;
  std::vector<TypedTensor> tensors; // q, k, v, o
  AttentionArgs args;
  HostCall(const KernelSpec &s, Inputs &in, bool typed = false) {
    out.assign(in.batch * in.seqQ * s.qHeads * s.dV, 0.f);
    lse.assign(s.lse ? in.batch * s.qHeads * in.seqQ : 0, 0.f);
    const DType qType = typed ? dtypeNamed(s.elementType) : DType::F32;
    const DType kvType = typed ? dtypeNamed(s.kvType()) : DType::F32;
    tensors.reserve(4);
    tensors.emplace_back(in.q, qType, s.layout, in.batch, in.seqQ, s.qHeads, s.dQk);
    tensors.emplace_back(in.k, kvType, s.layout, in.batch, in.seqKv, s.kvHeads, s.dQk);
    tensors.emplace_back(in.v, kvType, s.layout, in.batch, in.seqKv, s.kvHeads, s.dV);
    tensors.emplace_back(out, qType, s.layout, in.batch, in.seqQ, s.qHeads, s.dV);
    args = {tensors[0].view, tensors[1].view, tensors[2].view, tensors[3].view, {}};
    if (s.lse)
      args.lse = lseView(lse.data(), in.batch, s.qHeads, in.seqQ);
    args.inputs = in.declared.tensors;
  }
  /// O as floats (exact, whatever its element type).
  std::vector<float> outputFloats() const { return tensors[3].floats(); }
  /// Block-sparse kernels: the block mask of the kernel's own mask for this
  /// shape, printed with its density.
  Status attachBlockMask(const KernelSpec &s) {
    if (s.blockQ == 0)
      return Status::success();
    auto start = std::chrono::steady_clock::now();
    auto built = buildBlockMask(s, args);
    if (!built.ok())
      return built.status();
    blocks = std::move(*built);
    args.blockMask = blocks.args();
    fmt::print("blocks    {}x{} blocks from the kernel's mask: {:.1f}% visited "
               "(built in {:.1f} ms)\n",
               s.blockQ, s.blockKv, 100 * blocks.density(),
               std::chrono::duration<double, std::milli>(
                   std::chrono::steady_clock::now() - start)
                   .count());
    return Status::success();
  }
  BlockMask blocks;
};

/// The float64 check (unless --no-check): prints it, returns the exit code.
int printCheck(const Options &o, const KernelSpec &s, const AttentionArgs &args) {
  int rc = 0;
  if (o.check) {
    Comparison c = compareWithReference(s, args);
    bool half = s.elementType != "f32";
    fmt::print("check     {}max |out - ref| {:.3g} vs tolerance {:.3g} (2 x "
               "naive {} error {:.3g} + 1e-5){}{}: {}\n",
               takesSequences(s.layout)
                   ? "each sequence on its own; the worst: "
                   : "",
               c.maxError, c.tolerance, half ? s.elementType : "f32",
               c.naiveError,
               s.lse && half ? fmt::format("; LSE {:.3g} vs {:.3g}", c.lseError,
                                           c.lseTolerance)
                             : "",
               c.nonFinite    ? ", NaN/inf found"
               : c.nanMissing ? ", a number where the reference is NaN"
               : c.lseMismatch ? ", LSE -inf mismatch"
                               : "",
               c.passed() ? "PASS" : "FAIL");
    rc = c.passed() ? 0 : 1;
  }
  return rc;
}

/// The float64 check and the .npy outputs, the same for both targets.
int checkAndWrite(const Options &o, const KernelSpec &s, const Inputs &in,
                  const HostCall &call) {
  const AttentionArgs &args = call.args;
  int rc = printCheck(o, s, args);
  if (!o.outFile.empty()) {
    std::vector<int64_t> shape =
        s.layout == Layout::BSHD
            ? std::vector<int64_t>{in.batch, in.seqQ, s.qHeads, s.dV}
            : std::vector<int64_t>{in.batch, s.qHeads, in.seqQ, s.dV};
    // f16 kernels' outputs are written as float16 (on every target), bf16
    // ones as float32 (exact: NumPy has no bf16).
    if (Status st = writeNpy(o.outFile, shape, call.outputFloats().data(),
                             dtypeNamed(s.elementType) == DType::F16
                                 ? DType::F16
                                 : DType::F32);
        !st.ok())
      return exitWith(st);
    fmt::print("wrote     {} {}\n", o.outFile, fmt::join(shape, "x"));
  }
  if (!o.lseFile.empty()) {
    if (Status st = writeNpy(o.lseFile, {in.batch, s.qHeads, in.seqQ},
                             static_cast<float *>(args.lse.data));
        !st.ok())
      return exitWith(st);
    fmt::print("wrote     {} {}x{}x{}\n", o.lseFile, in.batch, s.qHeads,
               in.seqQ);
  }
  return rc;
}

int report(const Status &st) { return exitWith(st); }

double millisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

/// A varlen or paged call of attnc run: random sequences of the --seqlens
/// lengths, packed (varlen) or in shuffled pages (paged, in
/// FlashAttention's block_table form). `typed`: tensors in the kernel's
/// element types (the cpu target); else f32, which the CUDA targets'
/// host runs round and convert themselves.
struct SequenceCall {
  std::vector<float> qv, kv, vv, out, lse;
  std::vector<TypedTensor> t;
  std::vector<int32_t> cuQ = {0}, cuK = {0}, table, lens;
  DeclaredInputs declared;
  AttentionArgs args;
  std::string shape; // the "shape" line
};

StatusOr<std::unique_ptr<SequenceCall>> buildSequenceCall(const Options &o,
                                                          const KernelSpec &s,
                                                          bool typed) {
  const bool paged = s.layout == Layout::Paged;
  const char *layout = toString(s.layout);
  if (o.seqlens.empty())
    return fail(fmt::format(
        "kernel @{} has layout {}: give each sequence's length with --seqlens "
        "L1,L2,...",
        s.name, layout));
  if (!o.qFile.empty())
    return fail(fmt::format(
        "--q/--k/--v: layout {} runs on random inputs only (.npy inputs are "
        "not read for it yet)",
        layout));
  for (auto [flag, given] :
       {std::pair{"--out", !o.outFile.empty()}, std::pair{"--lse", !o.lseFile.empty()},
        std::pair{"--tuning-db", !o.tuningDb.empty()}})
    if (given)
      return fail(fmt::format("{} is not supported for layout {} yet", flag, layout));
  for (auto [flag, given] : {std::pair{"--batch", o.batch.has_value()},
                             std::pair{"--seq-kv", o.seqKv.has_value()}})
    if (given)
      return fail(fmt::format(
          "{} does not apply to layout {}: --seqlens gives the sequences", flag,
          layout));
  if (!paged && o.seqQ)
    return fail("--seq-q does not apply to layout varlen: --seqlens gives "
                "each sequence's length");
  if (!paged && o.pageSize)
    return fail("--page-size applies only to layout paged");
  if (paged && !o.seqlensKv.empty())
    return fail("--seqlens-kv applies only to layout varlen (for layout "
                "paged, --seqlens gives the cached keys)");
  if (s.blockQ > 0)
    return fail(fmt::format(
        "attnc run builds block masks for dense layouts only; kernel @{} is "
        "block-sparse with layout {}",
        s.name, layout));
  const int64_t batch = static_cast<int64_t>(o.seqlens.size());
  std::vector<int64_t> lq, lk = o.seqlensKv.empty() ? o.seqlens : o.seqlensKv;
  if (lk.size() != o.seqlens.size())
    return fail(fmt::format("--seqlens-kv has {} lengths, but --seqlens has {}",
                            lk.size(), o.seqlens.size()));
  if (paged)
    lq.assign(batch, o.seqQ.value_or(1));
  else
    lq = o.seqlens;
  const int64_t pageSize = o.pageSize.value_or(16);
  if (pageSize > (int64_t(1) << 31) - 1)
    return fail(fmt::format("--page-size {} is more than 2^31 - 1 keys", pageSize));
  int64_t totalQ = 0, totalK = 0, pages = 0, maxQ = 0, maxK = 0, maxPages = 1;
  for (int64_t i = 0; i < batch; ++i) {
    totalQ += lq[i];
    totalK += lk[i];
    int64_t p = (lk[i] + pageSize - 1) / pageSize;
    pages += p;
    maxPages = std::max(maxPages, p);
    maxQ = std::max(maxQ, lq[i]);
    maxK = std::max(maxK, lk[i]);
  }
  // A pool of at least one page, so that its view always has memory.
  const int64_t poolTokens = paged ? std::max<int64_t>(pages, 1) * pageSize : totalK;
  if (Status st = checkTensorSizes(s, 1, totalQ, std::max(poolTokens, totalK));
      !st.ok())
    return st;
  if (pages > (int64_t(1) << 31) - 1 || totalQ > (int64_t(1) << 31) - 1 ||
      totalK > (int64_t(1) << 31) - 1)
    return fail("--seqlens: the lengths add up to more than 2^31 - 1");
  auto c = std::make_unique<SequenceCall>();
  std::mt19937_64 rng(o.seed);
  auto random = [&](int64_t n) { return uniformInputs(n, rng); };
  c->qv = random(totalQ * s.qHeads * s.dQk);
  c->kv = random(std::max<int64_t>(poolTokens, 1) * s.kvHeads * s.dQk);
  c->vv = random(std::max<int64_t>(poolTokens, 1) * s.kvHeads * s.dV);
  c->out.resize(totalQ * s.qHeads * s.dV);
  c->lse.resize(s.qHeads * totalQ);
  const DType type = typed ? dtypeNamed(s.elementType) : DType::F32,
              kvType = typed ? dtypeNamed(s.kvType()) : DType::F32;
  // Packed [total, heads, d] (one sequence after another), or dense
  // queries [batch, seq_q, heads, d] and pools [pages, page_size, heads, d].
  const int64_t qBatch = paged ? batch : 1, qSeq = paged ? lq[0] : totalQ;
  std::vector<TypedTensor> &t = c->t;
  t.reserve(4);
  t.emplace_back(c->qv, type, Layout::BSHD, qBatch, qSeq, s.qHeads, s.dQk);
  t.emplace_back(c->kv, kvType, Layout::BSHD, paged ? std::max<int64_t>(pages, 1) : 1,
                 paged ? pageSize : totalK, s.kvHeads, s.dQk);
  t.emplace_back(c->vv, kvType, Layout::BSHD, paged ? std::max<int64_t>(pages, 1) : 1,
                 paged ? pageSize : totalK, s.kvHeads, s.dV);
  t.emplace_back(c->out, type, Layout::BSHD, qBatch, qSeq, s.qHeads, s.dV);
  AttentionArgs &args = c->args;
  args = {t[0].view, t[1].view, t[2].view, t[3].view, {}};
  if (s.lse)
    args.lse = lseView(c->lse.data(), qBatch, s.qHeads, qSeq);
  for (int64_t i = 0; i < batch; ++i) {
    c->cuQ.push_back(static_cast<int32_t>(c->cuQ.back() + lq[i]));
    c->cuK.push_back(static_cast<int32_t>(c->cuK.back() + lk[i]));
  }
  if (paged) {
    // Each sequence's pages, drawn from a shuffled pool; unused table
    // entries hold -1 (never read).
    std::vector<int32_t> order(pages);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    c->table.assign(batch * maxPages, -1);
    int64_t next = 0;
    for (int64_t i = 0; i < batch; ++i) {
      for (int64_t j = 0; j < (lk[i] + pageSize - 1) / pageSize; ++j)
        c->table[i * maxPages + j] = order[next++];
      c->lens.push_back(static_cast<int32_t>(lk[i]));
    }
    args.sequences.blockTable = int32Array(c->table.data(), {batch, maxPages});
    args.sequences.cacheSeqlens = int32Array(c->lens.data(), {batch});
  } else {
    args.sequences.cuSeqlensQ = int32Array(c->cuQ.data(), {batch + 1});
    args.sequences.cuSeqlensK = int32Array(c->cuK.data(), {batch + 1});
  }
  auto declared = loadDeclaredInputs(o.inputFiles, s, batch, maxQ, maxK, rng);
  if (!declared.ok())
    return declared.status();
  c->declared = std::move(*declared);
  args.inputs = c->declared.tensors;
  c->shape =
      paged ? fmt::format("shape     paged: {} sequences of {} queries; keys {} in {} "
                          "pages of {}, shuffled (random inputs, seed {})",
                          batch, lq[0], fmt::join(lk, ","), pages, pageSize, o.seed)
            : fmt::format("shape     varlen: {} sequences; q lengths {} (total {}), k "
                          "lengths {} (total {}) (random inputs, seed {})",
                          batch, fmt::join(lq, ","), totalQ, fmt::join(lk, ","),
                          totalK, o.seed);
  if (!c->declared.notes.empty())
    c->shape += fmt::format("\ninputs    {}", fmt::join(c->declared.notes, "; "));
  return c;
}

/// What the CUDA targets run: random sequences (--seqlens; f32 on the
/// host, which the host runs round and convert) for varlen and paged
/// kernels, else the dense inputs.
Status loadCudaCall(const Options &o, const KernelSpec &s,
                    std::unique_ptr<SequenceCall> &sequences, Inputs &in) {
  if (takesSequences(s.layout)) {
    auto built = buildSequenceCall(o, s, /*typed=*/false);
    if (!built.ok())
      return built.status();
    sequences = std::move(*built);
    return Status::success();
  }
  auto loaded = loadInputs(o, s);
  if (!loaded.ok())
    return loaded.status();
  in = std::move(*loaded);
  return Status::success();
}

/// attnc run --target cuda: NVRTC-compiled, cached, on the GPU.
int runCuda(const Options &o, const KernelIr &ir) {
  // The spec is checked first, on any machine; the GPU is needed after.
  const std::string arch = cuda::CudaBackend::archOrDefault(static_cast<int>(o.device));
  auto translation = detail::translateForCuda(ir, arch);
  if (!translation.ok())
    return report(translation.status());
  const KernelSpec s = translation->spec;
  std::unique_ptr<SequenceCall> sequences;
  StatusOr<Inputs> in = Inputs{};
  if (Status st = loadCudaCall(o, s, sequences, *in); !st.ok())
    return report(st);
  auto backend = cuda::CudaBackend::forDevice(static_cast<int>(o.device));
  if (!backend.ok())
    return report(backend.status());

  KernelCache cache({o.cacheDir, o.useCache});
  auto start = std::chrono::steady_clock::now();
  CacheSource from = CacheSource::Compiled;
  auto kernel = cache.get(ir, *backend, &from);
  if (!kernel.ok())
    return report(kernel.status());
  double compileMillis = millisSince(start);

  auto driver = cuda::Driver::get();
  printKernel(s);
  fmt::print("schedule  block_m {}, block_n {}, warps {}, stages {}, {} KiB "
             "shared memory; {} on device {} ({})\n",
             translation->blockM, translation->blockN, translation->warps,
             translation->stages, translation->sharedBytes / 1024, arch,
             o.device, (*driver)->devices()[o.device].name);
  if (sequences) {
    fmt::print("{}\n", sequences->shape);
    fmt::print("compile   {:.1f} ms ({})\n", compileMillis, toString(from));
    auto millis = cuda::runFromHost(**kernel, sequences->args, o.reps);
    if (!millis.ok())
      return report(millis.status());
    printTime(*millis, s, sequences->args);
    fmt::print("inputs    rounded to {} on the host; the check uses the "
               "rounded values\n",
               s.elementType);
    return printCheck(o, s, sequences->args);
  }
  printShape(o, *in);
  fmt::print("compile   {:.1f} ms ({})\n", compileMillis, toString(from));
  HostCall call(s, *in);
  if (Status st = call.attachBlockMask(s); !st.ok())
    return report(st);
  auto millis = cuda::runFromHost(**kernel, call.args, o.reps);
  if (!millis.ok())
    return report(millis.status());
  printTime(*millis, s, call.args);
  fmt::print("inputs    rounded to {} on the host; the check uses the rounded "
             "values\n",
             s.elementType);
  return checkAndWrite(o, s, *in, call);
}

/// attnc run --target cuda-sim: the CUDA kernel text, emulated on the CPU.
int runSimulated(const Options &o, const KernelIr &ir) {
  cuda::SimtBackend backend;
  auto translation = backend.translate(ir);
  if (!translation.ok())
    return report(translation.status());
  const KernelSpec s = (*translation)->spec();
  std::unique_ptr<SequenceCall> sequences;
  StatusOr<Inputs> in = Inputs{};
  if (Status st = loadCudaCall(o, s, sequences, *in); !st.ok())
    return report(st);
  KernelCache cache({o.cacheDir, o.useCache});
  auto start = std::chrono::steady_clock::now();
  CacheSource from = CacheSource::Compiled;
  auto kernel = cache.get(ir, backend, &from);
  if (!kernel.ok())
    return report(kernel.status());
  double compileMillis = millisSince(start);
  const detail::CudaCodegen &c = (*kernel)->codegen();
  printKernel(s);
  fmt::print("schedule  block_m {}, block_n {}, warps {}, stages {}, {} KiB "
             "shared memory; sm_80 kernel text on the SIMT emulator\n",
             c.blockM, c.blockN, c.warps, c.stages, c.sharedBytes / 1024);
  if (sequences)
    fmt::print("{}\n", sequences->shape);
  else
    printShape(o, *in);
  fmt::print("compile   {:.1f} ms ({}, host C++ compiler)\n", compileMillis,
             toString(from));
  std::optional<HostCall> dense;
  if (!sequences) {
    dense.emplace(s, *in);
    if (Status st = dense->attachBlockMask(s); !st.ok())
      return report(st);
  }
  const AttentionArgs &args = sequences ? sequences->args : dense->args;
  start = std::chrono::steady_clock::now();
  simt::LaunchReport findings;
  Status st = cuda::simtRunFromHost(**kernel, args,
                                    static_cast<unsigned>(o.threads), &findings);
  if (!st.ok())
    return report(st);
  fmt::print("emulated  {:.1f} ms, {} CTAs, no race, bounds, uninitialised or "
             "stale-read finding (an emulator time, not a GPU's)\n",
             millisSince(start), findings.ctasRun);
  fmt::print("inputs    rounded to {} on the host; the check uses the rounded "
             "values\n",
             s.elementType);
  return sequences ? printCheck(o, s, args) : checkAndWrite(o, s, *in, *dense);
}

/// attnc run on a varlen or paged kernel (cpu), checked against float64
/// per sequence.
int runSequences(const Options &o, const KernelIr &ir, const CpuBackend &backend,
                 const KernelSpec &s) {
  auto call = buildSequenceCall(o, s, /*typed=*/true);
  if (!call.ok())
    return report(call.status());
  const AttentionArgs &args = (*call)->args;
  KernelCache cache({o.cacheDir, o.useCache});
  auto start = std::chrono::steady_clock::now();
  CacheSource from = CacheSource::Compiled;
  auto kernel = cache.get(ir, backend, &from);
  if (!kernel.ok())
    return report(kernel.status());
  double compileMillis = millisSince(start);
  const KernelSpec &k = (*kernel)->spec();
  unsigned threads = static_cast<unsigned>(o.threads ? o.threads : s.threads);
  printKernel(s);
  printCpuSchedule(k, threads, "heuristic");
  fmt::print("{}\n", (*call)->shape);
  fmt::print("compile   {:.1f} ms ({})\n", compileMillis, toString(from));
  if (Status st = (*kernel)->run(args, threads); !st.ok()) // warm-up
    return report(st);
  std::vector<double> millis;
  for (int r = 0; r < o.reps; ++r) {
    auto start = std::chrono::steady_clock::now();
    (void)(*kernel)->run(args, threads);
    millis.push_back(millisSince(start));
  }
  printTime(millis, s, args);
  return printCheck(o, s, args);
}

} // namespace

TypedTensor::TypedTensor(std::vector<float> &values, DType type, Layout layout,
                         int64_t batch, int64_t seq, int64_t heads,
                         int64_t dim)
    : view(denseView(values.data(), layout, batch, seq, heads, dim)) {
  if (type != DType::F16 && type != DType::BF16)
    return;
  const HalfKind kind = halfKindOf(type);
  half.resize(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    half[i] = toHalfBits(values[i], kind);
  view.data = half.data();
  view.dtype = type;
}

void TypedTensor::fill(float x) {
  if (half.empty()) {
    float *data = static_cast<float *>(view.data);
    std::fill(data, data + view.sizes[0] * view.sizes[1] * view.sizes[2] *
                               view.sizes[3],
              x);
    return;
  }
  std::fill(half.begin(), half.end(),
            toHalfBits(x, halfKindOf(view.dtype)));
}

std::vector<float> TypedTensor::floats() const {
  const int64_t count =
      view.sizes[0] * view.sizes[1] * view.sizes[2] * view.sizes[3];
  if (half.empty()) {
    const float *data = static_cast<const float *>(view.data);
    return std::vector<float>(data, data + count);
  }
  std::vector<float> x(half.size());
  HalfKind kind = halfKindOf(view.dtype);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = fromHalfBits(half[i], kind);
  return x;
}

Status checkTensorSizes(const KernelSpec &s, int64_t batch, int64_t seqQ,
                        int64_t seqKv) {
  constexpr int64_t kMaxElements = int64_t(1) << 32; // 16 GiB of f32
  for (auto [name, seq, heads, dim] :
       {std::tuple{"q", seqQ, s.qHeads, s.dQk},
        std::tuple{"k", seqKv, s.kvHeads, s.dQk},
        std::tuple{"v", seqKv, s.kvHeads, s.dV},
        std::tuple{"o", seqQ, s.qHeads, s.dV}}) {
    int64_t n = 0;
    if (__builtin_mul_overflow(batch, seq, &n) ||
        __builtin_mul_overflow(n, heads, &n) ||
        __builtin_mul_overflow(n, dim, &n) || n > kMaxElements)
      return Status::error(fmt::format(
          "{} would have batch {} x seq {} x heads {} x dim {} elements; at "
          "most 2^32 are allowed",
          name, batch, seq, heads, dim));
  }
  return Status::success();
}

int runCommand(const Options &o) {
  StatusOr<KernelIr> ir = loadKernel(o);
  if (!ir.ok())
    return report(ir.status());
  if (o.target == "cuda")
    return runCuda(o, *ir);
  if (o.target == "cuda-sim")
    return runSimulated(o, *ir);
  CpuCompileOptions compileOptions;
  compileOptions.vectorWidth = o.vectorWidth;
  CpuBackend backend(compileOptions);
  // The resolved spec (checked, defaults filled) sizes the inputs; which
  // kernel runs is chosen once the shape is known.
  auto translation = backend.translate(*ir);
  if (!translation.ok())
    return report(translation.status());
  const KernelSpec s = (*translation)->spec();
  if (takesSequences(s.layout))
    return runSequences(o, *ir, backend, s);
  for (auto [flag, given] :
       {std::pair{"--seqlens", !o.seqlens.empty()},
        std::pair{"--seqlens-kv", !o.seqlensKv.empty()},
        std::pair{"--page-size", o.pageSize.has_value()}})
    if (given)
      return report(fail(fmt::format(
          "{} applies to layouts varlen and paged; kernel @{} has layout {}",
          flag, s.name, toString(s.layout))));
  StatusOr<Inputs> in = loadInputs(o, s);
  if (!in.ok())
    return report(in.status());

  // The kernel, through the kernel cache (a spec compiled before, by any
  // process, loads in milliseconds; --no-cache keeps it in memory only).
  // With a tuning database, the schedule tuned for this shape (exact or the
  // nearest bucket) replaces the heuristic's: same computation, other tiles.
  KernelCache cache({o.cacheDir, o.useCache});
  auto start = std::chrono::steady_clock::now();
  CacheSource from = CacheSource::Compiled;
  std::shared_ptr<const CpuKernel> kernel;
  std::string scheduleFrom = "heuristic";
  if (!o.tuningDb.empty()) {
    StatusOr<TuningDb> db = TuningDb::load(o.tuningDb);
    if (!db.ok())
      return report(db.status());
    Dispatcher dispatcher(cache, std::move(*db), compileOptions);
    auto choice = dispatcher.select(*ir, in->batch, in->seqQ, in->seqKv);
    if (!choice.ok())
      return report(choice.status());
    kernel = choice->kernel;
    from = choice->from;
    scheduleFrom = !choice->tuned ? "heuristic; the tuning db does not cover "
                                    "this shape"
                   : choice->exact ? "tuning db, exact shape"
                                   : "tuning db, nearest shape";
  } else {
    auto got = cache.get(*ir, backend, &from);
    if (!got.ok())
      return report(got.status());
    kernel = *got;
  }
  double compileMillis = millisSince(start);
  const KernelSpec &t = kernel->spec();

  HostCall call(s, *in, /*typed=*/true);
  if (Status st = call.attachBlockMask(s); !st.ok())
    return report(st);
  unsigned threads = static_cast<unsigned>(o.threads ? o.threads : s.threads);
  printKernel(s);
  printCpuSchedule(t, threads, scheduleFrom);
  printShape(o, *in);
  fmt::print("compile   {:.1f} ms ({})\n", compileMillis, toString(from));

  if (Status st = kernel->run(call.args, threads); !st.ok()) // warm-up
    return report(st);
  std::vector<double> millis;
  for (int r = 0; r < o.reps; ++r) {
    auto start = std::chrono::steady_clock::now();
    (void)kernel->run(call.args, threads);
    millis.push_back(millisSince(start));
  }
  printTime(millis, s, call.args);
  if (s.elementType != "f32" || s.kvType() != "f32")
    fmt::print("inputs    rounded to {} (q) and {} (k, v) on the host; the "
               "check uses the rounded values\n",
               s.elementType, s.kvType());
  return checkAndWrite(o, s, *in, call);
}

int vizCommand(const Options &o) {
  StatusOr<KernelIr> base = loadKernel(o);
  if (!base.ok())
    return report(base.status());
  // The same kernel with probs = true: the fused pass, then P from the LSE.
  StatusOr<KernelIr> ir = base->withProbs();
  if (!ir.ok())
    return report(ir.status());
  CpuCompileOptions compileOptions;
  compileOptions.vectorWidth = o.vectorWidth;
  CpuBackend backend(compileOptions);
  auto translation = backend.translate(*ir); // names what it refuses
  if (!translation.ok())
    return report(translation.status());
  const KernelSpec s = (*translation)->spec();
  StatusOr<Inputs> in = loadInputs(o, s);
  if (!in.ok())
    return report(in.status());
  if (o.batchIndex >= in->batch)
    return report(fail(fmt::format("--batch-index {} is past the batch ({})",
                                   o.batchIndex, in->batch)));
  std::vector<int64_t> heads = o.heads;
  if (heads.empty())
    for (int64_t h = 0; h < std::min<int64_t>(s.qHeads, 64); ++h)
      heads.push_back(h);
  for (int64_t h : heads)
    if (h >= s.qHeads)
      return report(fail(fmt::format("--heads: head {} is past q_heads ({})", h,
                                     s.qHeads)));
  // Sized before P is allocated or the kernel runs (the call checks the
  // same limit; a picture has its own).
  int64_t elements = 0;
  if (__builtin_mul_overflow(in->batch, s.qHeads, &elements) ||
      __builtin_mul_overflow(elements, in->seqQ, &elements) ||
      __builtin_mul_overflow(elements, in->seqKv, &elements) ||
      elements > kMaxProbsElements)
    return report(fail(fmt::format(
        "viz: the probabilities [{}, {}, {}, {}] exceed the {} elements (1 GiB "
        "of f32) a probs call writes; draw fewer heads' inputs or shorter "
        "sequences",
        in->batch, s.qHeads, in->seqQ, in->seqKv, kMaxProbsElements)));

  if (!o.pngFile.empty() && in->seqQ * in->seqKv > kMaxHeatmapCells)
    return report(fail(fmt::format(
        "viz: a heatmap of {} queries x {} keys has more than the {} cells a "
        "picture draws (e.g. 4096 x 4096); use --probs alone, or shorter inputs",
        in->seqQ, in->seqKv, kMaxHeatmapCells)));

  KernelCache cache({o.cacheDir, o.useCache});
  CacheSource from = CacheSource::Compiled;
  auto kernel = cache.get(*ir, backend, &from);
  if (!kernel.ok())
    return report(kernel.status());
  HostCall call(s, *in, /*typed=*/true);
  if (Status st = call.attachBlockMask(s); !st.ok())
    return report(st);
  std::vector<float> probs(static_cast<size_t>(elements));
  call.args.probs = probsView(probs.data(), in->batch, s.qHeads, in->seqQ, in->seqKv);
  unsigned threads = static_cast<unsigned>(o.threads ? o.threads : s.threads);
  printKernel(s);
  printShape(o, *in);
  if (Status st = (*kernel)->run(call.args, threads); !st.ok())
    return report(st);
  int rc = kExitOk;
  if (o.check) {
    Comparison c = compareWithReference(s, call.args);
    fmt::print("check     max |P - ref| {:.3g} vs tolerance {:.3g} (2 x naive f32 "
               "error + 1e-5); O {:.3g} vs {:.3g}: {}\n",
               c.probsError, c.probsTolerance, c.maxError, c.tolerance,
               c.passed() ? "PASS" : "FAIL");
    rc = c.passed() ? kExitOk : kExitCheckFailed;
  }
  if (!o.probsFile.empty()) {
    if (Status st = writeNpy(o.probsFile, {in->batch, s.qHeads, in->seqQ, in->seqKv},
                             probs.data());
        !st.ok())
      return report(st);
    fmt::print("wrote     {} {}x{}x{}x{} (batch, q_heads, seq_q, seq_kv)\n",
               o.probsFile, in->batch, s.qHeads, in->seqQ, in->seqKv);
  }
  if (!o.pngFile.empty()) {
    ModEvaluator mods(s, call.args);
    std::vector<HeatmapPanel> panels;
    const int64_t b = o.batchIndex;
    for (int64_t h : heads) {
      HeatmapPanel p;
      p.title = fmt::format("head {}", h);
      p.rows = in->seqQ;
      p.cols = in->seqKv;
      p.p.resize(static_cast<size_t>(p.rows * p.cols));
      p.visible.resize(p.p.size());
      for (int64_t i = 0; i < p.rows; ++i)
        for (int64_t j = 0; j < p.cols; ++j) {
          p.p[i * p.cols + j] = call.args.probs.at(b, h, i, j);
          p.visible[i * p.cols + j] = mods.visible(b, h, i, j);
        }
      panels.push_back(std::move(p));
    }
    // (The picture's font has no comma.)
    std::string title = fmt::format("{}: batch {} - {} queries x {} keys", s.name, b,
                                    in->seqQ, in->seqKv);
    std::transform(title.begin(), title.end(), title.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (Status st = drawHeatmaps(panels, title, o.pngFile); !st.ok())
      return report(st);
    fmt::print("wrote     {} ({} heads of batch {})\n", o.pngFile, panels.size(), b);
  }
  return rc;
}

} // namespace attnc::cli
