// The emulator's execution model and each of its checks, on a small
// hand-written kernel that uses the same prelude names as attnc's kernels
// (compiled once; each test picks a mode). Also the launch's own argument
// checks and the compile path's errors.
#include "SimtTestUtil.h"

#include "runtime/cuda/simt/attnc_simt_half.h"

using namespace attnc;
using namespace attnc::test::simt;

namespace {

// Each mode is one scenario; the Params layout is mirrored by ProbeParams.
const char *kProbeKernel = R"(#include "attnc_target.cuh"
#define KERNEL_NAME probe
struct Params {
  int mode;
  const __half *a;  // 16x16, row-major
  const __half *b;  // 16x16, row-major
  float *d;         // 16x16 out
  unsigned *u;      // 128 words out
  const unsigned char *src;
  long long src_offset;
};

__device__ void load16x16(__half *dst, const __half *src, int t) {
  // 32 chunks of 16 bytes: row t / 2, half-row t % 2.
  cp_async16(dst + (t / 2) * 16 + (t % 2) * 8, src + (t / 2) * 16 + (t % 2) * 8, true);
}

extern "C" __global__ void __launch_bounds__(64, 1) KERNEL_NAME(Params p) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  __half *sA = reinterpret_cast<__half *>(smem_raw);
  __half *sB = sA + 256;
  const int t = threadIdx.x, lane = t % 32, warp = t / 32;
  const int g = lane / 4, q = lane % 4, j = lane / 8;
  switch (p.mode) {
  case 0:   // D = A B^T (B as K: column-major B) and D2 = A B (B as V, .trans)
  case 1: {
    load16x16(sA, p.a, t);
    load16x16(sB, p.b, t);
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();
    unsigned a[4], b[4];
    ldmatrix_x4(a, sA + (lane % 16) * 16 + (lane / 16) * 8);
    if (p.mode == 0)
      ldmatrix_x4(b, sB + ((j / 2) * 8 + lane % 8) * 16 + (j % 2) * 8);
    else
      ldmatrix_x4_trans(b, sB + ((j % 2) * 8 + lane % 8) * 16 + (j / 2) * 8);
    float c[2][4] = {};
    mma16816<__half>(c[0], a, b[0], b[1]);
    mma16816<__half>(c[1], a, b[2], b[3]);
    for (int n = 0; n < 2; ++n)
      for (int e = 0; e < 4; ++e)
        store_global(p.d + (e < 2 ? g : g + 8) * 16 + n * 8 + 2 * q + (e & 1), c[n][e]);
    return;
  }
  case 2: { // shuffles
    unsigned v = 1000 + lane;
    store_global(p.u + lane, __shfl_xor_sync(0xffffffff, v, 1));
    store_global(p.u + 32 + lane, __shfl_xor_sync(0xffffffff, v, 16));
    store_global(p.u + 64 + lane, __shfl_xor_sync(0xffffffff, v, 4, 4));
    float f = __shfl_xor_sync(0xffffffff, 0.5f * lane, 2);
    store_global(p.u + 96 + lane, __float_as_uint(f));
    return;
  }
  case 3: // half the threads leave, the rest wait at a barrier
    if (t >= 16)
      return;
    __syncthreads();
    return;
  case 4: // lanes of one warp at different shuffles
    if (lane < 16)
      store_global(p.u + lane, __shfl_xor_sync(0xffffffff, 1u, 1));
    else
      store_global(p.u + lane, __shfl_xor_sync(0xffffffff, 2u, 1));
    return;
  case 5: { // ldmatrix of never-written shared memory
    unsigned a[4];
    ldmatrix_x4(a, sA + (lane % 16) * 16 + (lane / 16) * 8);
    store_global(p.u + lane, a[0]);
    return;
  }
  case 6: { // warp 0 copies and waits; warp 1 reads without a barrier
    if (warp == 0) {
      load16x16(sA, p.a, t);
      cp_async_commit();
      cp_async_wait<0>();
    } else {
      unsigned a[4];
      ldmatrix_x4(a, sA + (lane % 16) * 16 + (lane / 16) * 8);
    }
    return;
  }
  case 7: { // copy, commit, barrier, read: the wait is missing
    load16x16(sA, p.a, t);
    cp_async_commit();
    __syncthreads();
    unsigned a[4];
    ldmatrix_x4(a, sA + (lane % 16) * 16 + (lane / 16) * 8);
    cp_async_wait<0>();
    return;
  }
  case 8: { // ldmatrix past the dynamic shared memory
    unsigned a[4];
    ldmatrix_x4(a, smem_raw + 4096 + lane * 16);
    return;
  }
  case 9: // misaligned cp.async destination
    cp_async16(smem_raw + 8 + t * 16, p.a, true);
    cp_async_commit();
    cp_async_wait<0>();
    return;
  case 10: // cp.async source outside the buffer
    cp_async16(smem_raw + t * 16, p.src + p.src_offset, true);
    cp_async_commit();
    cp_async_wait<0>();
    return;
  case 11: // every thread leaves at once (what a CTA past seq_q does)
    if (t >= 0)
      return;
    __syncthreads();
    return;
  case 12: // warp 1 lanes 16-31 at a shuffle, everyone else at a barrier
    if (warp == 1 && lane >= 16)
      store_global(p.u + lane, __shfl_xor_sync(0xffffffff, 1u, 1));
    __syncthreads();
    return;
  case 13: { // visibility: a second copy to the same bytes lands at its wait
    // Group 0: A into sA. Group 1: B into sA too, once A was read.
    load16x16(sA, p.a, t);
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();
    unsigned first[4], stale[4], fresh[4];
    ldmatrix_x4(first, sA + (lane % 16) * 16 + (lane / 16) * 8);
    __syncthreads();
    load16x16(sA, p.b, t);
    cp_async_commit();
    load16x16(sB, p.b, t); // group 2, waited for below
    cp_async_commit();
    __syncthreads();
    ldmatrix_x4(stale, sA + (lane % 16) * 16 + (lane / 16) * 8); // group 1 pending
    cp_async_wait<0>();
    __syncthreads();
    ldmatrix_x4(fresh, sA + (lane % 16) * 16 + (lane / 16) * 8);
    if (warp == 0) {
      store_global(p.u + lane, first[0]);
      store_global(p.u + 32 + lane, stale[0]);
      store_global(p.u + 64 + lane, fresh[0]);
    }
    return;
  }
  case 14: { // wait_group 1 completes the older of two groups only
    load16x16(sA, p.a, t);
    cp_async_commit();
    load16x16(sB, p.b, t);
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    unsigned a[4], b[4];
    ldmatrix_x4(a, sA + (lane % 16) * 16 + (lane / 16) * 8);
    ldmatrix_x4(b, sB + (lane % 16) * 16 + (lane / 16) * 8);
    cp_async_wait<0>();
    return;
  }
  case 15: { // built-ins: each CTA writes its own 16 words
    unsigned cta = blockIdx.x + blockIdx.y * gridDim.x + blockIdx.z * gridDim.x * gridDim.y;
    if (t < 16)
      store_global(p.u + cta * 16 + t,
                   blockIdx.x * 10000 + blockIdx.y * 1000 + blockIdx.z * 100 + threadIdx.x);
    if (t == 0 && cta == 0)
      store_global(p.u + 120, blockDim.x * 100 + gridDim.x * 10 + gridDim.y);
    return;
  }
  }
}
)";

