// CPU attention benchmark: attnc's fused kernel against OpenBLAS, all timed
// in one run on the same shapes (speed is only ever claimed as such a ratio).
//
//   prefill: fused attnc vs (a) OpenBLAS sgemm alone on the Q K^T shape and
//            (b) an unfused baseline: sgemm Q K^T, mask + softmax, sgemm P V
//   decode:  fused attnc (seq_q = 1) as GB/s of K/V read vs a read-only
//            streaming kernel over the same K/V bytes, on the same threads
//            (memcpy also writes, and would flatter the ratio)
//
// OpenBLAS reads OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE when it loads; these
// machines set them to work around old bugs and they slow sgemm down, so the
// benchmark re-executes itself without them (design.md, "Measuring").
#include "runtime/CpuKernel.h"
#include "runtime/Half.h"
#include "runtime/Reference.h"
#include "runtime/Spec.h"
#include "runtime/ThreadPool.h"

#include <cblas.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

extern "C" char *openblas_get_corename(void);
extern "C" void openblas_set_num_threads(int);

using namespace attnc;

namespace {

double seconds(const std::function<void()> &fn) {
  auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

/// The median of `reps` timed calls of each function, after one warm-up
/// call each. The calls are interleaved (f0, f1, ..., f0, f1, ...), so a
/// slow spell of this shared machine hits every contender alike and the
/// ratios stay fair.
std::vector<double> interleavedMedians(
    int reps, const std::vector<std::function<void()>> &fns) {
  std::vector<std::vector<double>> times(fns.size());
  for (const auto &fn : fns)
    fn();
  for (int r = 0; r < reps; ++r)
    for (size_t i = 0; i < fns.size(); ++i)
      times[i].push_back(seconds(fns[i]));
  std::vector<double> medians;
  for (std::vector<double> &t : times) {
    std::sort(t.begin(), t.end());
    medians.push_back(t[t.size() / 2]);
  }
  return medians;
}

/// The kernel for `request`; a benchmark cannot go on without it.
std::unique_ptr<CpuKernel> compileOrExit(const KernelRequest &request) {
  auto ir = KernelIr::build(request);
  if (!ir.ok()) {
    fmt::print(stderr, "bad kernel: {}\n", ir.status().message());
    std::exit(1);
  }
  auto kernel = CpuKernel::compile(*ir);
  if (!kernel.ok()) {
    fmt::print(stderr, "compile failed: {}\n", kernel.status().message());
    std::exit(1);
  }
  return std::move(*kernel);
}

/// Runs fn(thread index) on `threads` threads (the caller included).
void onThreads(unsigned threads, const std::function<void(unsigned)> &fn) {
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t)
    pool.emplace_back(fn, t);
  fn(0);
  for (std::thread &t : pool)
    t.join();
}

struct PrefillShape {
  int64_t qHeads, kvHeads, d, seq;
  bool causal;
};

/// Tensors in BHSD layout plus per-thread score buffers for the baseline.
struct PrefillData {
  std::vector<float> q, k, v, o;
  std::vector<std::vector<float>> scores; // one seq x seq buffer per thread
};

/// The unfused baseline for heads [first, last): S = scale Q K^T (sgemm),
/// mask + row softmax (vectorised C++), O = P V (sgemm).
void unfusedHeads(const PrefillShape &s, PrefillData &data, int64_t first,
                  int64_t last, float *scores, bool softmaxAndPV) {
  const int64_t n = s.seq, d = s.d, group = s.qHeads / s.kvHeads;
  const float scale = 1.f / std::sqrt(static_cast<float>(d));
  for (int64_t h = first; h < last; ++h) {
    const float *q = data.q.data() + h * n * d;
    const float *k = data.k.data() + (h / group) * n * d;
    const float *v = data.v.data() + (h / group) * n * d;
    float *o = data.o.data() + h * n * d;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, d, scale, q, d,
                k, d, 0.f, scores, n);
    if (!softmaxAndPV)
      continue;
    for (int64_t i = 0; i < n; ++i) {
      float *row = scores + i * n;
      int64_t visible = s.causal ? i + 1 : n;
      float m = -INFINITY;
      for (int64_t j = 0; j < visible; ++j)
        m = std::max(m, row[j]);
      float sum = 0;
      for (int64_t j = 0; j < visible; ++j)
        sum += (row[j] = std::exp(row[j] - m));
      float inv = 1.f / sum;
      for (int64_t j = 0; j < visible; ++j)
        row[j] *= inv;
      for (int64_t j = visible; j < n; ++j)
        row[j] = 0.f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d, n, 1.f,
                scores, n, v, d, 0.f, o, d);
  }
}

