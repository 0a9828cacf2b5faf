// attnc-isa-bench: how fast this core issues the instructions a CPU
// attention kernel could be built from, each as a register-only loop of 24
// independent accumulators (no memory traffic, no dependency stalls):
//   vfmadd231ps zmm   f32 FMA: 16 multiply-adds
//   vdpbf16ps zmm     AVX512_BF16 dot product: 32 bf16 multiply-adds into
//                     16 f32 sums
//   vcvtph2ps zmm     16 f16 -> f32 conversions
// It prints rates and the multiply-add ratio of vdpbf16ps to vfmadd231ps,
// which decides whether bf16 dot products can speed prefill up on this host
// (docs/perf.md, "bf16 dot products"). x86-64 only; an instruction the host
// lacks is reported as such and not run.
#include <chrono>
#include <cstdio>

namespace {

[[maybe_unused]] double seconds(void (*loop)(long), long n) {
  auto start = std::chrono::steady_clock::now();
  loop(n);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

#if defined(__x86_64__)
#define ATTNC_R24(op)                                                          \
  op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7) op(8) op(9) op(10) op(11)    \
      op(12) op(13) op(14) op(15) op(16) op(17) op(18) op(19) op(20) op(21)    \
          op(22) op(23)
#define ATTNC_FMA(i) "vfmadd231ps %%zmm30, %%zmm31, %%zmm" #i "\n\t"
#define ATTNC_DP(i) "vdpbf16ps %%zmm30, %%zmm31, %%zmm" #i "\n\t"
#define ATTNC_CVT(i) "vcvtph2ps %%ymm30, %%zmm" #i "\n\t"
// Zeroes (AVX512F's EVEX vpxord, not vxorps: that needs AVX512DQ for
// zmm16-31) the accumulators and the operands.
#define ATTNC_ZERO(i) "vpxord %%zmm" #i ", %%zmm" #i ", %%zmm" #i "\n\t"
#define ATTNC_PROLOGUE                                                         \
  ATTNC_R24(ATTNC_ZERO) ATTNC_ZERO(30) ATTNC_ZERO(31) "mov %0, %%rcx\n1:\n\t"
#define ATTNC_EPILOGUE "dec %%rcx\n\tjnz 1b\n\tvzeroupper"
#define ATTNC_CLOBBERS                                                         \
  "cc", "rcx", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",       \
      "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",    \
      "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",  \
      "xmm30", "xmm31"
constexpr int kPerIteration = 24;

__attribute__((target("avx512f"))) void fmaLoop(long n) {
  asm volatile(ATTNC_PROLOGUE ATTNC_R24(ATTNC_FMA) ATTNC_EPILOGUE
               :
               : "r"(n)
               : ATTNC_CLOBBERS);
}
__attribute__((target("avx512f,avx512bf16"))) void dpLoop(long n) {
  asm volatile(ATTNC_PROLOGUE ATTNC_R24(ATTNC_DP) ATTNC_EPILOGUE
               :
               : "r"(n)
               : ATTNC_CLOBBERS);
}
__attribute__((target("avx512f"))) void cvtLoop(long n) {
  asm volatile(ATTNC_PROLOGUE ATTNC_R24(ATTNC_CVT) ATTNC_EPILOGUE
               :
               : "r"(n)
               : ATTNC_CLOBBERS);
}
#endif

} // namespace

int main() {
#if !defined(__x86_64__)
  std::printf("attnc-isa-bench: x86-64 only\n");
  return 0;
#else
  if (!__builtin_cpu_supports("avx512f")) {
    std::printf("attnc-isa-bench: this host has no AVX-512; nothing to measure\n");
    return 0;
  }
  const bool bf16 = __builtin_cpu_supports("avx512bf16");
  const long n = 50'000'000; // iterations of 24 instructions
  std::printf("attnc-isa-bench: instructions issued per second on one core, "
              "24 independent accumulators, median of 5 (interleaved)\n");
  double fma[5], dp[5], cvt[5];
  for (int r = 0; r < 5; ++r) {
    fma[r] = seconds(fmaLoop, n);
    dp[r] = bf16 ? seconds(dpLoop, n) : 0;
    cvt[r] = seconds(cvtLoop, n);
  }
  auto median = [](double *t) {
    for (int i = 0; i < 5; ++i)
      for (int j = i + 1; j < 5; ++j)
        if (t[j] < t[i]) {
          double x = t[i];
          t[i] = t[j];
          t[j] = x;
        }
    return t[2];
  };
  const double count = double(n) * kPerIteration;
  const double fmaRate = count / median(fma), cvtRate = count / median(cvt);
  std::printf("  vfmadd231ps zmm   %6.2f G/s   %6.1f GFLOP/s f32\n",
              fmaRate / 1e9, fmaRate * 32 / 1e9);
  if (bf16) {
    const double dpRate = count / median(dp);
    std::printf("  vdpbf16ps zmm     %6.2f G/s   %6.1f GFLOP/s bf16\n",
                dpRate / 1e9, dpRate * 64 / 1e9);
    std::printf("  multiply-adds of vdpbf16ps over vfmadd231ps: %.2fx\n",
                2 * dpRate / fmaRate);
  } else {
    std::printf("  vdpbf16ps zmm     not on this host (no AVX512_BF16)\n");
  }
  std::printf("  vcvtph2ps zmm     %6.2f G/s   (16 f16 -> f32 each)\n",
              cvtRate / 1e9);
  return 0;
#endif
}