struct ProbeParams {
  int mode;
  const void *a, *b;
  float *d;
  unsigned *u;
  const unsigned char *src;
  long long srcOffset;
};

struct Probe {
  std::unique_ptr<Module> module;
  std::unique_ptr<GuardedBuffer> a, b, d, u;
  float A[16][16], B[16][16];
};

Probe &probe() {
  static Probe p = [] {
    Probe p;
    CompileOptions options;
    options.fileName = "probe.cu";
    auto module = Module::compile(kProbeKernel, options);
    EXPECT_TRUE(module.ok()) << module.status().message();
    if (module.ok())
      p.module = std::move(*module);
    auto alloc = [](const char *name, size_t bytes) {
      auto b = GuardedBuffer::allocate(name, bytes);
      EXPECT_TRUE(b.ok());
      return std::make_unique<GuardedBuffer>(std::move(*b));
    };
    p.a = alloc("a", 512);
    p.b = alloc("b", 512);
    p.d = alloc("d", 1024);
    p.u = alloc("u", 512);
    std::mt19937_64 rng(attnc::test::testSeed());
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    for (int r = 0; r < 16; ++r)
      for (int c = 0; c < 16; ++c) {
        uint16_t ha = attnc_simt::floatToHalfBits(dist(rng)),
                 hb = attnc_simt::floatToHalfBits(dist(rng));
        p.A[r][c] = attnc_simt::halfBitsToFloat(ha);
        p.B[r][c] = attnc_simt::halfBitsToFloat(hb);
        static_cast<uint16_t *>(p.a->data())[r * 16 + c] = ha;
        static_cast<uint16_t *>(p.b->data())[r * 16 + c] = hb;
      }
    return p;
  }();
  return p;
}

