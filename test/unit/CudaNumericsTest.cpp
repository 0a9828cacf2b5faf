// GPU numerics: the CUDA backend against the float64 reference. Needs an
// NVIDIA GPU and driver; elsewhere the test is skipped and says why.
#include "CudaProbsCases.h"
#include "CudaSequenceCalls.h"
#include "ProgrammableCases.h"
#include "TestUtil.h"

#include "runtime/KernelCache.h"
#include "runtime/Reference.h"
#include "runtime/Linear.h"
#include "runtime/Merge.h"
#include "runtime/cuda/CudaKernel.h"
#include "runtime/cuda/CudaLinear.h"
#include "runtime/cuda/CudaMerge.h"
#include "runtime/cuda/DeviceRun.h"
#include "runtime/cuda/Driver.h"
#include "runtime/Half.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

using namespace attnc;
using namespace attnc::cuda;

namespace {

TEST(CudaNumerics, SweepMatchesFloat64Reference) {
  auto driver = Driver::get();
  if (!driver.ok())
    GTEST_SKIP() << "skipped (needs an NVIDIA GPU): " << driver.status().message();
  std::mt19937_64 rng(attnc::test::testSeed());
  KernelCache cache({"", /*disk=*/false});
  auto backend = CudaBackend::forDevice(0);
  ASSERT_TRUE(backend.ok()) << backend.status().message();
  const char *masks[] = {"#attn.mask<none>", "#attn.mask<causal, top_left>",
                         "#attn.mask<causal, bottom_right>",
                         "#attn.mask<sliding_window, left = 37, right = 3, bottom_right>"};
  const std::pair<int, int> dims[] = {{64, 64}, {128, 128}, {256, 256}, {40, 72}, {96, 96}};
  const std::pair<int, int> lengths[] = {{1, 1}, {17, 17}, {113, 300}, {300, 113}, {1023, 1023}};
  int cases = 0, failures = 0;
  for (int i = 0; i < 40; ++i) {
    bool bf16 = i % 2;
    auto [dQk, dV] = dims[i % 5];
    auto [seqQ, seqKv] = lengths[(i / 5) % 5];
    int kvHeads = i % 3 == 0 ? 1 : 2, qHeads = 4;
    std::string spec = fmt::format(
        "attn.kernel @gpu{} attributes {{q_heads = {}, kv_heads = {}, d_qk = {}, "
        "d_v = {}, element_type = {}, mask = {}, layout = #attn.layout<{}>, lse "
        "= true}}",
        i, qHeads, kvHeads, dQk, dV, bf16 ? "bf16" : "f16", masks[i % 4],
        i % 3 == 1 ? "bhsd" : "bshd");
    // Through the kernel cache (memory only), the path attnc run and the C
    // API take.
    auto ir = KernelIr::parse(spec);
    ASSERT_TRUE(ir.ok()) << spec << "\n" << ir.status().message();
    auto kernel = cache.get(*ir, *backend);
    ASSERT_TRUE(kernel.ok()) << spec << "\n" << kernel.status().message();
    const KernelSpec &s = (*kernel)->spec();
    // Host tensors; padded strides on odd cases (the device copy is dense).
    bool padded = i % 4 == 3;
    attnc::test::Buffer q(s.layout, 2, seqQ, qHeads, dQk, padded, rng),
        k(s.layout, 2, seqKv, kvHeads, dQk, padded, rng),
        v(s.layout, 2, seqKv, kvHeads, dV, padded, rng),
        o(s.layout, 2, seqQ, qHeads, dV, padded, rng);
    std::vector<float> lse(2 * qHeads * seqQ);
    AttentionArgs host{q.view, k.view, v.view, o.view,
                       lseView(lse.data(), 2, qHeads, seqQ)};
    auto millis = runFromHost(**kernel, host, /*reps=*/0);
    ASSERT_TRUE(millis.ok()) << spec << "\n" << millis.status().message();
    Comparison c = compareWithReference(s, host);
    ++cases;
    if (!c.passed()) {
      ++failures;
      ADD_FAILURE() << fmt::format(
          "{}\n  seq_q {} seq_kv {}: O error {:.3g} (tolerance {:.3g}), LSE "
          "error {:.3g} (tolerance {:.3g}){}{}",
          spec, seqQ, seqKv, c.maxError, c.tolerance, c.lseError,
          c.lseTolerance, c.nonFinite ? ", NaN/inf found" : "",
          c.lseMismatch ? ", a fully masked row's LSE is not -inf (or back)" : "");
    }
  }
  std::printf("cuda numerics: %d cases on %s, %d failures\n", cases,
              (*driver)->devices()[0].name.c_str(), failures);
}

/// The programmable kernels the emulator runs in every CI run
/// (SimtProgrammableTest), on the GPU: the examples, random mask and score
/// regions over declared inputs, and random block masks, larger.
TEST(CudaNumerics, ProgrammableMatchesFloat64Reference) {
  auto driver = Driver::get();
  if (!driver.ok())
    GTEST_SKIP() << "skipped (needs an NVIDIA GPU): " << driver.status().message();
  auto backend = CudaBackend::forDevice(0);
  ASSERT_TRUE(backend.ok()) << backend.status().message();
  std::mt19937_64 rng(attnc::test::testSeed() ^ 0x9e0);
  KernelCache cache({"", /*disk=*/false});
  std::vector<test::programmable::Case> cases =
      test::programmable::exampleCases();
  for (auto more : {test::programmable::randomRegionCases(rng, 16),
                    test::programmable::randomBlockMaskCases(rng, 12)})
    cases.insert(cases.end(), more.begin(), more.end());
  for (test::programmable::Case &c : cases) {
    c.seqQ *= 3, c.seqKv *= 3; // a GPU runs what the emulator cannot afford
    test::programmable::runCase<CudaBackend>(
        cache, *backend,
        [](const CudaKernel &kernel, const AttentionArgs &args) {
          auto millis = runFromHost(kernel, args, /*reps=*/0);
          return millis.ok() ? Status::success() : millis.status();
        },
        c, rng);
  }
  std::printf("cuda programmable numerics: %zu cases on %s\n", cases.size(),
              (*driver)->devices()[0].name.c_str());
}

/// Varlen batches and paged KV caches on a GPU: the emulator's random
/// calls (CudaSequenceCalls.h), several of each kernel, then appends,
/// through runFromHost (host tables checked, uploaded, launched).
TEST(CudaNumerics, VarlenAndPagedMatchFloat64Reference) {
  auto driver = Driver::get();
  if (!driver.ok())
    GTEST_SKIP() << "skipped (needs an NVIDIA GPU): " << driver.status().message();
  auto backend = CudaBackend::forDevice(0);
  ASSERT_TRUE(backend.ok()) << backend.status().message();
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed ^ 0x5e9);
  KernelCache cache({"", /*disk=*/false});
  auto onGpu = [](const CudaKernel &kernel) -> test::sequences::Run {
    return [&kernel](const AttentionArgs &a) {
      auto millis = runFromHost(kernel, a, /*reps=*/0);
      return millis.ok() ? Status::success() : millis.status();
    };
  };
  auto compile = [&](const std::string &text) -> std::shared_ptr<const CudaKernel> {
    auto ir = KernelIr::parse(text, "<test>");
    EXPECT_TRUE(ir.ok()) << text << "\n" << ir.status().message();
    if (!ir.ok())
      return nullptr;
    auto kernel = cache.get(*ir, *backend);
    EXPECT_TRUE(kernel.ok()) << text << "\n" << kernel.status().message();
    return kernel.ok() ? std::static_pointer_cast<const CudaKernel>(*kernel) : nullptr;
  };
  int calls = 0;
  const auto specs = test::sequences::cudaSequenceSpecs(rng);
  for (const auto &[text, sparse] : specs) {
    auto kernel = compile(text);
    if (!kernel)
      continue;
    for (int n = 0; n < 6; ++n, ++calls)
      EXPECT_EQ(test::sequences::runRandomCall(kernel->spec(), onGpu(*kernel), rng, sparse), "")
          << "seed " << seed << ": " << text;
  }
  if (auto kernel = compile(test::sequences::kAppendSpec))
    test::sequences::checkAppends(kernel->spec(), onGpu(*kernel), seed, rng);
  std::printf("cuda sequences: %d calls of %zu kernels and appends on %s, seed %llu\n",
              calls, specs.size(), (*driver)->devices()[0].name.c_str(),
              static_cast<unsigned long long>(seed));
}

