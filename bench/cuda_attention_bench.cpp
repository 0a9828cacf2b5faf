// GPU attention benchmark: attnc's CUDA kernels on the shapes of
// FlashAttention's own benchmark (bf16, 16k tokens per batch, model dim
// 2048, d 64 and 128, causal and not). It prints TFLOP/s per shape; with
// --csv, one machine-readable line per shape for scripts/gpu-bench.py,
// which times torch's SDPA backends on the same shapes in the same run and
// prints the ratio.
//
//   attnc-cuda-bench [--reps N] [--dims 64,128] [--seqs 512,1024,...] [--csv]
#include "runtime/KernelCache.h"
#include "runtime/Reference.h"
#include "runtime/cuda/CudaKernel.h"
#include "runtime/cuda/DeviceRun.h"
#include "runtime/cuda/Driver.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace attnc;

namespace {

std::vector<int64_t> parseList(const char *flag, const std::string &text) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    char *end = nullptr;
    long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end || v < 1) {
      fmt::print(stderr, "attnc-cuda-bench: {} expects positive integers, got "
                         "'{}'\n", flag, text);
      std::exit(2);
    }
    out.push_back(v);
  }
  return out;
}

} // namespace

int main(int argc, char **argv) {
  int reps = 20;
  bool csv = false;
  std::vector<int64_t> dims = {64, 128};
  std::vector<int64_t> seqs = {512, 1024, 2048, 4096, 8192, 16384};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--csv") {
      csv = true;
    } else if (i + 1 < argc && a == "--reps") {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (i + 1 < argc && a == "--dims") {
      dims = parseList("--dims", argv[++i]);
    } else if (i + 1 < argc && a == "--seqs") {
      seqs = parseList("--seqs", argv[++i]);
    } else {
      fmt::print(stderr, "usage: attnc-cuda-bench [--reps N] [--dims 64,128] "
                         "[--seqs 512,1024,...] [--csv]\n");
      return 2;
    }
  }
  auto driver = cuda::Driver::get();
  if (!driver.ok()) {
    fmt::print(stderr, "attnc-cuda-bench: {}\n", driver.status().message());
    return 2;
  }
  const cuda::Device &device = (*driver)->devices().at(0);
  KernelCache &cache = KernelCache::shared();
  auto backend = cuda::CudaBackend::forDevice(0);
  if (!backend.ok()) {
    fmt::print(stderr, "attnc-cuda-bench: {}\n", backend.status().message());
    return 2;
  }
  if (csv)
    fmt::print("d,seq,causal,batch,heads,ms,tflops\n");
  else
    fmt::print("attnc CUDA kernels on {} ({}), bf16, median of {} runs\n"
               "{:>4} {:>6} {:>7} {:>6} {:>6} {:>10} {:>8}\n",
               device.name, device.arch(), reps, "d", "seq", "causal", "batch",
               "heads", "ms", "TFLOP/s");
  std::mt19937_64 rng(1);
  for (int64_t d : dims)
    for (int64_t seq : seqs)
      for (bool causal : {false, true}) {
        // FlashAttention's benchmark: 16k tokens per batch, model dim 2048.
        const int64_t batch = std::max<int64_t>(1, 16384 / seq);
        const int64_t heads = 2048 / d;
        KernelRequest s;
        s.name = fmt::format("bench_d{}_{}", d, causal ? "causal" : "full");
        s.qHeads = s.kvHeads = heads;
        s.dQk = s.dV = d;
        s.elementType = "bf16";
        s.layout = Layout::BHSD; // torch's (batch, heads, seq, dim)
        if (causal) {
          s.mask = MaskKind::Causal;
          s.alignment = Alignment::TopLeft; // torch's is_causal
        }
        auto ir = KernelIr::build(s);
        if (!ir.ok()) {
          fmt::print(stderr, "attnc-cuda-bench: {}\n", ir.status().message());
          return 1;
        }
        auto kernel = cache.get(*ir, *backend);
        if (!kernel.ok()) {
          fmt::print(stderr, "attnc-cuda-bench: {}\n", kernel.status().message());
          return 1;
        }
        const int64_t n = batch * heads * seq * d;
        std::vector<float> q = uniformInputs(n, rng), k = uniformInputs(n, rng),
                           v = uniformInputs(n, rng), o(n);
        AttentionArgs args{denseView(q.data(), s.layout, batch, seq, heads, d),
                           denseView(k.data(), s.layout, batch, seq, heads, d),
                           denseView(v.data(), s.layout, batch, seq, heads, d),
                           denseView(o.data(), s.layout, batch, seq, heads, d),
                           {}};
        auto millis = cuda::runFromHost(**kernel, args, reps);
        if (!millis.ok()) {
          fmt::print(stderr, "attnc-cuda-bench: {}\n", millis.status().message());
          return 1;
        }
        std::sort(millis->begin(), millis->end());
        double ms = (*millis)[millis->size() / 2];
        double tflops =
            attentionFlops((*kernel)->spec(), args) / (ms * 1e9);
        if (csv)
          fmt::print("{},{},{},{},{},{:.4f},{:.2f}\n", d, seq, causal ? 1 : 0,
                     batch, heads, ms, tflops);
        else
          fmt::print("{:>4} {:>6} {:>7} {:>6} {:>6} {:>10.3f} {:>8.1f}\n", d,
                     seq, causal ? "yes" : "no", batch, heads, ms, tflops);
        std::fflush(stdout);
      }
  return 0;
}