struct ProbeRun {
  Status status = Status::success();
  LaunchReport report;
};

ProbeRun runProbe(int mode, unsigned threads = 64, LaunchChecks checks = {},
                  long long srcOffset = 0, Dim3 grid = {}) {
  Probe &p = probe();
  ProbeRun r;
  if (!p.module) {
    r.status = Status::error("the probe kernel did not compile");
    return r;
  }
  ProbeParams params{mode,
                     p.a->data(),
                     p.b->data(),
                     static_cast<float *>(p.d->data()),
                     static_cast<unsigned *>(p.u->data()),
                     static_cast<const unsigned char *>(p.a->data()),
                     srcOffset};
  for (const GuardedBuffer *b : {p.a.get(), p.b.get(), p.d.get(), p.u.get()})
    checks.buffers.push_back(b->global());
  r.status = p.module->launch(grid, {threads, 1, 1}, 1024, &params,
                              sizeof params, checks, &r.report);
  return r;
}

std::string listing(const LaunchReport &r) {
  std::string s;
  for (const Report &report : r.reports)
    s += fmt::format("\n  [{}] {} (x{})", toString(report.kind), report.message,
                     report.occurrences);
  return s;
}

const Report *only(const ProbeRun &r, ReportKind kind) {
  for (const Report &report : r.report.reports)
    if (report.kind == kind)
      return &report;
  return nullptr;
}

#define EXPECT_REPORT(run, kind, text)                                         \
  do {                                                                         \
    EXPECT_FALSE((run).status.ok());                                           \
    const Report *found = only(run, kind);                                     \
    ASSERT_TRUE(found) << "no " << toString(kind)                              \
                       << " report in:" << listing((run).report);              \
    EXPECT_NE(found->message.find(text), std::string::npos) << found->message; \
    EXPECT_NE((run).status.message().find(found->message), std::string::npos); \
    std::printf("  reported: %s\n", found->message.c_str());                   \
  } while (0)

TEST(SimtCheck, MmaThroughThePreludeMatchesAMatrixProduct) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  Probe &p = probe();
  for (int mode : {0, 1}) {
    ProbeRun r = runProbe(mode, 32);
    ASSERT_TRUE(r.status.ok()) << r.status.message();
    const float *d = static_cast<const float *>(p.d->data());
    for (int m = 0; m < 16; ++m)
      for (int n = 0; n < 16; ++n) {
        double want = 0, scale = 0;
        for (int k = 0; k < 16; ++k) {
          double term = mode == 0 ? double(p.A[m][k]) * p.B[n][k]
                                  : double(p.A[m][k]) * p.B[k][n];
          want += term;
          scale += std::abs(term);
        }
        EXPECT_NEAR(d[m * 16 + n], want, 1e-6 * scale + 1e-7)
            << (mode == 0 ? "A B^T" : "A B (.trans)") << " at " << m << ","
            << n;
      }
    EXPECT_TRUE(p.d->checkGuards().ok());
  }
}

TEST(SimtCheck, ShufflesExchangeWithinTheWarp) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  ProbeRun r = runProbe(2, 32);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  const unsigned *u = static_cast<const unsigned *>(probe().u->data());
  for (unsigned l = 0; l < 32; ++l) {
    EXPECT_EQ(u[l], 1000 + (l ^ 1));
    EXPECT_EQ(u[32 + l], 1000 + (l ^ 16));
    // width 4, mask 4: the source is always in a later or earlier group of
    // four; lanes whose partner lies later keep their own value.
    EXPECT_EQ(u[64 + l], (l & 4) ? 1000 + (l ^ 4) : 1000 + l) << l;
    float f;
    std::memcpy(&f, &u[96 + l], 4);
    EXPECT_EQ(f, 0.5f * (l ^ 2));
  }
}