/// The probs output on a GPU: the emulator's cases (CudaProbsCases.h)
/// through runFromHost, at larger shapes.
TEST(CudaNumerics, ProbsMatchFloat64Softmax) {
  auto driver = Driver::get();
  if (!driver.ok())
    GTEST_SKIP() << "skipped (needs an NVIDIA GPU): " << driver.status().message();
  auto backend = CudaBackend::forDevice(0);
  ASSERT_TRUE(backend.ok()) << backend.status().message();
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed ^ 0x9b0);
  KernelCache cache({"", /*disk=*/false});
  const std::pair<int64_t, int64_t> shapes[] = {{1, 1}, {113, 300}, {300, 113}, {513, 513}};
  int calls = 0;
  for (std::string text : test::probs::specs()) {
    if (text.find("@regions") != std::string::npos)
      text.replace(text.find("lse = true"), 10, "lse = true, probs = true");
    auto ir = KernelIr::parse(text, "<test>");
    ASSERT_TRUE(ir.ok()) << text << "\n" << ir.status().message();
    auto kernel = cache.get(*ir, *backend);
    ASSERT_TRUE(kernel.ok()) << text << "\n" << kernel.status().message();
    auto gpu = std::static_pointer_cast<const CudaKernel>(*kernel);
    for (auto [seqQ, seqKv] : shapes) {
      ++calls;
      EXPECT_EQ(test::probs::probsCall(gpu->spec(), 2, seqQ, seqKv, rng,
                                       [&](const AttentionArgs &a) {
                                         auto millis = runFromHost(*gpu, a, /*reps=*/0);
                                         return millis.ok() ? Status::success()
                                                            : millis.status();
                                       }),
                "")
          << "seed " << seed << ": " << text;
    }
  }
  std::printf("cuda probs: %d calls on %s, seed %llu\n", calls,
              (*driver)->devices()[0].name.c_str(), static_cast<unsigned long long>(seed));
}

