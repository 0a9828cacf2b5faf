// The calling convention between a kernel built for the host (the kernel
// text + attnc_target.cuh, compiled into a shared object) and the SIMT
// emulator that loads it (runtime/cuda/simt/Module.cpp).
//
// The shared object knows nothing of fibers, shadow memory or reports: every
// built-in that depends on the running thread, and every primitive that
// touches memory or other lanes, is a call through the table below, which
// the emulator hands to `attnc_simt_bind` once after dlopen. Plain C, so that
// any host C++ compiler builds the kernel side against it; the emulator
// includes this same file, so the two sides cannot drift apart.
#ifndef ATTNC_SIMT_ABI_H
#define ATTNC_SIMT_ABI_H

/// Bumped whenever the table's layout or meaning changes; the emulator
/// refuses a shared object built against another version.
#define ATTNC_SIMT_ABI_VERSION 2

/// Bytes of dynamic shared memory each OS thread of the emulator provides
/// (the kernel side allocates it, see attnc_target.cuh): more than any
/// NVIDIA GPU lets one CTA opt in to (227 KiB on sm_90).
#define ATTNC_SIMT_SHARED_CAPACITY (256u * 1024u)

#ifdef __cplusplus
extern "C" {
#endif

typedef struct attnc_simt_dim3 {
  unsigned x, y, z;
} attnc_simt_dim3;

/// The built-ins of the thread (fiber) that is running.
typedef struct attnc_simt_builtins {
  attnc_simt_dim3 thread_idx, block_idx, block_dim, grid_dim;
} attnc_simt_builtins;

/// Every call names its source location (file, line) so that a report can
/// point at the kernel text.
typedef struct attnc_simt_abi {
  int version; /* ATTNC_SIMT_ABI_VERSION */
  const attnc_simt_builtins *(*builtins)(void);
  /* __syncthreads(): a CTA-wide barrier. */
  void (*syncthreads)(const char *file, int line);
  /* cp.async.cg.shared.global, 16 bytes; !valid: zero-fill, no read. */
  void (*cp_async16)(void *dst, const void *src, int valid, const char *file,
                     int line);
  void (*cp_async_commit)(const char *file, int line);
  /* cp.async.wait_group n. */
  void (*cp_async_wait)(int n, const char *file, int line);
  /* ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16 (warp-collective). */
  void (*ldmatrix_x4)(unsigned r[4], const void *row, int trans,
                      const char *file, int line);
  /* *p = value, `bytes` wide, p in global memory. */
  void (*store_global)(void *p, const void *value, unsigned bytes,
                       const char *file, int line);
  /* mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32,
     d = c in place (warp-collective). */
  void (*mma16816)(float c[4], const unsigned a[4], unsigned b0, unsigned b1,
                   int bf16, const char *file, int line);
  /* __shfl_xor_sync on a value of `bytes` (<= 8) bytes, in place
     (warp-collective). */
  void (*shfl_xor)(void *value, unsigned bytes, unsigned mask, int lane_mask,
                   int width, const char *file, int line);
  /* __syncwarp(mask) (warp-collective). */
  void (*syncwarp)(unsigned mask, const char *file, int line);
  /* *out = *p, `bytes` wide, p in global memory (declared inputs). */
  void (*load_global)(void *out, const void *p, unsigned bytes,
                      const char *file, int line);
} attnc_simt_abi;

#ifdef __cplusplus
}
#endif

#endif
