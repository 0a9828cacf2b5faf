// attnc_target.cuh for the host: the SIMT emulator's target prelude.
//
// The GPU version (compiler/Target/CUDA/GpuTarget.cuh) defines the PTX
// primitives with inline assembly for NVRTC. This file defines the same
// names, plus the CUDA keywords and built-ins the kernels use, for a host
// C++17 compiler, so that the very same kernel text compiles into a shared
// object that the emulator (runtime/cuda/simt/Module.cpp) loads and runs,
// one fiber per CUDA thread.
//
// Everything that depends on the running thread or touches memory shared
// with other threads goes through the table in attnc_simt_abi.h, which the
// emulator binds after loading: threadIdx and friends, __syncthreads, the
// warp collectives (__shfl_xor_sync, ldmatrix, mma.sync) and every global
// and shared memory access the kernels make (cp.async, ldmatrix,
// store_global). The emulator implements each one as the PTX ISA manual
// specifies it (runtime/cuda/simt/Warp.cpp cites the sections) and checks
// it (races, bounds, uninitialised and stale reads).
//
// Each primitive is a macro that records __FILE__ and __LINE__ of its use,
// so a report names the line of the kernel text. That is why this file
// defines the primitives as members of attnc_simt::Site and maps each name
// to `Site{__FILE__, __LINE__}.name` at the end.
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "attnc_simt_abi.h"
#include "attnc_simt_half.h"

#define ATTNC_SIMT_EXPORT extern "C" __attribute__((visibility("default")))

// ---- Keywords -----------------------------------------------------------
#define __device__
#define __host__
#define __global__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __restrict__ __restrict
// A GNU attribute, unlike alignas, may stand among the decl-specifiers,
// where CUDA code puts __align__.
#define __align__(n) __attribute__((aligned(n)))
// The emulator runs one CTA at a time on each OS thread, all of its fibers
// on that thread: thread storage is exactly CTA-shared storage.
#define __shared__ thread_local

// The dynamic shared memory of the CTA running on this OS thread. A kernel
// declares `extern __shared__ __align__(16) unsigned char smem_raw[];` at
// block scope, which names this same variable. The emulator checks every
// access against the launch's dynamic shared size.
extern "C" {
// clang-format off
__attribute__((aligned(16))) thread_local unsigned char smem_raw[ATTNC_SIMT_SHARED_CAPACITY];
// clang-format on
}

namespace attnc_simt {
/// Set by attnc_simt_bind before any kernel runs.
inline const attnc_simt_abi *rt = nullptr;
} // namespace attnc_simt

ATTNC_SIMT_EXPORT int attnc_simt_bind(const attnc_simt_abi *abi) {
  attnc_simt::rt = abi;
  return ATTNC_SIMT_ABI_VERSION;
}
ATTNC_SIMT_EXPORT unsigned char *attnc_simt_shared(void) { return smem_raw; }

// ---- Built-in variables -------------------------------------------------
typedef attnc_simt_dim3 uint3;
#define threadIdx (::attnc_simt::rt->builtins()->thread_idx)
#define blockIdx (::attnc_simt::rt->builtins()->block_idx)
#define blockDim (::attnc_simt::rt->builtins()->block_dim)
#define gridDim (::attnc_simt::rt->builtins()->grid_dim)
#define warpSize 32

// ---- Vector types and bit casts -----------------------------------------
struct float2 {
  float x, y;
};
struct float4 {
  float x, y, z, w;
};
struct int2 {
  int x, y;
};
struct uint2 {
  unsigned x, y;
};
struct uint4 {
  unsigned x, y, z, w;
};
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) {
  return {x, y, z, w};
}

