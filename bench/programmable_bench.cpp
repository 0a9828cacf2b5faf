// attnc-programmable-bench: what programmable attention costs on the CPU,
// measured side by side in one run (contenders interleaved run by run,
// median of --reps after a warm-up):
//   - a block mask of density D (no mask of its own) against the dense
//     kernel: the target is sparse time <= 1.3 x D x dense time;
//   - a causal mask written as a custom region, run with the block mask the
//     helper builds from it, against the built-in causal: target <= 1.15x.
// f32, BHSD, batch 1, GQA 8/2, d 128 (--seq, --threads, --reps, --density).
#include "runtime/BlockMask.h"
#include "runtime/CpuKernel.h"
#include "runtime/Reference.h"

#include <fmt/format.h>

#include <tuple>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <numeric>
#include <random>
#include <string>

using namespace attnc;

namespace {

std::vector<double> interleavedMedians(int reps,
                                       const std::vector<std::function<void()>> &fns) {
  std::vector<std::vector<double>> times(fns.size());
  for (const auto &fn : fns)
    fn();
  for (int r = 0; r < reps; ++r)
    for (size_t i = 0; i < fns.size(); ++i) {
      auto start = std::chrono::steady_clock::now();
      fns[i]();
      times[i].push_back(std::chrono::duration<double, std::milli>(
                             std::chrono::steady_clock::now() - start)
                             .count());
    }
  std::vector<double> medians;
  for (auto &t : times) {
    std::sort(t.begin(), t.end());
    medians.push_back(t[t.size() / 2]);
  }
  return medians;
}

std::unique_ptr<CpuKernel> compileOrExit(const std::string &text) {
  auto ir = KernelIr::parse(text, "<bench>");
  auto kernel = ir.ok() ? CpuKernel::compile(*ir)
                        : StatusOr<std::unique_ptr<CpuKernel>>(ir.status());
  if (!kernel.ok()) {
    fmt::print(stderr, "{}\n", kernel.status().message());
    std::exit(1);
  }
  return std::move(*kernel);
}

std::string spec(const std::string &name, const std::string &extra,
                 const std::string &regions = "") {
  return fmt::format("attn.kernel @{} attributes {{q_heads = 8, kv_heads = 2, "
                     "d_qk = 128, element_type = f32, layout = "
                     "#attn.layout<bhsd>{}}}{}",
                     name, extra, regions);
}

} // namespace

