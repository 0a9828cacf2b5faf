// The CUDA merge kernel (compiler/Target/CUDA/MergeKernel.cuh.inc) under
// the SIMT emulator, every access checked: random parts of every element
// type, odd sizes and strides, fully masked parts and rows, NaN and +inf
// LSEs, against the CPU's mergeAttention (runtime/Merge.h, itself tested
// against float64 in MergeTest); its own limits; a mutant that must fail.
#include "SimtTestUtil.h"
#include "TestUtil.h"

#include "runtime/Merge.h"
#include "runtime/cuda/CudaMerge.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace attnc;
using attnc::test::Buffer;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

int64_t uniform(std::mt19937_64 &rng, int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}

/// Random parts for o's shape, LSEs in [-20, 20] with some -inf (and, when
/// `nonFinite`, a few NaN and +inf).
struct Parts {
  std::vector<Buffer> outs;
  std::vector<std::vector<float>> lses;
  Parts(std::mt19937_64 &rng, int64_t n, DType type, const std::array<int64_t, 4> &shape,
        bool nonFinite) {
    outs.reserve(n);
    for (int64_t p = 0; p < n; ++p) {
      outs.emplace_back(p % 2 ? Layout::BSHD : Layout::BHSD, shape[0], shape[2], shape[1],
                        shape[3], p % 3 == 1, rng);
      outs.back().convertTo(type);
      lses.emplace_back(shape[0] * shape[1] * shape[2]);
      for (float &l : lses.back()) {
        const int64_t r = uniform(rng, 0, 40);
        l = r < 4 ? -kInf
            : nonFinite && r == 4 ? std::numeric_limits<float>::quiet_NaN()
            : nonFinite && r == 5 ? kInf
                                  : std::uniform_real_distribution<float>(-20, 20)(rng);
      }
    }
  }
  void bind(MergeArgs &m, const std::array<int64_t, 4> &shape) {
    for (size_t p = 0; p < outs.size(); ++p) {
      m.outputs.push_back(outs[p].view);
      m.lses.push_back(lseView(lses[p].data(), shape[0], shape[1], shape[2]));
    }
  }
};

/// simtMerge against mergeAttention on the same parts: o within 2 ulps of
/// o's type (the two may contract multiply-adds differently), NaN and -inf
/// in the same places, LSE within 1e-6.
std::string compareMerges(std::mt19937_64 &rng, DType type, int64_t parts,
                          const std::array<int64_t, 4> &shape, bool nonFinite) {
  Parts in(rng, parts, type, shape, nonFinite);
  Buffer cpu(Layout::BSHD, shape[0], shape[2], shape[1], shape[3], false, rng),
      gpu(Layout::BHSD, shape[0], shape[2], shape[1], shape[3], true, rng);
  cpu.convertTo(type);
  gpu.convertTo(type);
  std::vector<float> cpuLse(shape[0] * shape[1] * shape[2]), gpuLse(cpuLse.size());
  MergeArgs a, b;
  in.bind(a, shape);
  in.bind(b, shape);
  a.o = cpu.view;
  a.lse = lseView(cpuLse.data(), shape[0], shape[1], shape[2]);
  b.o = gpu.view;
  b.lse = lseView(gpuLse.data(), shape[0], shape[1], shape[2]);
  if (Status st = mergeAttention(a); !st.ok())
    return "cpu: " + st.message();
  if (Status st = cuda::simtMerge(b); !st.ok())
    return "cuda-sim: " + st.message();
  const double ulp = type == DType::F32 ? 0x1p-23 : type == DType::F16 ? 0x1p-10 : 0x1p-7;
  int64_t bad = 0;
  std::string first;
  for (int64_t bb = 0; bb < shape[0]; ++bb)
    for (int64_t h = 0; h < shape[1]; ++h)
      for (int64_t s = 0; s < shape[2]; ++s) {
        const float la = a.lse.at(bb, h, s, 0), lb = b.lse.at(bb, h, s, 0);
        bool rowBad = !(la == lb || (std::isnan(la) && std::isnan(lb)) ||
                        std::abs(la - lb) <= 1e-6 * std::max(1.f, std::abs(la)));
        for (int64_t d = 0; d < shape[3]; ++d) {
          const float x = a.o.get(bb, h, s, d), y = b.o.get(bb, h, s, d);
          if (!(x == y || (std::isnan(x) && std::isnan(y)) ||
                std::abs(x - y) <= 2 * ulp * std::max(1.f, std::abs(x))))
            rowBad = true;
        }
        if (rowBad && bad++ == 0)
          first = fmt::format("row ({}, {}, {}): lse {} vs {}, o[0] {} vs {}", bb, h, s, la,
                              lb, a.o.get(bb, h, s, 0), b.o.get(bb, h, s, 0));
      }
  return bad ? fmt::format("{} rows differ, the first {}", bad, first) : "";
}