/// The half-precision rule itself, on the host: output rounded to bf16
/// passes; the same output off by a few bf16 ulps fails.
TEST(CudaNumerics, HalfToleranceRuleSeparatesRoundingFromErrors) {
  std::mt19937_64 rng(attnc::test::testSeed());
  KernelSpec s;
  s.qHeads = 2;
  s.kvHeads = 1;
  s.dQk = s.dV = 64;
  s.scale = 0.125;
  s.elementType = "bf16";
  s.lse = true;
  attnc::test::Buffer q(s.layout, 1, 37, 2, 64, false, rng),
      k(s.layout, 1, 53, 1, 64, false, rng), v(s.layout, 1, 53, 1, 64, false, rng),
      o(s.layout, 1, 37, 2, 64, false, rng);
  for (auto *b : {&q, &k, &v})
    for (float &x : b->storage)
      x = roundToHalf(x, HalfKind::BF16);
  std::vector<float> lse(2 * 37);
  AttentionArgs a{q.view, k.view, v.view, o.view, lseView(lse.data(), 1, 2, 37)};
  ReferenceResult<double> ref = referenceAttention<double>(s, a);
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 0; i < 37; ++i) {
      for (int64_t d = 0; d < 64; ++d)
        a.o.at(0, h, i, d) =
            roundToHalf(float(ref.at(a.q, 64, 0, h, i, d)), HalfKind::BF16);
      a.lse.at(0, h, i, 0) = float(ref.lse[h * 37 + i]);
    }
  Comparison good = compareWithReference(s, a);
  EXPECT_TRUE(good.passed()) << good.maxError << " vs " << good.tolerance;
  EXPECT_GT(good.tolerance, 1e-4) << "the bf16 rule must allow bf16 rounding";
  a.o.at(0, 1, 20, 7) += 0.05f;
  EXPECT_FALSE(compareWithReference(s, a).passed());
  a.o.at(0, 1, 20, 7) -= 0.05f;
  a.lse.at(0, 0, 3, 0) += 1e-3f; // LSE is f32: bf16-sized errors fail
  Comparison badLse = compareWithReference(s, a);
  EXPECT_FALSE(badLse.passed()) << badLse.lseError << " vs " << badLse.lseTolerance;
}

} // namespace

