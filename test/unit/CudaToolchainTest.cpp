// The CUDA toolchain pieces that work without a GPU: NVRTC (loaded with
// dlopen) compiling tensor-core CUDA C++ for sm_80 and sm_90 with the ptxas
// report parsed, and the driver loader's error where no GPU exists.
#include "runtime/cuda/Driver.h"
#include "runtime/cuda/Nvrtc.h"

#include <gtest/gtest.h>

using namespace attnc::cuda;

namespace {

// fp16 loads, an mma.sync m16n8k16 through inline PTX, f32 accumulation.
const char *kMmaKernel = R"(
#include <cuda_fp16.h>
extern "C" __global__ void mma_tile(const __half *a, const __half *b, float *c) {
  unsigned lane = threadIdx.x % 32;
  const unsigned *a32 = reinterpret_cast<const unsigned *>(a);
  const unsigned *b32 = reinterpret_cast<const unsigned *>(b);
  unsigned a0 = a32[lane * 4], a1 = a32[lane * 4 + 1], a2 = a32[lane * 4 + 2],
           a3 = a32[lane * 4 + 3], b0 = b32[lane * 2], b1 = b32[lane * 2 + 1];
  float d0 = 0, d1 = 0, d2 = 0, d3 = 0;
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
      "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  c[lane * 4] = d0; c[lane * 4 + 1] = d1; c[lane * 4 + 2] = d2; c[lane * 4 + 3] = d3;
}
)";

TEST(Ptxas, ReportIsParsed) {
  PtxasReport r = parsePtxasReport(
      "ptxas info    : Function properties for k\n"
      "    8 bytes stack frame, 4 bytes spill stores, 12 bytes spill loads\n"
      "ptxas info    : Used 168 registers, used 1 barriers, 384 bytes cmem[0], "
      "49152 bytes smem\n");
  EXPECT_TRUE(r.found);
  EXPECT_EQ(r.registers, 168);
  EXPECT_EQ(r.spillStoreBytes, 4);
  EXPECT_EQ(r.spillLoadBytes, 12);
  EXPECT_EQ(r.sharedBytes, 49152);
  EXPECT_FALSE(parsePtxasReport("no report here").found);
}

TEST(Nvrtc, CompilesTensorCoreCodeForSm80AndSm90) {
  auto nvrtc = Nvrtc::get();
  if (!nvrtc.ok())
    GTEST_SKIP() << "skipped: " << nvrtc.status().message();
  EXPECT_GE((*nvrtc)->majorVersion(), 12);
  ASSERT_FALSE((*nvrtc)->includeDir().empty()) << "no cuda_fp16.h found";
  for (const char *arch : {"sm_80", "sm_90"}) {
    auto out = (*nvrtc)->compile(kMmaKernel, "mma_tile.cu", {arch, {}});
    ASSERT_TRUE(out.ok()) << arch << ": " << out.status().message();
    EXPECT_EQ(out->cubin.substr(0, 4), "\x7f" "ELF") << arch;
    EXPECT_NE(out->ptx.find("mma.sync.aligned.m16n8k16"), std::string::npos);
    EXPECT_NE(out->ptx.find(std::string(".target ") + arch), std::string::npos);
    ASSERT_TRUE(out->ptxas.found) << out->log;
    EXPECT_GT(out->ptxas.registers, 0);
    EXPECT_EQ(out->ptxas.spillStoreBytes, 0);
    EXPECT_EQ(out->ptxas.spillLoadBytes, 0);
  }
}

TEST(Nvrtc, CompileErrorsCarryTheProgramLog) {
  auto nvrtc = Nvrtc::get();
  if (!nvrtc.ok())
    GTEST_SKIP() << "skipped: " << nvrtc.status().message();
  auto out = (*nvrtc)->compile("__global__ void k() { undeclared_thing(); }",
                               "broken.cu", {"sm_90", {}});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("NVRTC could not compile broken.cu for sm_90"),
            std::string::npos);
  EXPECT_NE(out.status().message().find("undeclared_thing"), std::string::npos)
      << out.status().message();
}

TEST(Driver, ReportsDevicesOrExplainsTheirAbsence) {
  auto driver = Driver::get();
  if (driver.ok()) {
    ASSERT_FALSE((*driver)->devices().empty());
    for (const Device &d : (*driver)->devices())
      std::printf("GPU %d: %s (%s)\n", d.ordinal, d.name.c_str(), d.arch().c_str());
  } else {
    std::string m = driver.status().message();
    EXPECT_TRUE(m.find("no CUDA driver: libcuda.so.1 was not found") == 0 ||
                m.find("cuInit failed") == 0)
        << m;
    std::printf("no GPU here: %s\n", m.c_str());
  }
}

} // namespace
