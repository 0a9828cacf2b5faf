// attnc_target.cuh for NVRTC: the CUDA target prelude of attnc's kernels.
//
// A generated kernel's text starts with `#include "attnc_target.cuh"` and
// uses nothing target-specific beyond what this prelude and the CUDA
// built-ins provide. Every piece of inline PTX lives here, behind a named
// device function, so the same kernel text also builds for the host
// against the SIMT emulator's prelude, which defines the same names.
//
// Provided: __half / __nv_bfloat16 (cuda_fp16.h, cuda_bf16.h), NEG_INF,
// smem_addr, cp_async16, cp_async_commit, cp_async_wait<N>, ldmatrix_x4,
// ldmatrix_x4_trans, store_global, load_global, ATTNC_OFFSETOF, mma16816<T>
// (T = __half or __nv_bfloat16).
#pragma once
#include <cuda_fp16.h>
#include <cuda_bf16.h>

// NVRTC has no math.h: -inf from its bit pattern.
#define NEG_INF (-__int_as_float(0x7f800000))

__device__ __forceinline__ unsigned smem_addr(const void *p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

/// Copies 16 bytes from global `src` to shared `dst` asynchronously; with
/// `valid` false it writes 16 zero bytes and reads nothing.
__device__ __forceinline__ void cp_async16(void *dst, const void *src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)),
               "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
/// Waits until at most N of this thread's committed groups are pending.
template <int N> __device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const void *p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], const void *p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

/// *p = value for a global address (the one way kernels write global memory).
template <typename V> __device__ __forceinline__ void store_global(V *p, V value) { *p = value; }
/// *p for a global address that cp_async16 does not read: the declared
/// inputs that mask and score functions load (read-only for the kernel).
template <typename V> __device__ __forceinline__ V load_global(const V *p) { return __ldg(p); }

/// offsetof as a constant expression. NVRTC before 13.4 has no
/// __builtin_offsetof; its front end folds __INTADDR__ instead.
#define ATTNC_OFFSETOF(T, m) ((unsigned long long)__INTADDR__(&(((T *)0)->m)))

/// c += a * b for one m16n8k16 tile: a, b of element type T (two per
/// register), c in f32.
template <typename T>
__device__ __forceinline__ void mma16816(float (&c)[4], const unsigned (&a)[4],
                                         unsigned b0, unsigned b1);
template <>
__device__ __forceinline__ void mma16816<__half>(float (&c)[4], const unsigned (&a)[4],
                                                 unsigned b0, unsigned b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32"
               " {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float (&c)[4],
                                                        const unsigned (&a)[4],
                                                        unsigned b0, unsigned b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"
               " {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