inline float __int_as_float(int i) {
  float f;
  memcpy(&f, &i, 4);
  return f;
}
inline int __float_as_int(float f) {
  int i;
  memcpy(&i, &f, 4);
  return i;
}
inline float __uint_as_float(unsigned u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
inline unsigned __float_as_uint(float f) {
  unsigned u;
  memcpy(&u, &f, 4);
  return u;
}

// ---- Math (CUDA's overloads that the C library lacks) -------------------
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
// The fast intrinsics: the host's accurate versions (results may differ
// from a GPU's in the last bits).
inline float __expf(float x) { return expf(x); }
inline float __exp2f(float x) { return exp2f(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.f / sqrtf(x); }

// ---- 16-bit float types (cuda_fp16.h, cuda_bf16.h) ----------------------
// Storage types: the kernels move them around and convert them; arithmetic
// on them goes through float.
struct __half {
  unsigned short __x;
  __half() = default;
  __half(float f) : __x(attnc_simt::floatToHalfBits(f)) {}
  operator float() const { return attnc_simt::halfBitsToFloat(__x); }
};
struct __half2 {
  __half x, y; // x in the low 16 bits, as on the GPU
};
struct __nv_bfloat16 {
  unsigned short __x;
  __nv_bfloat16() = default;
  __nv_bfloat16(float f) : __x(attnc_simt::floatToBfloat16Bits(f)) {}
  operator float() const { return attnc_simt::bfloat16BitsToFloat(__x); }
};
struct __nv_bfloat162 {
  __nv_bfloat16 x, y;
};
static_assert(sizeof(__half) == 2 && sizeof(__half2) == 4, "16-bit storage");
static_assert(sizeof(__nv_bfloat16) == 2 && sizeof(__nv_bfloat162) == 4,
              "16-bit storage");

inline __half __float2half(float f) { return __half(f); }
inline __half __float2half_rn(float f) { return __half(f); }
inline float __half2float(__half h) { return float(h); }
inline __half2 __floats2half2_rn(float lo, float hi) {
  return {__half(lo), __half(hi)};
}
inline __half2 __float22half2_rn(float2 v) {
  return {__half(v.x), __half(v.y)};
}
inline float2 __half22float2(__half2 v) { return {float(v.x), float(v.y)}; }
inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 h) { return float(h); }
inline __nv_bfloat162 __floats2bfloat162_rn(float lo, float hi) {
  return {__nv_bfloat16(lo), __nv_bfloat16(hi)};
}
inline __nv_bfloat162 __float22bfloat162_rn(float2 v) {
  return {__nv_bfloat16(v.x), __nv_bfloat16(v.y)};
}
inline float2 __bfloat1622float2(__nv_bfloat162 v) {
  return {float(v.x), float(v.y)};
}

// ---- The target prelude's names (as in GpuTarget.cuh) -------------------
#define NEG_INF (-__int_as_float(0x7f800000))

/// The shared-window address of `p`: its offset in this CTA's dynamic
/// shared memory (the emulator has no other shared memory to address).
inline unsigned smem_addr(const void *p) {
  return static_cast<unsigned>(static_cast<const unsigned char *>(p) -
                               smem_raw);
}
inline size_t __cvta_generic_to_shared(const void *p) { return smem_addr(p); }

namespace attnc_simt {

template <typename T> struct MmaElement;
template <> struct MmaElement<__half> { static constexpr int bf16 = 0; };
template <> struct MmaElement<__nv_bfloat16> { static constexpr int bf16 = 1; };

/// A use of a primitive in the kernel text: the macros below construct one
/// with __FILE__ and __LINE__ and call the primitive on it.
struct Site {
  const char *file;
  int line;

  void syncthreads() const { rt->syncthreads(file, line); }
  void syncwarp(unsigned mask = 0xffffffffu) const {
    rt->syncwarp(mask, file, line);
  }

  /// cp.async.cg.shared.global [dst], [src], 16, (valid ? 16 : 0): copies
  /// 16 bytes, or writes 16 zero bytes and reads nothing when !valid
  /// (src-size 0: PTX ISA, "Data Movement and Conversion Instructions:
  /// cp.async"). The bytes land in shared memory at the cp_async_wait that
  /// completes the copy's group, not before.
  void cp_async16(void *dst, const void *src, bool valid) const {
    rt->cp_async16(dst, src, valid ? 1 : 0, file, line);
  }
  /// cp.async.commit_group: this thread's uncommitted copies become a group
  /// (an empty one if there are none).
  void cp_async_commit() const { rt->cp_async_commit(file, line); }
  /// cp.async.wait_group N: all but the N most recent of this thread's
  /// groups complete (PTX ISA, "cp.async.wait_group / cp.async.wait_all").
  template <int N> void cp_async_wait() const {
    static_assert(N >= 0, "cp.async.wait_group takes a non-negative count");
    rt->cp_async_wait(N, file, line);
  }

  /// ldmatrix.sync.aligned.m8n8.x4.shared.b16: `p` is this lane's row
  /// address; lanes 8j..8j+7 address matrix j's rows and register j gets
  /// matrix j's fragment (PTX ISA, "Warp-level matrix load instruction:
  /// ldmatrix"). Warp-collective.
  void ldmatrix_x4(unsigned (&r)[4], const void *p) const {
    rt->ldmatrix_x4(r, p, 0, file, line);
  }
  /// The same with .trans.
  void ldmatrix_x4_trans(unsigned (&r)[4], const void *p) const {
    rt->ldmatrix_x4(r, p, 1, file, line);
  }

  /// *p = value for a global address (the one way kernels write global memory).
  template <typename V> void store_global(V *p, V value) const {
    rt->store_global(p, &value, sizeof(V), file, line);
  }
  /// *p for a global address (the declared inputs that mask and score
  /// functions read).
  template <typename V> V load_global(const V *p) const {
    V value{};
    rt->load_global(&value, p, sizeof(V), file, line);
    return value;
  }

  /// c += a * b for one m16n8k16 tile: mma.sync.aligned.m16n8k16.row.col
  /// .f32.T.T.f32 with T = __half or __nv_bfloat16, fragments as in PTX ISA
  /// "Matrix Fragments for mma.m16n8k16 with floating point type" (Figure
  /// 79 for A in PTX ISA 9.x). Warp-collective.
  template <typename T>
  void mma16816(float (&c)[4], const unsigned (&a)[4], unsigned b0,
                unsigned b1) const {
    rt->mma16816(c, a, b0, b1, MmaElement<T>::bf16, file, line);
  }

  template <typename V>
  V shfl_xor_sync(unsigned mask, V var, int laneMask,
                  int width = warpSize) const {
    static_assert(sizeof(V) <= 8, "__shfl_xor_sync moves at most 8 bytes");
    rt->shfl_xor(&var, sizeof(V), mask, laneMask, width, file, line);
    return var;
  }
};

} // namespace attnc_simt

#define ATTNC_SIMT_SITE (::attnc_simt::Site{__FILE__, __LINE__})
#define __syncthreads() ATTNC_SIMT_SITE.syncthreads()
#define __syncwarp ATTNC_SIMT_SITE.syncwarp
#define __shfl_xor_sync ATTNC_SIMT_SITE.shfl_xor_sync
#define cp_async16 ATTNC_SIMT_SITE.cp_async16
#define cp_async_commit ATTNC_SIMT_SITE.cp_async_commit
#define cp_async_wait ATTNC_SIMT_SITE.cp_async_wait
#define ldmatrix_x4 ATTNC_SIMT_SITE.ldmatrix_x4
#define ldmatrix_x4_trans ATTNC_SIMT_SITE.ldmatrix_x4_trans
#define store_global ATTNC_SIMT_SITE.store_global
#define load_global ATTNC_SIMT_SITE.load_global
// offsetof as a constant expression (the GPU prelude's NVRTC form differs).
#define ATTNC_OFFSETOF(T, m) __builtin_offsetof(T, m)
#define mma16816 ATTNC_SIMT_SITE.mma16816