TEST(SimtMerge, RandomPartsMatchTheCpuMerge) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed);
  const int64_t dims[] = {1, 17, 32, 64, 113, 128};
  int cases = 0;
  for (int i = 0; i < 12; ++i) {
    const DType type = std::vector<DType>{DType::F32, DType::F16, DType::BF16}[i % 3];
    const std::array<int64_t, 4> shape = {uniform(rng, 1, 2), uniform(rng, 1, 3),
                                          std::vector<int64_t>{1, 17, 33}[uniform(rng, 0, 2)],
                                          dims[i % 6]};
    const int64_t parts = i == 0 ? 16 : uniform(rng, 1, 8);
    EXPECT_EQ(compareMerges(rng, type, parts, shape, i % 2), "")
        << fmt::format("seed {} case {}: {} parts of {} [{}]", seed, i, parts,
                       toString(type), fmt::join(shape, ", "));
    ++cases;
  }
  std::printf("cuda-sim merge: %d cases, seed %llu\n", cases,
              static_cast<unsigned long long>(seed));
}

TEST(SimtMerge, CudaLimitsAreNamed) {
  std::mt19937_64 rng(attnc::test::testSeed());
  const std::array<int64_t, 4> shape = {1, 2, 3, 8};
  Parts in(rng, 17, DType::F16, shape, false);
  Buffer o(Layout::BSHD, 1, 3, 2, 8, false, rng);
  o.convertTo(DType::F16);
  MergeArgs m;
  in.bind(m, shape);
  m.o = o.view;
  EXPECT_EQ(cuda::checkCudaMerge(m).message(),
            "merge: 17 parts, but the cuda merge takes at most 16 a call; merge "
            "them in rounds (a merged result and its LSE are a part)");
  m.outputs.resize(2);
  m.lses.resize(2);
  Buffer f32(Layout::BSHD, 1, 3, 2, 8, false, rng);
  m.outputs[1] = f32.view;
  EXPECT_EQ(cuda::checkCudaMerge(m).message(),
            "merge: outputs[1] is f32 but o is f16; the cuda merge takes one "
            "element type for every part and o");
  m.outputs[1] = in.outs[1].view;
  m.o = m.outputs[0];
  EXPECT_EQ(cuda::checkCudaMerge(m).message(),
            "merge: o is outputs[0]; the cuda merge does not merge in place "
            "(the cpu's does): give it outputs of their own");
  EXPECT_EQ(cuda::mergeSource(DType::I32).status().message(),
            "merge: no CUDA merge kernel for i32 (f32, f16 or bf16)");
}

/// The comparison above catches a kernel that forgets to normalise.
TEST(SimtMerge, MutatedKernelFailsTheComparison) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  std::mt19937_64 rng(attnc::test::testSeed() ^ 0x77);
  auto source = cuda::mergeSource(DType::F32);
  ASSERT_TRUE(source.ok());
  const char *from = "      acc *= inv;\n";
  size_t at = source->find(from);
  ASSERT_NE(at, std::string::npos);
  source->erase(at, std::strlen(from));
  simt::CompileOptions options;
  options.fileName = "merge_mutant.cu";
  auto module = simt::Module::compile(*source, options);
  ASSERT_TRUE(module.ok()) << module.status().message();
  const std::array<int64_t, 4> shape = {1, 2, 5, 16};
  Parts in(rng, 3, DType::F32, shape, false);
  Buffer o(Layout::BSHD, 1, 5, 2, 16, false, rng), want(Layout::BSHD, 1, 5, 2, 16, false, rng);
  MergeArgs m;
  in.bind(m, shape);
  m.o = want.view;
  ASSERT_TRUE(mergeAttention(m).ok());
  m.o = o.view;
  const auto params = cuda::packMerge(m);
  simt::LaunchChecks checks;
  checks.globalBounds = false; // host buffers, not registered here
  ASSERT_TRUE((*module)->launch({cuda::mergeGrid(m), 1, 1},
                                {mlir::attn::abi::kMergeWarps * 32, 1, 1}, 0, &params,
                                sizeof params, checks)
                  .ok());
  int64_t differ = 0;
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t s = 0; s < 5; ++s)
      for (int64_t d = 0; d < 16; ++d)
        differ += std::abs(o.view.get(0, h, s, d) - want.view.get(0, h, s, d)) > 1e-5f;
  EXPECT_GT(differ, 0) << "an unnormalised merge matched the CPU's";
}

} // namespace