/// The prefill kernel of shape `s` (BHSD; causal masks are top-left).
KernelRequest prefillSpec(const PrefillShape &s, DType type = DType::F32) {
  KernelRequest spec;
  spec.name = "bench";
  spec.qHeads = s.qHeads;
  spec.kvHeads = s.kvHeads;
  spec.dQk = s.d;
  spec.layout = Layout::BHSD;
  spec.elementType = toString(type);
  if (s.causal) {
    spec.mask = MaskKind::Causal;
    spec.alignment = Alignment::TopLeft;
  }
  return spec;
}

void runPrefill(const PrefillShape &s, unsigned threads, int reps,
                std::mt19937 &rng) {
  KernelRequest spec = prefillSpec(s);
  auto kernel = compileOrExit(spec);
  PrefillData data;
  data.q = uniformInputs(s.qHeads * s.seq * s.d, rng);
  data.k = uniformInputs(s.kvHeads * s.seq * s.d, rng);
  data.v = uniformInputs(s.kvHeads * s.seq * s.d, rng);
  data.o.assign(data.q.size(), 0.f);
  for (unsigned t = 0; t < threads; ++t)
    data.scores.emplace_back(s.seq * s.seq, 0.f); // allocated once, reused
  const KernelSpec &r = kernel->spec();
  AttentionArgs args{
      denseView(data.q.data(), Layout::BHSD, 1, s.seq, s.qHeads, s.d),
      denseView(data.k.data(), Layout::BHSD, 1, s.seq, s.kvHeads, s.d),
      denseView(data.v.data(), Layout::BHSD, 1, s.seq, s.kvHeads, s.d),
      denseView(data.o.data(), Layout::BHSD, 1, s.seq, s.qHeads, s.d),
      {}};

  // Baselines: heads split over `threads` threads, single-threaded sgemm in
  // each, so that every thread streams its own score buffer.
  auto overHeads = [&](bool full) {
    onThreads(threads, [&](unsigned t) {
      int64_t per = (s.qHeads + threads - 1) / threads;
      unfusedHeads(s, data, t * per, std::min<int64_t>(s.qHeads, (t + 1) * per),
                   data.scores[t].data(), full);
    });
  };
  std::vector<double> t = interleavedMedians(
      reps, {[&] { (void)kernel->run(args, threads); },
             [&] { overHeads(false); }, [&] { overHeads(true); }});
  double fused = t[0], sgemm = t[1], unfused = t[2];

  double flops = attentionFlops(r, args);
  double sgemmFlops = 2.0 * s.qHeads * s.seq * s.seq * s.d;
  double fusedRate = flops / fused / 1e9, sgemmRate = sgemmFlops / sgemm / 1e9;
  fmt::print("{:>7} {:>3} {:>5}/{:<3} {:>6} {:>7} | {:>8.1f} {:>8.1f} {:>8.1f} | "
             "{:>10.2f} {:>10.2f}\n",
             threads, s.d, s.qHeads, s.kvHeads, s.seq,
             s.causal ? "causal" : "none", fusedRate, sgemmRate,
             flops / unfused / 1e9, fusedRate / sgemmRate, unfused / fused);
}

/// `count` random values stored as `type` (f32, or 16-bit f16/bf16 bits).
std::vector<char> randomTensor(int64_t count, DType type, std::mt19937 &rng) {
  std::vector<float> values = uniformInputs(count, rng);
  std::vector<char> bytes(count * sizeOf(type));
  for (int64_t i = 0; i < count; ++i) {
    if (type == DType::F32) {
      std::memcpy(bytes.data() + 4 * i, &values[i], 4);
    } else {
      uint16_t bits = toHalfBits(
          values[i], halfKindOf(type));
      std::memcpy(bytes.data() + 2 * i, &bits, 2);
    }
  }
  return bytes;
}

/// A dense BHSD view of `bytes` holding `type` elements.
template <typename Bytes>
TensorView typedView(Bytes &bytes, DType type, int64_t batch,
                     int64_t seq, int64_t heads, int64_t dim) {
  TensorView t = denseView(reinterpret_cast<float *>(bytes.data()),
                           Layout::BHSD, batch, seq, heads, dim);
  t.dtype = type;
  return t;
}