namespace {

/// A host f32 vector copied to a new device buffer.
attnc::StatusOr<attnc::cuda::DeviceBuffer> toDevice(const std::vector<float> &x) {
  auto buffer = attnc::cuda::DeviceBuffer::alloc(std::max<size_t>(x.size(), 1) * 4);
  if (!buffer.ok())
    return buffer.status();
  if (attnc::Status st = buffer->upload(x.data(), x.size() * 4); !st.ok())
    return st;
  return buffer;
}

/// `host` with its data replaced by `buffer`'s device address.
attnc::TensorView onDevice(attnc::TensorView host, const attnc::cuda::DeviceBuffer &buffer) {
  host.data = reinterpret_cast<void *>(static_cast<uintptr_t>(buffer.ptr()));
  return host;
}

// The merge and linear-attention kernels launched on the GPU (device
// addresses, the default stream) against the CPU's mergeAttention and
// LinearKernel (with and without a recurrent state), which are tested
// against float64.
TEST(CudaNumerics, MergeAndLinearOnTheGpuMatchTheCpu) {
  auto driver = attnc::cuda::Driver::get();
  if (!driver.ok())
    GTEST_SKIP() << "skipped (needs an NVIDIA GPU): " << driver.status().message();
  if ((*driver)->devices().empty())
    GTEST_SKIP() << "skipped: the CUDA driver sees no GPU";
  // GPU 0's context current before the first allocation (the launches
  // make it current too, but only after the buffers exist).
  ASSERT_TRUE((*driver)->use(0).ok());
  std::mt19937_64 rng(attnc::test::testSeed());
  auto random = [&](size_t n) {
    std::vector<float> x(n);
    for (float &e : x)
      e = std::uniform_real_distribution<float>(-1, 1)(rng);
    return x;
  };
  const int64_t batch = 2, heads = 4, seq = 17, dim = 40;
  {
    const int64_t n = batch * heads * seq * dim, rows = batch * heads * seq;
    std::vector<float> o0 = random(n), o1 = random(n), l0 = random(rows), l1 = random(rows);
    std::vector<float> want(n), got(n, NAN), wantLse(rows), gotLse(rows, NAN);
    attnc::MergeArgs host;
    host.outputs = {attnc::denseView(o0.data(), Layout::BHSD, batch, seq, heads, dim),
                    attnc::denseView(o1.data(), Layout::BHSD, batch, seq, heads, dim)};
    host.lses = {attnc::lseView(l0.data(), batch, heads, seq),
                 attnc::lseView(l1.data(), batch, heads, seq)};
    host.o = attnc::denseView(want.data(), Layout::BHSD, batch, seq, heads, dim);
    host.lse = attnc::lseView(wantLse.data(), batch, heads, seq);
    ASSERT_TRUE(attnc::mergeAttention(host, 1).ok());
    auto d0 = toDevice(o0), d1 = toDevice(o1), e0 = toDevice(l0), e1 = toDevice(l1),
         dout = toDevice(got), dlse = toDevice(gotLse);
    for (auto *b : {&d0, &d1, &e0, &e1, &dout, &dlse})
      ASSERT_TRUE(b->ok()) << b->status().message();
    attnc::MergeArgs device = host;
    device.outputs = {onDevice(host.outputs[0], *d0), onDevice(host.outputs[1], *d1)};
    device.lses = {onDevice(host.lses[0], *e0), onDevice(host.lses[1], *e1)};
    device.o = onDevice(host.o, *dout);
    device.lse = onDevice(host.lse, *dlse);
    attnc::Status st = attnc::cuda::deviceMerge(device);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_EQ((*driver)->api().ctxSynchronize(), 0);
    ASSERT_TRUE(dout->download(got.data(), n * 4).ok());
    ASSERT_TRUE(dlse->download(gotLse.data(), rows * 4).ok());
    for (int64_t e = 0; e < n; ++e)
      ASSERT_NEAR(got[e], want[e], 1e-5) << "merge element " << e;
    for (int64_t r = 0; r < rows; ++r)
      ASSERT_NEAR(gotLse[r], wantLse[r], 1e-5) << "merge LSE " << r;
  }
  for (const char *mask : {"none", "causal, bottom_right"}) {
    const std::string text = fmt::format(
        "attn.kernel @gpu_linear attributes {{q_heads = 4, kv_heads = 2, d_qk = 32, d_v = "
        "40, element_type = f32, variant = #attn.variant<linear>, mask = #attn.mask<{}>}}",
        mask);
    auto ir = attnc::KernelIr::parse(text, "<linear>");
    ASSERT_TRUE(ir.ok()) << ir.status().message();
    auto cpu = attnc::LinearKernel::create(*ir);
    auto gpu = attnc::cuda::CudaLinear::create(*ir);
    ASSERT_TRUE(cpu.ok() && gpu.ok()) << text;
    const int64_t seqQ = 17, seqKv = 113;
    std::vector<float> q = random(batch * 4 * seqQ * 32), k = random(batch * 2 * seqKv * 32),
                       v = random(batch * 2 * seqKv * 40), want(batch * 4 * seqQ * 40),
                       got(want.size(), NAN);
    AttentionArgs host{attnc::denseView(q.data(), Layout::BHSD, batch, seqQ, 4, 32),
                       attnc::denseView(k.data(), Layout::BHSD, batch, seqKv, 2, 32),
                       attnc::denseView(v.data(), Layout::BHSD, batch, seqKv, 2, 40),
                       attnc::denseView(want.data(), Layout::BHSD, batch, seqQ, 4, 40),
                       {}};
    ASSERT_TRUE(cpu->run(host).ok());
    auto dq = toDevice(q), dk = toDevice(k), dv = toDevice(v), dout = toDevice(got);
    for (auto *b : {&dq, &dk, &dv, &dout})
      ASSERT_TRUE(b->ok()) << b->status().message();
    AttentionArgs device{onDevice(host.q, *dq), onDevice(host.k, *dk),
                         onDevice(host.v, *dv), onDevice(host.o, *dout), {}};
    attnc::Status st = gpu->launch(device);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_EQ((*driver)->api().ctxSynchronize(), 0);
    ASSERT_TRUE(dout->download(got.data(), got.size() * 4).ok());
    for (size_t e = 0; e < got.size(); ++e)
      ASSERT_NEAR(got[e], want[e], 1e-4 * (1 + std::abs(want[e]))) << text << " element " << e;
    if (std::string(mask) == "none")
      continue;
    // The recurrent state: two calls over one device state, against the
    // CPU's two calls over its own; o of the second call and S, z after it.
    const int64_t dQk = 32, dV = 40;
    std::vector<float> S(batch * 2 * dQk * dV, 0.f), z(batch * 2 * dQk, 0.f);
    attnc::LinearState cpuState{attnc::denseView(S.data(), Layout::BHSD, batch, dQk, 2, dV),
                                attnc::denseView(z.data(), Layout::BHSD, batch, 1, 2, dQk)};
    auto dS = toDevice(S), dz = toDevice(z);
    ASSERT_TRUE(dS.ok() && dz.ok());
    attnc::LinearState gpuState{onDevice(cpuState.s, *dS), onDevice(cpuState.z, *dz)};
    for (int call = 0; call < 2; ++call) {
      ASSERT_TRUE(cpu->run(host, &cpuState).ok());
      st = gpu->launch(device, &gpuState);
      ASSERT_TRUE(st.ok()) << st.message();
    }
    ASSERT_EQ((*driver)->api().ctxSynchronize(), 0);
    std::vector<float> gotS(S.size()), gotZ(z.size());
    ASSERT_TRUE(dout->download(got.data(), got.size() * 4).ok());
    ASSERT_TRUE(dS->download(gotS.data(), gotS.size() * 4).ok());
    ASSERT_TRUE(dz->download(gotZ.data(), gotZ.size() * 4).ok());
    for (size_t e = 0; e < got.size(); ++e)
      ASSERT_NEAR(got[e], want[e], 1e-4 * (1 + std::abs(want[e]))) << "state o " << e;
    for (size_t e = 0; e < S.size(); ++e)
      ASSERT_NEAR(gotS[e], S[e], 1e-4 * (1 + std::abs(S[e]))) << "state S " << e;
    for (size_t e = 0; e < z.size(); ++e)
      ASSERT_NEAR(gotZ[e], z[e], 1e-4 * (1 + std::abs(z[e]))) << "state z " << e;
  }
}

} // namespace