TEST(SimtCheck, BuiltinsDescribeTheLaunch) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  ProbeRun r = runProbe(15, 64, {}, 0, {3, 2, 1});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.report.ctasRun, 6u);
  const unsigned *u = static_cast<const unsigned *>(probe().u->data());
  EXPECT_EQ(u[120], 64u * 100 + 3 * 10 + 2);
  for (unsigned y = 0; y < 2; ++y)
    for (unsigned x = 0; x < 3; ++x)
      for (unsigned t = 0; t < 16; ++t)
        EXPECT_EQ(u[(x + 3 * y) * 16 + t], x * 10000 + y * 1000 + t);
}

TEST(SimtCheck, ThreadsLeavingBeforeABarrierAreADeadlock) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  ProbeRun r = runProbe(3, 32);
  EXPECT_REPORT(r, ReportKind::Deadlock, "must reach each __syncthreads");
  EXPECT_NE(r.report.reports[0].message.find("probe.cu:"), std::string::npos);
}

TEST(SimtCheck, AWholeCtaReturningEarlyIsFine) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  ProbeRun r = runProbe(11, 64);
  EXPECT_TRUE(r.status.ok()) << r.status.message();
}

TEST(SimtCheck, LanesAtDifferentCollectivesAreDivergent) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  ProbeRun r = runProbe(4, 32);
  EXPECT_REPORT(r, ReportKind::WarpDivergence, "__shfl_xor_sync");
}

TEST(SimtCheck, NoThreadAbleToProceedIsReportedAsADeadlock) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  ProbeRun r = runProbe(12, 64);
  EXPECT_REPORT(r, ReportKind::Deadlock, "no thread can proceed");
  EXPECT_NE(r.report.reports[0].message.find("16 of 32 live lanes of warp 1"),
            std::string::npos)
      << r.report.reports[0].message;
}

TEST(SimtCheck, ReadingUnwrittenSharedMemoryIsReported) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  ProbeRun r = runProbe(5, 32);
  EXPECT_REPORT(r, ReportKind::UninitialisedSharedRead,
                "nothing in this CTA has written");
  // With the check off the read proceeds and sees the poison bytes.
  LaunchChecks off;
  off.uninitialisedShared = false;
  ProbeRun quiet = runProbe(5, 32, off);
  EXPECT_TRUE(quiet.status.ok()) << quiet.status.message();
  EXPECT_EQ(static_cast<const unsigned *>(probe().u->data())[0], 0xffffffffu);
}

TEST(SimtCheck, AnotherWarpsCopyReadWithoutABarrierIsARace) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  ProbeRun r = runProbe(6, 64);
  EXPECT_REPORT(r, ReportKind::SharedRace, "with no __syncthreads between");
}

TEST(SimtCheck, ReadingACopyBeforeItsWaitIsStale) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  ProbeRun r = runProbe(7, 32);
  EXPECT_REPORT(r, ReportKind::StaleCpAsyncRead, "was waited for");
}

TEST(SimtCheck, CopiesLandAtTheirWaitGroup) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  Probe &p = probe();
  // With the stale-read check off, the pending copy's old bytes are read.
  LaunchChecks off;
  off.staleCpAsync = false;
  ProbeRun r = runProbe(13, 32, off);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  const unsigned *u = static_cast<const unsigned *>(p.u->data());
  const uint16_t *a = static_cast<const uint16_t *>(p.a->data()),
                 *b = static_cast<const uint16_t *>(p.b->data());
  for (int lane = 0; lane < 32; ++lane) {
    // a[0] of the A fragment: row lane / 4, columns 2 (lane % 4) and +1.
    int at = (lane / 4) * 16 + 2 * (lane % 4);
    unsigned fromA = a[at] | unsigned(a[at + 1]) << 16,
             fromB = b[at] | unsigned(b[at + 1]) << 16;
    EXPECT_EQ(u[lane], fromA) << lane;
    EXPECT_EQ(u[32 + lane], fromA)
        << "before its wait, the second copy is not visible";
    EXPECT_EQ(u[64 + lane], fromB) << "after its wait it is";
  }
  // With the check on, the same run is a stale read.
  ProbeRun checked = runProbe(13, 32);
  EXPECT_REPORT(checked, ReportKind::StaleCpAsyncRead, "still pending");
  // wait_group 1 leaves the newest group pending.
  ProbeRun partial = runProbe(14, 32);
  EXPECT_REPORT(partial, ReportKind::StaleCpAsyncRead, "probe.cu:");
  EXPECT_EQ(partial.report.reports.size(), 1u) << listing(partial.report);
  EXPECT_NE(partial.report.reports[0].message.find("smem_raw + 5"),
            std::string::npos)
      << "only sB (at 512) may be stale: " << partial.report.reports[0].message;
}