/// Prefill with bf16 and f16 tensors (q, k, v and o) against the f32 kernel
/// on the same shape, interleaved run by run: GFLOP/s and the ratio to f32.
/// bf16 runs twice: widened to f32 products (dot 32) and with bf16 products
/// (dot 16, vdpbf16ps) where the host has AVX512_BF16.
void runHalfPrefill(const PrefillShape &s, unsigned threads, int reps,
                    std::mt19937 &rng) {
  const bool bf16Dot = __builtin_cpu_supports("avx512bf16");
  struct Contender {
    DType type;
    int64_t dot;
  };
  std::vector<Contender> contenders = {
      {DType::F32, 0}, {DType::BF16, 32}, {DType::F16, 0}};
  if (bf16Dot)
    contenders.push_back({DType::BF16, 16});
  std::vector<std::unique_ptr<CpuKernel>> kernels;
  std::vector<std::vector<char>> buffers;
  std::vector<AttentionArgs> args;
  buffers.reserve(4 * contenders.size());
  for (const Contender &c : contenders) {
    KernelRequest spec = prefillSpec(s, c.type);
    spec.schedule.dot = c.dot;
    kernels.push_back(compileOrExit(spec));
    auto tensor = [&](int64_t heads) -> std::vector<char> & {
      buffers.push_back(randomTensor(heads * s.seq * s.d, c.type, rng));
      return buffers.back();
    };
    std::vector<char> &q = tensor(s.qHeads), &k = tensor(s.kvHeads),
                      &v = tensor(s.kvHeads), &o = tensor(s.qHeads);
    args.push_back({typedView(q, c.type, 1, s.seq, s.qHeads, s.d),
                    typedView(k, c.type, 1, s.seq, s.kvHeads, s.d),
                    typedView(v, c.type, 1, s.seq, s.kvHeads, s.d),
                    typedView(o, c.type, 1, s.seq, s.qHeads, s.d),
                    {}});
  }
  std::vector<std::function<void()>> runs;
  for (size_t i = 0; i < kernels.size(); ++i) {
    // A call the boundary refuses would time a no-op: run each once first.
    if (Status st = kernels[i]->run(args[i], threads); !st.ok()) {
      fmt::print(stderr, "half-precision prefill run failed: {}\n", st.message());
      std::exit(1);
    }
    runs.push_back([&, i] { (void)kernels[i]->run(args[i], threads); });
  }
  std::vector<double> t = interleavedMedians(reps, runs);
  double flops = attentionFlops(kernels[0]->spec(), args[0]);
  auto rate = [&](size_t i) {
    return i < t.size() ? fmt::format("{:.1f}", flops / t[i] / 1e9)
                        : std::string("-");
  };
  auto ratio = [&](size_t i) {
    return i < t.size() ? fmt::format("{:.2f}", t[0] / t[i]) : std::string("-");
  };
  fmt::print("{:>7} {:>3} {:>5}/{:<3} {:>6} {:>7} | {:>8} {:>8} {:>8} {:>8} | "
             "{:>8} {:>8} {:>8}\n",
             threads, s.d, s.qHeads, s.kvHeads, s.seq,
             s.causal ? "causal" : "none", rate(0), rate(1), rate(3), rate(2),
             ratio(1), ratio(3), ratio(2));
}

/// Reads [begin, end) of `bytes` with 64-byte vector loads into four
/// accumulators and returns a value that depends on every byte (so the reads
/// cannot be dropped): a read-only stream, the decode baseline.
#if defined(__x86_64__)
__attribute__((target("avx512f")))
#endif
float streamRead512(const char *bytes, size_t begin, size_t end) {
  typedef float V __attribute__((vector_size(64), aligned(4)));
  V a{}, b{}, c{}, d{};
  size_t i = begin;
  for (; i + 256 <= end; i += 256) {
    a += *reinterpret_cast<const V *>(bytes + i);
    b += *reinterpret_cast<const V *>(bytes + i + 64);
    c += *reinterpret_cast<const V *>(bytes + i + 128);
    d += *reinterpret_cast<const V *>(bytes + i + 192);
  }
  V s = (a + b) + (c + d);
  float sum = 0;
  for (int l = 0; l < 16; ++l)
    sum += s[l];
  for (; i < end; ++i)
    sum += bytes[i];
  return sum;
}

/// --prefetch N: schedule prefetch N (1 into L1, 2 into L2) for the dense
/// decode kernels that take the rows form (the paged-decode rows keep the
/// heuristic's); 0 leaves it to the heuristic.
int64_t decodePrefetch = 0;

/// A decode kernel (causal bottom-right, d 128, f32 q) over a K/V cache of
/// `kvType` stored in `layout`.
KernelRequest decodeSpec(const char *name, int64_t qHeads, int64_t kvHeads,
                         Layout layout, DType kvType = DType::F32) {
  KernelRequest spec;
  spec.name = name;
  spec.qHeads = qHeads;
  spec.kvHeads = kvHeads;
  spec.dQk = 128;
  spec.layout = layout;
  spec.mask = MaskKind::Causal;
  spec.alignment = Alignment::BottomRight;
  spec.mode = Mode::Decode;
  if (kvType != DType::F32)
    spec.kvElementType = toString(kvType);
  return spec;
}

struct DecodeShape {
  int64_t batch, qHeads, kvHeads, seqKv;
  DType kvType;
  // bf16 q and o over a bf16 cache with this schedule dot (16: bf16
  // products, "bf16x2"; 32: f32 products, "bf16q"); 0: f32 q and o.
  int64_t bf16Dot = 0;
};

