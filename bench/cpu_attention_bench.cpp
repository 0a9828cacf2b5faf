// CPU attention benchmark: attnc's fused kernel against OpenBLAS, all timed
// in one run on the same shapes (speed is only ever claimed as such a ratio).
//
//   prefill: fused attnc vs (a) OpenBLAS sgemm alone on the Q K^T shape and
//            (b) an unfused baseline: sgemm Q K^T, mask + softmax, sgemm P V
//   decode:  fused attnc (seq_q = 1) as GB/s of K/V read vs memcpy bandwidth
//
// OpenBLAS reads OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE when it loads; these
// machines set them to work around old bugs and they slow sgemm down, so the
// benchmark re-executes itself without them (design.md, "Measuring").
#include "runtime/CpuKernel.h"
#include "runtime/Reference.h"
#include "runtime/Spec.h"
#include "runtime/ThreadPool.h"

#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
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

void runPrefill(const PrefillShape &s, unsigned threads, int reps,
                std::mt19937 &rng) {
  KernelRequest spec;
  spec.name = "bench";
  spec.qHeads = s.qHeads;
  spec.kvHeads = s.kvHeads;
  spec.dQk = s.d;
  spec.layout = Layout::BHSD;
  if (s.causal) {
    spec.mask = MaskKind::Causal;
    spec.alignment = Alignment::TopLeft;
  }
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

void runDecode(int64_t seqKv, unsigned threads, int reps, std::mt19937 &rng) {
  const int64_t qHeads = 32, kvHeads = 8, d = 128;
  KernelRequest spec;
  spec.name = "decode";
  spec.qHeads = qHeads;
  spec.kvHeads = kvHeads;
  spec.dQk = d;
  spec.layout = Layout::BHSD;
  spec.mask = MaskKind::Causal;
  spec.alignment = Alignment::BottomRight;
  spec.mode = Mode::Decode;
  auto kernel = compileOrExit(spec);
  std::vector<float> q = uniformInputs(qHeads * d, rng);
  std::vector<float> k = uniformInputs(kvHeads * seqKv * d, rng);
  std::vector<float> v = uniformInputs(kvHeads * seqKv * d, rng);
  std::vector<float> o(q.size());
  AttentionArgs args{denseView(q.data(), Layout::BHSD, 1, 1, qHeads, d),
                     denseView(k.data(), Layout::BHSD, 1, seqKv, kvHeads, d),
                     denseView(v.data(), Layout::BHSD, 1, seqKv, kvHeads, d),
                     denseView(o.data(), Layout::BHSD, 1, 1, qHeads, d),
                     {}};
  // Copy bandwidth: the same number of bytes, memcpy split over the threads.
  size_t bytes = (k.size() + v.size()) * sizeof(float);
  std::vector<char> src(bytes, 1), dst(bytes, 0);
  std::vector<double> t = interleavedMedians(
      reps, {[&] { (void)kernel->run(args, threads); },
             [&] {
               onThreads(threads, [&](unsigned t) {
                 size_t per = (bytes + threads - 1) / threads;
                 size_t begin = std::min(bytes, t * per),
                        end = std::min(bytes, begin + per);
                 std::memcpy(dst.data() + begin, src.data() + begin,
                             end - begin);
               });
             }});
  double fused = t[0], copy = t[1];
  double fusedGBs = bytes / fused / 1e9, copyGBs = bytes / copy / 1e9;
  fmt::print("{:>7} {:>7} {:>9.1f} | {:>8.1f} {:>8.1f} | {:>8.2f}\n", threads,
             seqKv, bytes / 1e6, fusedGBs, copyGBs, fusedGBs / copyGBs);
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
  bool prefillOnly = false, decodeOnly = false;
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
    else {
      fmt::print(stderr, "usage: attnc-cpu-bench [--quick] [--reps N] "
                         "[--threads T] [--d D] [--seq N] [--prefill-only] "
                         "[--decode-only]\n");
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
          if (decodeOnly || (onlyD && d != onlyD) || (onlySeq && seq != onlySeq))
            continue;
          int64_t qHeads = seq <= 2048 ? 32 : seq <= 4096 ? 8 : 4;
          runPrefill({qHeads, qHeads / 4, d, seq, causal}, threads, reps, rng);
        }
  if (prefillOnly)
    return 0;
  fmt::print("\ndecode (seq_q 1, GQA 32/8, d 128, causal bottom_right)\n"
             "{:>7} {:>7} {:>9} | {:>8} {:>8} | {:>8}\n",
             "threads", "seq_kv", "KV MB", "GB/s", "memcpy", "ratio");
  std::vector<int64_t> kvs = quick ? std::vector<int64_t>{4096, 32768}
                                   : std::vector<int64_t>{1024, 4096, 16384, 32768};
  for (unsigned threads : threadCounts)
    for (int64_t seqKv : kvs)
      if (!onlySeq || seqKv == onlySeq)
        runDecode(seqKv, threads, reps, rng);
  fmt::print("\nfused/sgemm: fused GFLOP/s over OpenBLAS sgemm GFLOP/s on the "
             "Q K^T shape; speedup: unfused time over fused time.\n");
  return 0;
}