TEST(SimtCheck, SharedAccessesOutsideTheDynamicSizeAreReported) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  ProbeRun r = runProbe(8, 32);
  EXPECT_REPORT(r, ReportKind::SharedOutOfBounds, "outside the 1024 bytes");
}

TEST(SimtCheck, MisalignedCopiesAreReported) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  ProbeRun r = runProbe(9, 32);
  EXPECT_REPORT(r, ReportKind::Misaligned, "not 16-byte aligned");
}

TEST(SimtCheck, CopiesFromOutsideEveryBufferAreReportedWithTheNearestOne) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  ProbeRun inside = runProbe(10, 32, {}, 496);
  EXPECT_TRUE(inside.status.ok()) << inside.status.message();
  ProbeRun past = runProbe(10, 32, {}, 512);
  EXPECT_REPORT(past, ReportKind::GlobalOutOfBounds,
                "offset 512 of 'a', which has 512 bytes");
  ProbeRun before = runProbe(10, 32, {}, -16);
  EXPECT_REPORT(before, ReportKind::GlobalOutOfBounds, "offset -16 of 'a'");
}

// ---- The launch's own checks and the compile path -------------------------

TEST(SimtLaunch, InvalidLaunchesAreRejectedNamingTheValue) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  const Module *m = probe().module.get();
  ASSERT_TRUE(m);
  ProbeParams params{};
  auto message = [&](Dim3 grid, Dim3 block, size_t shared, size_t bytes) {
    Status st = m->launch(grid, block, shared, &params, bytes, {});
    EXPECT_FALSE(st.ok());
    return st.message();
  };
  EXPECT_NE(message({0, 1, 1}, {32}, 0, sizeof params).find("grid (0,1,1)"),
            std::string::npos);
  EXPECT_NE(message({1}, {2048}, 0, sizeof params).find("2048 threads"),
            std::string::npos);
  EXPECT_NE(message({1}, {32}, 1 << 20, sizeof params).find("1048576 bytes"),
            std::string::npos);
  std::string size = message({1}, {32}, 0, sizeof params - 8);
  EXPECT_NE(size.find(std::to_string(sizeof params - 8)), std::string::npos)
      << size;
  EXPECT_NE(size.find(std::to_string(m->paramBytes())), std::string::npos)
      << size;
  EXPECT_EQ(m->paramBytes(), sizeof params);
}

TEST(SimtLaunch, CompileErrorsComeBackWithTheCompilersOutput) {
  ATTNC_SKIP_WITHOUT_HOST_COMPILER();
  auto bad = Module::compile(
      "#include \"attnc_target.cuh\"\n#define KERNEL_NAME k\n"
      "struct Params { int x; };\n"
      "extern \"C\" __global__ void k(Params p) { undeclared_thing(p); }\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("undeclared_thing"), std::string::npos)
      << bad.status().message();
  auto noPrelude = Module::compile("int main() {}");
  ASSERT_FALSE(noPrelude.ok());
  EXPECT_NE(noPrelude.status().message().find("attnc_target.cuh"),
            std::string::npos);
  CompileOptions badName;
  badName.fileName = "../escape.cu";
  auto escaped = Module::compile(kProbeKernel, badName);
  ASSERT_FALSE(escaped.ok());
  EXPECT_NE(escaped.status().message().find("'../escape.cu'"),
            std::string::npos);
}

TEST(SimtLaunch, AMissingCompilerIsNamed) {
  CompileOptions options;
  options.compiler = "/nonexistent/attnc-test-cxx";
  Status st = hostCompilerAvailable(options);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/nonexistent/attnc-test-cxx"), std::string::npos)
      << st.message();
  auto m = Module::compile(kProbeKernel, options);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("ATTNC_SIMT_CXX"), std::string::npos)
      << m.status().message();
}

TEST(SimtLaunch, GuardZonesSeeWritesOutsideTheBuffer) {
  auto b = GuardedBuffer::allocate("t", 100);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->checkGuards().ok());
  static_cast<unsigned char *>(b->data())[99] = 1; // inside
  EXPECT_TRUE(b->checkGuards().ok());
  static_cast<unsigned char *>(b->data())[100] = 1; // alignment slack counts
  static_cast<unsigned char *>(b->data())[-3] = 1;
  Status st = b->checkGuards();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("2 guard bytes changed, at offsets -3 to 100"),
            std::string::npos)
      << st.message();
}

} // namespace