/// Decode, f32 queries over a K/V cache of `kvType` (or bf16 queries over a
/// bf16 cache, products as `bf16Dot` says): attnc's GB/s (K and V
/// bytes at their element size over the kernel's time) against the
/// read-only stream over the same K and V buffers, on the same pool
/// threads, interleaved run by run.
void runDecode(const DecodeShape &s, unsigned threads, int reps,
               std::mt19937 &rng) {
  const int64_t d = 128;
  KernelRequest spec = decodeSpec("decode", s.qHeads, s.kvHeads, Layout::BHSD, s.kvType);
  const DType qType = s.bf16Dot ? DType::BF16 : DType::F32;
  if (s.bf16Dot) {
    spec.elementType = "bf16";
    spec.kvElementType.clear();
    spec.schedule.dot = s.bf16Dot;
  }
  // --prefetch: the level for the kernels that take the rows form (GQA
  // groups of at most 8 rows); the heuristic's otherwise.
  if (decodePrefetch && s.qHeads / s.kvHeads <= 8)
    spec.schedule.prefetch = decodePrefetch;
  auto kernel = compileOrExit(spec);
  const int64_t kvElements = s.batch * s.kvHeads * s.seqKv * d;
  std::vector<char> q = randomTensor(s.batch * s.qHeads * d, qType, rng);
  std::vector<char> o(q.size());
  std::vector<char> k = randomTensor(kvElements, s.kvType, rng),
                    v = randomTensor(kvElements, s.kvType, rng);
  AttentionArgs args{typedView(q, qType, s.batch, 1, s.qHeads, d),
                     typedView(k, s.kvType, s.batch, s.seqKv, s.kvHeads, d),
                     typedView(v, s.kvType, s.batch, s.seqKv, s.kvHeads, d),
                     typedView(o, qType, s.batch, 1, s.qHeads, d), {}};
  if (Status st = kernel->run(args, threads); !st.ok()) {
    fmt::print(stderr, "decode run failed: {}\n", st.message());
    std::exit(1);
  }
  const size_t bytes = k.size() + v.size();
  const bool avx512 = __builtin_cpu_supports("avx512f");
  std::vector<float> sums(threads); // one slot a thread: no shared writes
  auto stream = [&] {
    ThreadPool::shared().parallelFor(threads, threads, [&](int64_t t) {
      float sum = 0;
      for (const std::vector<char> *x : {&k, &v}) {
        size_t per = (x->size() / threads + 255) / 256 * 256;
        size_t begin = std::min(x->size(), t * per);
        size_t end = std::min(x->size(), begin + per);
        if (avx512) {
          sum += streamRead512(x->data(), begin, end);
        } else {
          for (size_t i = begin; i < end; i += 64) // one load a cache line
            sum += x->data()[i];
        }
      }
      sums[t] = sum;
    });
    volatile float sink = 0;
    for (float x : sums)
      sink = sink + x;
  };
  std::vector<double> t = interleavedMedians(
      reps, {[&] { (void)kernel->run(args, threads); }, stream});
  double fusedGBs = bytes / t[0] / 1e9, streamGBs = bytes / t[1] / 1e9;
  fmt::print("{:>7} {:>5} {:>5}/{:<2} {:>6} {:>7} {:>9.1f} | {:>8.1f} {:>8.1f} | "
             "{:>8.2f}\n",
             threads, s.batch, s.qHeads, s.kvHeads,
             s.bf16Dot == 16 ? "bf16x2" : s.bf16Dot ? "bf16q" : toString(s.kvType), s.seqKv,
             bytes / 1e6, fusedGBs, streamGBs, fusedGBs / streamGBs);
}

/// --huge-pages: the paged-decode caches are 2 MiB-aligned with
/// MADV_HUGEPAGE (this VM's THP mode is madvise), so that rows 4 KiB apart
/// do not each cost a TLB entry.
bool hugePages = false;
template <typename T> struct CacheAllocator {
  using value_type = T;
  CacheAllocator() = default;
  template <typename U> CacheAllocator(const CacheAllocator<U> &) {}
  T *allocate(size_t n) {
    size_t bytes = n * sizeof(T);
    if (!hugePages) {
      void *p = std::malloc(bytes ? bytes : 1);
      if (!p)
        throw std::bad_alloc();
      return static_cast<T *>(p);
    }
    const size_t huge = size_t(2) << 20;
    bytes = (bytes + huge - 1) / huge * huge;
    void *p = std::aligned_alloc(huge, bytes ? bytes : huge);
    if (!p)
      throw std::bad_alloc();
    madvise(p, bytes, MADV_HUGEPAGE);
    return static_cast<T *>(p);
  }
  void deallocate(T *p, size_t) { std::free(p); }
  bool operator==(const CacheAllocator &) const { return true; }
  bool operator!=(const CacheAllocator &) const { return false; }
};
using CacheBytes = std::vector<char, CacheAllocator<char>>;

