// attnc-linear-bench: causal linear attention (runtime/Linear.h) against
// causal softmax attention (the compiled CPU kernel) on the same inputs in
// the same run, across sequence lengths: linear attention's time should
// grow linearly (the 16384 / 4096 ratio near 4) and beat softmax from
// some length up, printed as the crossover. Median of --reps (default 3)
// runs each, after a warm-up. Usage: attnc-linear-bench [--reps R]
// [--threads T]
#include "runtime/CpuKernel.h"
#include "runtime/KernelIr.h"
#include "runtime/Linear.h"
#include "runtime/Reference.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

using namespace attnc;

namespace {

double medianMillis(int reps, const std::function<void()> &f) {
  f(); // warm-up
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    auto start = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(
                    std::chrono::steady_clock::now() - start)
                    .count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

} // namespace

int main(int argc, char **argv) {
  int reps = 3;
  unsigned threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--reps"))
      reps = std::max(1, std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--threads"))
      threads = static_cast<unsigned>(std::max(0, std::atoi(argv[i + 1])));
  }
  const int64_t heads = 8, d = 64;
  const std::string attrs = fmt::format("q_heads = {}, d_qk = {}, element_type = f32, mask = "
                                        "#attn.mask<causal, bottom_right>",
                                        heads, d);
  auto linearIr = KernelIr::parse(
      fmt::format("attn.kernel @linear attributes {{{}, variant = #attn.variant<linear>}}", attrs));
  auto softmaxIr = KernelIr::parse(fmt::format("attn.kernel @softmax attributes {{{}}}", attrs));
  if (!linearIr.ok() || !softmaxIr.ok()) {
    fmt::print(stderr, "bad spec\n");
    return 1;
  }
  auto linear = LinearKernel::create(*linearIr);
  auto softmax = CpuKernel::compile(*softmaxIr);
  if (!linear.ok() || !softmax.ok()) {
    fmt::print(stderr, "{}\n", !linear.ok() ? linear.status().message()
                                            : softmax.status().message());
    return 1;
  }
  fmt::print("causal attention, batch 1, {} heads, d {}, f32, {} threads ({}), median of {}\n"
             "linear: elu1 feature map, normalised, chunk {}; softmax: attnc's CPU kernel\n",
             heads, d, threads ? std::to_string(threads) : "all", "0 = every core", reps,
             linear->chunk());
  fmt::print("{:>7} | {:>11} {:>11} | {:>16}\n", "seq", "linear ms", "softmax ms",
             "softmax / linear");
  std::mt19937_64 rng(1);
  const int64_t lengths[] = {256, 512, 1024, 2048, 4096, 8192, 16384};
  double linear4k = 0, linear16k = 0;
  int64_t crossover = -1;
  for (int64_t n : lengths) {
    std::vector<float> q = uniformInputs(n * heads * d, rng), k = uniformInputs(n * heads * d, rng),
                       v = uniformInputs(n * heads * d, rng), o(n * heads * d);
    AttentionArgs a{denseView(q.data(), Layout::BSHD, 1, n, heads, d),
                    denseView(k.data(), Layout::BSHD, 1, n, heads, d),
                    denseView(v.data(), Layout::BSHD, 1, n, heads, d),
                    denseView(o.data(), Layout::BSHD, 1, n, heads, d), {}};
    Status failed = Status::success();
    auto check = [&](Status st) {
      if (!st.ok() && failed.ok())
        failed = st;
    };
    const double lin = medianMillis(reps, [&] { check(linear->run(a, nullptr, threads)); });
    const double soft = medianMillis(reps, [&] { check((*softmax)->run(a, threads)); });
    if (!failed.ok()) { // a failing call would be timed as a fast no-op
      fmt::print(stderr, "attnc-linear-bench: {}\n", failed.message());
      return 1;
    }
    fmt::print("{:>7} | {:>11.3f} {:>11.3f} | {:>16.2f}\n", n, lin, soft, soft / lin);
    if (n == 4096)
      linear4k = lin;
    if (n == 16384)
      linear16k = lin;
    if (crossover < 0 && lin < soft)
      crossover = n;
  }
  fmt::print("linear time, seq 16384 / seq 4096: {:.2f} (linear growth: 4)\n",
             linear16k / linear4k);
  if (crossover > 0)
    fmt::print("crossover: linear attention is faster from seq {} up (of the lengths run)\n",
               crossover);
  else
    fmt::print("crossover: softmax attention was faster at every length run\n");
  return 0;
}