int main(int argc, char **argv) {
  int64_t seq = 4096;
  int reps = 5;
  double density = 0.25;
  std::vector<unsigned> threadCounts = {1, 2};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seq" && i + 1 < argc)
      seq = std::max(1, std::atoi(argv[++i]));
    else if (a == "--reps" && i + 1 < argc)
      reps = std::max(1, std::atoi(argv[++i]));
    else if (a == "--density" && i + 1 < argc)
      density = std::clamp(std::atof(argv[++i]), 0.01, 1.0);
    else if (a == "--threads" && i + 1 < argc)
      threadCounts = {static_cast<unsigned>(std::max(1, std::atoi(argv[++i])))};
    else {
      fmt::print(stderr, "usage: attnc-programmable-bench [--seq N] [--reps R] "
                         "[--density D] [--threads T]\n");
      return 2;
    }
  }
  std::mt19937_64 rng(7);
  const int64_t qHeads = 8, kvHeads = 2, d = 128;
  std::vector<float> q = uniformInputs(qHeads * seq * d, rng),
                     k = uniformInputs(kvHeads * seq * d, rng),
                     v = uniformInputs(kvHeads * seq * d, rng), o(q.size());
  AttentionArgs args{denseView(q.data(), Layout::BHSD, 1, seq, qHeads, d),
                     denseView(k.data(), Layout::BHSD, 1, seq, kvHeads, d),
                     denseView(v.data(), Layout::BHSD, 1, seq, kvHeads, d),
                     denseView(o.data(), Layout::BHSD, 1, seq, qHeads, d),
                     {}};
  const char *blocks = ", block_sparse = #attn.block_sparse<block_q = 128, "
                       "block_kv = 128>";
  auto dense = compileOrExit(spec("dense", ""));
  auto sparse = compileOrExit(spec("sparse", blocks));
  auto causal = compileOrExit(spec("causal", ", mask = #attn.mask<causal, top_left>"));
  auto custom = compileOrExit(spec(
      "custom_causal", std::string(blocks) + ", mask = #attn.mask<custom>",
      " mask {\n^bb0(%b: index, %h: index, %q: index, %k: index):\n  %c = "
      "arith.cmpi ule, %k, %q : index\n  attn.yield %c : i1\n}"));

  // A random block mask of the given density: every query block lists the
  // same number of kv blocks, chosen at random (full blocks: no mask).
  BlockMask random;
  random.blockQ = random.blockKv = 128;
  random.qBlocks = random.kvBlocks = (seq + 127) / 128;
  int64_t perRow = std::max<int64_t>(1, std::llround(density * random.kvBlocks));
  random.numBlocks.assign(random.qBlocks, 0);
  random.fullNumBlocks.assign(random.qBlocks, static_cast<int32_t>(perRow));
  random.indices.assign(random.qBlocks * random.kvBlocks, 0);
  random.fullIndices.assign(random.qBlocks * random.kvBlocks, 0);
  std::vector<int32_t> order(random.kvBlocks);
  for (int64_t qb = 0; qb < random.qBlocks; ++qb) {
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    std::sort(order.begin(), order.begin() + perRow);
    std::copy(order.begin(), order.begin() + perRow,
              random.fullIndices.begin() + qb * random.kvBlocks);
  }
  AttentionArgs sparseArgs = args;
  sparseArgs.blockMask = random.args();
  auto start = std::chrono::steady_clock::now();
  auto helper = buildBlockMask(custom->spec(), args);
  double buildMs = std::chrono::duration<double, std::milli>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  if (!helper.ok()) {
    fmt::print(stderr, "{}\n", helper.status().message());
    return 1;
  }
  AttentionArgs customArgs = args;
  customArgs.blockMask = helper->args();

  fmt::print("attnc programmable-attention benchmark: f32, BHSD, batch 1, GQA "
             "8/2, d 128, seq {}, 128 x 128 blocks, median of {} runs, "
             "interleaved\n",
             seq, reps);
  fmt::print("block mask of the custom causal region: {:.1f}% of blocks, "
             "built in {:.1f} ms\n\n",
             100 * helper->density(), buildMs);
  fmt::print("{:>7} | {:>9} {:>9} {:>8} {:>14} | {:>9} {:>9} {:>10}\n",
             "threads", "dense ms", "sparse ms", "density", "sparse/(D x dense)",
             "causal ms", "custom ms", "custom/builtin");
  // Each call once, checked: the timed calls below would time an error.
  for (auto [what, kernel, callArgs] :
       {std::tuple{"dense", dense.get(), &args},
        std::tuple{"sparse", sparse.get(), &sparseArgs},
        std::tuple{"causal", causal.get(), &args},
        std::tuple{"custom", custom.get(), &customArgs}})
    if (Status st = kernel->run(*callArgs, threadCounts.front()); !st.ok()) {
      fmt::print(stderr, "{} kernel: {}\n", what, st.message());
      return 1;
    }
  for (unsigned threads : threadCounts) {
    std::vector<double> t = interleavedMedians(
        reps, {[&] { (void)dense->run(args, threads); },
               [&] { (void)sparse->run(sparseArgs, threads); },
               [&] { (void)causal->run(args, threads); },
               [&] { (void)custom->run(customArgs, threads); }});
    double actual = random.density();
    fmt::print("{:>7} | {:>9.2f} {:>9.2f} {:>7.1f}% {:>14.2f} | {:>9.2f} "
               "{:>9.2f} {:>10.2f}\n",
               threads, t[0], t[1], 100 * actual, t[1] / (actual * t[0]), t[2],
               t[3], t[3] / t[2]);
  }
  fmt::print("\ntargets: sparse/(D x dense) <= 1.30, custom/builtin <= 1.15\n");
  return 0;
}