/// Paged decode against dense decode over the same tokens: batch
/// sequences of seqKv keys each, held in shuffled pages of `pageSize` for
/// the paged kernel and in one dense BHSD cache for the dense one
/// (interleaved run by run). Prints both times and paged / dense.
void runPagedDecode(int64_t batch, int64_t seqKv, int64_t pageSize,
                    DType kvType, unsigned threads, int reps, std::mt19937 &rng) {
  const int64_t qHeads = 32, kvHeads = 8, d = 128;
  KernelRequest spec = decodeSpec("decode", qHeads, kvHeads, Layout::BHSD, kvType);
  auto dense = compileOrExit(spec);
  spec.name = "decode_bshd";
  spec.layout = Layout::BSHD;
  auto denseTokens = compileOrExit(spec);
  spec.name = "paged_decode";
  spec.layout = Layout::Paged;
  auto paged = compileOrExit(spec);
  const int64_t kvElements = batch * kvHeads * seqKv * d;
  std::vector<float> q = uniformInputs(batch * qHeads * d, rng);
  std::vector<float> o(q.size());
  std::vector<char> kr = randomTensor(kvElements, kvType, rng),
                    vr = randomTensor(kvElements, kvType, rng);
  CacheBytes k(kr.begin(), kr.end()), v(vr.begin(), vr.end());
  AttentionArgs denseArgs{
      denseView(q.data(), Layout::BHSD, batch, 1, qHeads, d),
      typedView(k, kvType, batch, seqKv, kvHeads, d),
      typedView(v, kvType, batch, seqKv, kvHeads, d),
      denseView(o.data(), Layout::BHSD, batch, 1, qHeads, d), {}};
  // Pools [pages, page_size, kv_heads, d], pages in a random order.
  const int64_t perSequence = (seqKv + pageSize - 1) / pageSize,
                pages = batch * perSequence;
  std::vector<int32_t> table(pages), lens(batch, static_cast<int32_t>(seqKv));
  std::iota(table.begin(), table.end(), 0);
  std::shuffle(table.begin(), table.end(), rng);
  const int64_t element = sizeOf(kvType);
  CacheBytes kp(pages * pageSize * kvHeads * d * element), vp(kp.size());
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t j = 0; j < seqKv; ++j)
      for (int64_t h = 0; h < kvHeads; ++h) {
        int64_t page = table[b * perSequence + j / pageSize];
        int64_t to = ((page * pageSize + j % pageSize) * kvHeads + h) * d;
        int64_t from = ((b * kvHeads + h) * seqKv + j) * d;
        std::memcpy(kp.data() + to * element, k.data() + from * element, d * element);
        std::memcpy(vp.data() + to * element, v.data() + from * element, d * element);
      }
  // The same cache token-major ([batch, seq, kv_heads, d], BSHD), as
  // FlashAttention's dense kvcache and as each page holds it.
  CacheBytes kt(k.size()), vt(v.size());
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t j = 0; j < seqKv; ++j)
      for (int64_t h = 0; h < kvHeads; ++h) {
        int64_t to = ((b * seqKv + j) * kvHeads + h) * d;
        int64_t from = ((b * kvHeads + h) * seqKv + j) * d;
        std::memcpy(kt.data() + to * element, k.data() + from * element, d * element);
        std::memcpy(vt.data() + to * element, v.data() + from * element, d * element);
      }
  AttentionArgs tokenArgs = denseArgs;
  tokenArgs.k = pagedView(kt.data(), kvType, batch, seqKv, kvHeads, d);
  tokenArgs.v = pagedView(vt.data(), kvType, batch, seqKv, kvHeads, d);
  AttentionArgs pagedArgs = denseArgs;
  pagedArgs.k = pagedView(kp.data(), kvType, pages, pageSize, kvHeads, d);
  pagedArgs.v = pagedView(vp.data(), kvType, pages, pageSize, kvHeads, d);
  pagedArgs.sequences.blockTable = int32Array(table.data(), {batch, perSequence});
  pagedArgs.sequences.cacheSeqlens = int32Array(lens.data(), {batch});
  for (auto [kernel, args] : {std::pair{dense.get(), &denseArgs},
                              {denseTokens.get(), &tokenArgs},
                              {paged.get(), &pagedArgs}})
    if (Status st = kernel->run(*args, threads); !st.ok()) {
      fmt::print(stderr, "paged decode run failed: {}\n", st.message());
      std::exit(1);
    }
  std::vector<double> t = interleavedMedians(
      reps, {[&] { (void)dense->run(denseArgs, threads); },
             [&] { (void)denseTokens->run(tokenArgs, threads); },
             [&] { (void)paged->run(pagedArgs, threads); }});
  fmt::print("{:>7} {:>5} {:>7} {:>4} {:>9} | {:>9.3f} {:>9.3f} {:>9.3f} | "
             "{:>8.2f} {:>8.2f}\n",
             threads, batch, seqKv, toString(kvType), pageSize, t[0] * 1e3,
             t[1] * 1e3, t[2] * 1e3, t[2] / t[0], t[2] / t[1]);
}

