// Kernel cache benchmark: one run, three numbers side by side for the same
// spec. Cold compile (empty cache), warm disk hit in a new process (this
// binary re-executed with --warm-child), and in-memory dispatch.
#include "runtime/CpuKernel.h"
#include "runtime/KernelCache.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace attnc;
using Clock = std::chrono::steady_clock;

namespace {

/// The benchmark's kernel, built as the C API and the driver build one.
KernelIr benchKernel() {
  KernelRequest s;
  s.name = "llama3_8b_gqa";
  s.qHeads = 32;
  s.kvHeads = 8;
  s.dQk = 128;
  s.mask = MaskKind::Causal;
  s.alignment = Alignment::BottomRight;
  s.lse = true;
  auto ir = KernelIr::build(s);
  if (!ir.ok()) {
    fmt::print(stderr, "{}\n", ir.status().message());
    std::exit(1);
  }
  return *ir;
}

double millisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// Child: time one get() from a fresh process's cache; must be a disk hit.
int warmChild(const std::string &dir) {
  auto start = Clock::now();
  KernelCache cache({dir, true});
  CacheSource from;
  auto kernel = cache.get(benchKernel(), CpuBackend(), &from);
  double ms = millisSince(start);
  if (!kernel.ok() || from != CacheSource::Disk)
    return 1;
  std::printf("%.6f\n", ms);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc == 3 && !std::strcmp(argv[1], "--warm-child"))
    return warmChild(argv[2]);
  int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  std::string dir =
      (std::filesystem::temp_directory_path() /
       fmt::format("attnc-cache-bench-{}", getpid()))
          .string();
  std::filesystem::remove_all(dir);

  std::vector<double> cold;
  for (int r = 0; r < reps; ++r) {
    std::filesystem::remove_all(dir);
    KernelCache cache({dir, true});
    auto start = Clock::now();
    CacheSource from;
    auto kernel = cache.get(benchKernel(), CpuBackend(), &from);
    cold.push_back(millisSince(start));
    if (!kernel.ok() || from != CacheSource::Compiled) {
      fmt::print(stderr, "cold compile failed\n");
      return 1;
    }
  }

  std::vector<double> warm;
  for (int r = 0; r < reps; ++r) {
    std::string cmd = fmt::format("'/proc/{}/exe' --warm-child '{}'", getpid(), dir);
    FILE *child = popen(cmd.c_str(), "r");
    double ms = -1;
    if (!child || std::fscanf(child, "%lf", &ms) != 1 || pclose(child) != 0) {
      fmt::print(stderr, "warm child failed\n");
      return 1;
    }
    warm.push_back(ms);
  }

  KernelCache cache({dir, true});
  const KernelIr ir = benchKernel();
  (void)cache.get(ir, CpuBackend()); // first use loads it
  const CpuBackend backend;
  std::vector<double> dispatch;
  for (int r = 0; r < reps; ++r) {
    const int calls = 100000;
    auto start = Clock::now();
    for (int i = 0; i < calls; ++i)
      if (!cache.get(ir, backend).ok())
        return 1;
    dispatch.push_back(millisSince(start) * 1000.0 / calls); // microseconds
  }
  std::filesystem::remove_all(dir);

  fmt::print("kernel cache, Llama-3-8B-style GQA causal spec, median of {} "
             "runs\n",
             reps);
  fmt::print("  cold compile (empty cache)        {:9.3f} ms\n", median(cold));
  fmt::print("  warm disk hit (new process)       {:9.3f} ms   ({:.0f}x faster "
             "than cold)\n",
             median(warm), median(cold) / median(warm));
  fmt::print("  in-memory dispatch                {:9.3f} us   ({:.0f}x faster "
             "than a disk hit)\n",
             median(dispatch), median(warm) * 1000 / median(dispatch));
  return 0;
}