/// Paged decode of one long sequence among short ones (MQA 32/1, d 128,
/// f32, pages of 16: one work item a sequence without split-KV): the
/// call's time on 1 thread, on 2, and on 2 with split-KV off, interleaved.
/// A speedup near 2 says the long sequence's keys are split over both
/// threads, not left to one.
void runSkewedDecode(const std::vector<int64_t> &lengths, int reps,
                     std::mt19937 &rng) {
  const int64_t qHeads = 32, kvHeads = 1, d = 128, pageSize = 16;
  KernelRequest spec =
      decodeSpec("skewed_decode", qHeads, kvHeads, Layout::Paged);
  auto kernel = compileOrExit(spec);
  const int64_t batch = static_cast<int64_t>(lengths.size());
  int64_t pages = 0, maxPages = 1;
  for (int64_t n : lengths) {
    pages += (n + pageSize - 1) / pageSize;
    maxPages = std::max(maxPages, (n + pageSize - 1) / pageSize);
  }
  std::vector<float> q = uniformInputs(batch * qHeads * d, rng), o(q.size()),
                     k = uniformInputs(pages * pageSize * kvHeads * d, rng),
                     v = uniformInputs(k.size(), rng);
  std::vector<int32_t> order(pages), table(batch * maxPages, 0), lens;
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  int64_t next = 0;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t j = 0; j < (lengths[b] + pageSize - 1) / pageSize; ++j)
      table[b * maxPages + j] = order[next++];
    lens.push_back(static_cast<int32_t>(lengths[b]));
  }
  AttentionArgs args{denseView(q.data(), Layout::BHSD, batch, 1, qHeads, d),
                     pagedView(k.data(), DType::F32, pages, pageSize, kvHeads, d),
                     pagedView(v.data(), DType::F32, pages, pageSize, kvHeads, d),
                     denseView(o.data(), Layout::BHSD, batch, 1, qHeads, d), {}};
  args.sequences.blockTable = int32Array(table.data(), {batch, maxPages});
  args.sequences.cacheSeqlens = int32Array(lens.data(), {batch});
  if (Status st = kernel->run(args, 2); !st.ok()) {
    fmt::print(stderr, "skewed decode run failed: {}\n", st.message());
    std::exit(1);
  }
  std::vector<double> times = interleavedMedians(
      reps, {[&] { (void)kernel->run(args, 1); },
             [&] { (void)kernel->run(args, 2); },
             [&] { (void)kernel->run(args, 2, /*kvSplits=*/1); }});
  fmt::print("{:>26} | {:>9.3f} {:>9.3f} {:>9.3f} | {:>8.2f} {:>8.2f}\n",
             fmt::format("{}", fmt::join(lengths, ",")), times[0] * 1e3,
             times[1] * 1e3, times[2] * 1e3, times[0] / times[1],
             times[0] / times[2]);
}

/// Varlen prefill of a mixed batch against one dense call per sequence
/// (causal bottom-right, GQA 32/8, d 128): the varlen call's time, the sum
/// of the dense calls' times, and varlen / sum.
void runVarlenPrefill(const std::vector<int64_t> &lengths, unsigned threads,
                      int reps, std::mt19937 &rng) {
  const int64_t qHeads = 32, kvHeads = 8, d = 128;
  KernelRequest spec = prefillSpec({qHeads, kvHeads, d, 0, true});
  spec.layout = Layout::BSHD;
  spec.alignment = Alignment::BottomRight;
  auto dense = compileOrExit(spec);
  spec.name = "varlen_prefill";
  spec.layout = Layout::Varlen;
  auto varlen = compileOrExit(spec);
  std::vector<int32_t> cu = {0};
  for (int64_t n : lengths)
    cu.push_back(static_cast<int32_t>(cu.back() + n));
  const int64_t total = cu.back();
  std::vector<float> q = uniformInputs(total * qHeads * d, rng),
                     k = uniformInputs(total * kvHeads * d, rng),
                     v = uniformInputs(total * kvHeads * d, rng), o(q.size());
  AttentionArgs packed{denseView(q.data(), Layout::BSHD, 1, total, qHeads, d),
                       denseView(k.data(), Layout::BSHD, 1, total, kvHeads, d),
                       denseView(v.data(), Layout::BSHD, 1, total, kvHeads, d),
                       denseView(o.data(), Layout::BSHD, 1, total, qHeads, d),
                       {}};
  packed.sequences.cuSeqlensQ = packed.sequences.cuSeqlensK =
      int32Array(cu.data(), {static_cast<int64_t>(cu.size())});
  std::vector<AttentionArgs> each;
  for (size_t i = 0; i < lengths.size(); ++i) {
    int64_t n = lengths[i], first = cu[i];
    each.push_back({denseView(q.data() + first * qHeads * d, Layout::BSHD, 1, n, qHeads, d),
                    denseView(k.data() + first * kvHeads * d, Layout::BSHD, 1, n, kvHeads, d),
                    denseView(v.data() + first * kvHeads * d, Layout::BSHD, 1, n, kvHeads, d),
                    denseView(o.data() + first * qHeads * d, Layout::BSHD, 1, n, qHeads, d),
                    {}});
  }
  if (Status st = varlen->run(packed, threads); !st.ok()) {
    fmt::print(stderr, "varlen prefill run failed: {}\n", st.message());
    std::exit(1);
  }
  std::vector<double> t = interleavedMedians(
      reps, {[&] { (void)varlen->run(packed, threads); },
             [&] {
               for (const AttentionArgs &a : each)
                 (void)dense->run(a, threads);
             }});
  fmt::print("{:>7} {:>24} | {:>9.2f} {:>9.2f} | {:>8.2f}\n", threads,
             fmt::format("{}", fmt::join(lengths, ",")), t[0] * 1e3, t[1] * 1e3,
             t[0] / t[1]);
}

} // namespace

int main(int argc, char **argv) {
  if (std::getenv("OPENBLAS_CORETYPE") || std::getenv("OPENBLAS_L2_SIZE")) {
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv("OPENBLAS_L2_SIZE");
    execv("/proc/self/exe", argv);
    std::perror("re-exec without OPENBLAS_CORETYPE failed");
  }
  bool quick = false;
  bool prefillOnly = false, decodeOnly = false, servingOnly = false;
  int64_t onlyD = 0, onlySeq = 0; // 0: every head dim / length
  int reps = 3;
  std::vector<unsigned> threadCounts = {1, 2};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick")
      quick = true;
    else if (a == "--reps" && i + 1 < argc)
      reps = std::max(1, std::atoi(argv[++i]));
    else if (a == "--threads" && i + 1 < argc)
      threadCounts = {static_cast<unsigned>(std::max(1, std::atoi(argv[++i])))};
    else if (a == "--d" && i + 1 < argc)
      onlyD = std::atoi(argv[++i]);
    else if (a == "--seq" && i + 1 < argc)
      onlySeq = std::atoi(argv[++i]);
    else if (a == "--prefill-only")
      prefillOnly = true;
    else if (a == "--decode-only")
      decodeOnly = true;
    else if (a == "--serving-only")
      servingOnly = true;
    else if (a == "--huge-pages")
      hugePages = true;
    else if (a == "--prefetch" && i + 1 < argc &&
             (std::string(argv[i + 1]) == "1" || std::string(argv[i + 1]) == "2"))
      decodePrefetch = std::atoi(argv[++i]);
    else {
      fmt::print(stderr, "usage: attnc-cpu-bench [--quick] [--reps N] "
                         "[--threads T] [--d D] [--seq N] [--prefill-only] "
                         "[--decode-only] [--serving-only] [--huge-pages] "
                         "[--prefetch 1|2]\n");
      return 2;
    }
  }
  openblas_set_num_threads(1);
  std::mt19937 rng(1234);
  fmt::print("attnc CPU benchmark: f32, BHSD, batch 1, median of {} runs "
             "after a warm-up, contenders interleaved run by run; OpenBLAS "
             "core: {}; host threads: {}\n",
             reps, openblas_get_corename(), std::thread::hardware_concurrency());
  fmt::print("GQA 32/8 up to seq 2048; above, heads are scaled down (same 4:1 "
             "ratio) to bound the run time. GFLOP/s count exact unmasked "
             "pairs.\n\n");
  fmt::print("prefill\n{:>7} {:>3} {:>9} {:>6} {:>7} | {:>8} {:>8} {:>8} | "
             "{:>10} {:>10}\n",
             "threads", "d", "heads", "seq", "mask", "fused", "sgemm",
             "unfused", "fused/sgemm", "speedup");
  std::vector<int64_t> seqs = quick ? std::vector<int64_t>{512, 2048}
                                    : std::vector<int64_t>{512, 1024, 2048, 4096, 8192};
  for (unsigned threads : threadCounts)
    for (int64_t d : {64, 128})
      for (bool causal : {false, true})
        for (int64_t seq : seqs) {
          if (decodeOnly || servingOnly || (onlyD && d != onlyD) || (onlySeq && seq != onlySeq))
            continue;
          int64_t qHeads = seq <= 2048 ? 32 : seq <= 4096 ? 8 : 4;
          runPrefill({qHeads, qHeads / 4, d, seq, causal}, threads, reps, rng);
        }
  fmt::print("\nprefill in half precision (q, k, v, o of one type, f32 "
             "accumulation) against the f32 kernel, same shapes, interleaved; "
             "GFLOP/s. bf16: f32 products (dot 32); bf16x2: bf16 products "
             "(dot 16, vdpbf16ps; '-' without AVX512_BF16)\n"
             "{:>7} {:>3} {:>9} {:>6} {:>7} | {:>8} {:>8} {:>8} {:>8} | "
             "{:>8} {:>8} {:>8}\n",
             "threads", "d", "heads", "seq", "mask", "f32", "bf16", "bf16x2",
             "f16", "bf16/f32", "x2/f32", "f16/f32");
  for (unsigned threads : threadCounts)
    for (int64_t seq : quick ? std::vector<int64_t>{2048}
                             : std::vector<int64_t>{2048, 4096})
      if (!decodeOnly && !servingOnly && (!onlySeq || seq == onlySeq) && (!onlyD || onlyD == 128))
        runHalfPrefill({seq <= 2048 ? 32 : 8, seq <= 2048 ? 8 : 2, 128, seq, true},
                       threads, reps, rng);
  if (!prefillOnly && !decodeOnly) {
    fmt::print("\nserving layouts: paged decode (batch sequences in shuffled "
               "pages, block_table) against dense decode over the same tokens; "
               "GQA 32/8, d 128, f32 q; dense caches head-major (BHSD) and "
               "token-major (BSHD, as a page holds them)\n"
               "{:>7} {:>5} {:>7} {:>4} {:>9} | {:>9} {:>9} {:>9} | {:>8} {:>8}\n",
               "threads", "batch", "seq_kv", "kv", "page size", "bhsd ms",
               "bshd ms", "paged ms", "/bhsd", "/bshd");
    for (unsigned threads : threadCounts)
      for (DType kvType : {DType::F32, DType::F16})
        for (int64_t pageSize : {16, 1, 256})
          runPagedDecode(8, 4096, pageSize, kvType, threads, reps, rng);
    fmt::print("\nserving layouts: paged decode of one long sequence among "
               "short ones (one call), 1 thread against 2, and 2 with "
               "split-KV off; MQA 32/1, d 128, f32, pages of 16\n"
               "{:>26} | {:>9} {:>9} {:>9} | {:>8} {:>8}\n",
               "kv lengths", "1 thr ms", "2 thr ms", "no split", "speedup",
               "no split");
    runSkewedDecode({32768, 64, 64, 64, 64, 64, 64, 64}, reps, rng);
    fmt::print("\nserving layouts: varlen prefill of a mixed batch (one call) "
               "against one dense call per sequence; GQA 32/8, d 128, causal "
               "bottom_right\n{:>7} {:>24} | {:>9} {:>9} | {:>8}\n",
               "threads", "lengths", "varlen ms", "dense ms", "ratio");
    for (unsigned threads : threadCounts)
      runVarlenPrefill({31, 517, 2048, 7}, threads, reps, rng);
  }
  if (prefillOnly || servingOnly)
    return 0;
  fmt::print("\ndecode (seq_q 1, f32 q and o over an f32/f16/bf16 K/V cache; "
             "bf16q: bf16 q and o over a bf16 cache, f32 products (dot 32); "
             "bf16x2: the same with bf16 products, dot 16, where the host has "
             "AVX512_BF16; d 128, causal bottom_right)\n"
             "{:>7} {:>5} {:>8} {:>6} {:>7} {:>9} | {:>8} {:>8} | {:>8}\n",
             "threads", "batch", "heads", "kv", "seq_kv", "KV MB", "GB/s",
             "stream", "ratio");
  std::vector<DecodeShape> decodes;
  for (DType kvType : {DType::F32, DType::F16, DType::BF16})
    for (int64_t kvHeads : {8, 1}) {
      for (int64_t seqKv : quick ? std::vector<int64_t>{4096, 32768}
                                 : std::vector<int64_t>{4096, 16384, 32768})
        decodes.push_back({1, 32, kvHeads, seqKv, kvType});
      decodes.push_back({8, 32, kvHeads, 4096, kvType});
    }
  for (int64_t dot : {32, 16}) {
    if (dot == 16 && !__builtin_cpu_supports("avx512bf16"))
      continue;
    for (int64_t kvHeads : {8, 1}) {
      for (int64_t seqKv : quick ? std::vector<int64_t>{4096, 32768}
                                 : std::vector<int64_t>{4096, 16384, 32768})
        decodes.push_back({1, 32, kvHeads, seqKv, DType::BF16, dot});
      decodes.push_back({8, 32, kvHeads, 4096, DType::BF16, dot});
    }
  }
  for (unsigned threads : threadCounts)
    for (const DecodeShape &s : decodes)
      if (!onlySeq || s.seqKv == onlySeq)
        runDecode(s, threads, reps, rng);
  fmt::print("\nfused/sgemm: fused GFLOP/s over OpenBLAS sgemm GFLOP/s on the "
             "Q K^T shape; speedup: unfused time over fused time. decode "
             "ratio: attnc's GB/s over the read-only stream's on the same "
             "bytes.\n");
  return 0;
}
