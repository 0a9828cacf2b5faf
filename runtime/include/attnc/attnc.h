/* attnc: the attention kernel compiler, as a C library.
 *
 * Describe a kernel (attnc_spec, or attn dialect text), create a handle,
 * compile it (a JIT for this CPU, through attnc's kernel cache), run it on
 * your buffers as many times as you like with any batch and sequence
 * lengths, destroy it. Every call returns a status; on failure
 * attnc_last_error() gives the message for the calling thread.
 *
 * Tensors are views in the logical order [batch, heads, seq, dim] with
 * strides in elements (dim stride 1) and an element type; BSHD and BHSD
 * buffers differ only in their strides (see attnc_tensor_dense). On the CPU
 * target they are host memory of the kernel's element types: q and o of
 * `dtype`, k and v of `kv_dtype` (f32, or 16-bit f16/bf16 bit patterns),
 * with f32 accumulation. On the CUDA target (f16/bf16
 * kernels) `data` is a device address (a CUdeviceptr cast to void *) of
 * 16-bit elements, 16-byte aligned, with batch, head and seq strides
 * multiples of 8; LSE stays float32 on the device.
 *
 * 0.2.3 adds, compatibly, attnc_kernel_run_probs, attnc_tensor_probs and
 * attnc_merge on ATTNC_TARGET_CUDA.
 * ABI 2 (libattnc.so.2): attnc_spec gained `kv_dtype` (its size changed);
 * the CPU target takes f16 and bf16 tensors. 0.2.1 adds, compatibly, the
 * VARLEN and PAGED layouts, attnc_sequences, attnc_kernel_run_sequences,
 * attnc_tensor_pages and attnc_block_table_from_csr.
 * ABI 1 (libattnc.so.1): attnc_tensor gained `dtype` and its `data` became
 * void *; attnc_tensor_dense takes the element type.
 */
#ifndef ATTNC_ATTNC_H
#define ATTNC_ATTNC_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ATTNC_API __attribute__((visibility("default")))
#else
#define ATTNC_API
#endif

typedef enum attnc_status {
  ATTNC_OK = 0,
  ATTNC_ERROR_INVALID_ARGUMENT = 1, /* a null pointer, a bad value or shape */
  ATTNC_ERROR_INVALID_SPEC = 2,     /* the spec breaks a rule of the dialect */
  ATTNC_ERROR_UNSUPPORTED = 3,      /* valid, but not on this target (yet) */
  ATTNC_ERROR_INTERNAL = 4,
  ATTNC_ERROR_NO_DEVICE = 5         /* CUDA target: no driver or no such GPU */
} attnc_status;

/* ATTNC_TARGET_CUDA_SIM runs the CUDA target's kernel text on the CPU under
 * attnc's SIMT emulator (a host C++ compiler is needed: $ATTNC_SIMT_CXX,
 * else c++), with race, bounds and stale-read checks: tensors are host
 * memory laid out as for the CUDA target. For testing without a GPU; its
 * speed is not a GPU's. */
typedef enum attnc_target {
  ATTNC_TARGET_CPU = 0,
  ATTNC_TARGET_CUDA = 1,
  ATTNC_TARGET_CUDA_SIM = 2
} attnc_target;
typedef enum attnc_mask {
  ATTNC_MASK_NONE = 0,
  ATTNC_MASK_CAUSAL = 1,
  ATTNC_MASK_SLIDING_WINDOW = 2
} attnc_mask;
typedef enum attnc_alignment {
  ATTNC_ALIGN_UNSET = 0,
  ATTNC_ALIGN_TOP_LEFT = 1,
  ATTNC_ALIGN_BOTTOM_RIGHT = 2
} attnc_alignment;
/* VARLEN and PAGED kernels take their sequences from attnc_sequences
 * (attnc_kernel_run_sequences; docs/serving.md). */
typedef enum attnc_layout {
  ATTNC_LAYOUT_BSHD = 0,
  ATTNC_LAYOUT_BHSD = 1,
  ATTNC_LAYOUT_VARLEN = 2,
  ATTNC_LAYOUT_PAGED = 3
} attnc_layout;
/* Element type of q, k, v and o (f32, f16 or bf16 on the CPU, f16 or bf16
 * on CUDA), and of declared inputs (f32 or i32). */
typedef enum attnc_dtype {
  ATTNC_DTYPE_F32 = 0,
  ATTNC_DTYPE_F16 = 1,
  ATTNC_DTYPE_BF16 = 2,
  ATTNC_DTYPE_I32 = 3
} attnc_dtype;

/* One attention kernel. Zero means "default"; see docs/dialect.md. */
typedef struct attnc_spec {
  const char *name;         /* NULL: "attention" */
  int64_t q_heads, kv_heads; /* kv_heads 0: q_heads */
  int64_t d_qk, d_v;        /* d_v 0: d_qk */
  double scale;             /* 0: 1/sqrt(d_qk) */
  double softcap;           /* 0: off */
  attnc_mask mask;
  attnc_alignment alignment; /* required for causal and sliding window */
  int64_t window_left, window_right;
  attnc_layout layout;
  int decode; /* nonzero: few query rows per call */
  int lse;    /* nonzero: also write the log-sum-exp per row */
  attnc_dtype dtype; /* q and o; 0: f32 */
  int alibi;         /* nonzero: ALiBi with BLOOM/MPT slopes */
  attnc_dtype kv_dtype; /* k and v; 0 (F32): the same as dtype. An f32
                           kernel may read an f16 or bf16 KV cache. */
} attnc_spec;

/* A view: data, element type, sizes and strides in [batch, heads, seq,
 * dim]. */
typedef struct attnc_tensor {
  void *data;
  attnc_dtype dtype;
  int64_t sizes[4];
  int64_t strides[4];
} attnc_tensor;

/* A tensor or scalar bound to one of the kernel's declared inputs
 * (#attn.input in its attn dialect text): name, data, element type, and
 * `rank` (0..4) sizes and strides in elements. */
typedef struct attnc_input {
  const char *name;
  const void *data;
  attnc_dtype dtype;
  int64_t rank;
  int64_t sizes[4];
  int64_t strides[4];
} attnc_input;

/* The block mask of a block-sparse kernel (#attn.block_sparse), in
 * FlexAttention's form: for each (b, h, query block), the number of partial
 * kv blocks (the kernel's mask is evaluated there) and of full ones (every
 * pair visible), and their kv-block indices; other blocks are skipped.
 * C-order int32 arrays [batch][heads][q_blocks] and
 * [batch][heads][q_blocks][kv_blocks]; batch and heads may be 1
 * (broadcast). q_blocks = ceil(seq_q / block_q), kv_blocks = ceil(seq_kv /
 * block_kv). Build one with attnc_block_mask_build, or fill your own. */
typedef struct attnc_block_mask_view {
  const int32_t *kv_num_blocks, *kv_indices;
  const int32_t *full_kv_num_blocks, *full_kv_indices;
  int64_t batch, heads, q_blocks, kv_blocks;
} attnc_block_mask_view;

/* Everything one call takes. lse, inputs and block_mask may be NULL when
 * the kernel has no LSE, declares no inputs or is not block-sparse. */
typedef struct attnc_run_args {
  const attnc_tensor *q, *k, *v, *o, *lse;
  const struct attnc_input *inputs;
  int64_t num_inputs;
  const attnc_block_mask_view *block_mask;
  int threads;  /* CPU and CUDA_SIM: 0 uses every core; CUDA: 0 */
  void *stream; /* CUDA: a CUstream (NULL: the default stream) */
} attnc_run_args;

/* The sequences of a call to a VARLEN or PAGED kernel (docs/serving.md),
 * in FlashAttention's and FlashInfer's conventions; contiguous int32
 * arrays, NULL where not used. `batch` sequences:
 *  - VARLEN: q, o [1, q_heads, total_q, d] and k, v [1, kv_heads, total_k,
 *    d] (attnc_tensor_dense with batch 1, BSHD: packed token-major);
 *    cu_seqlens_q and cu_seqlens_k [batch + 1], from 0, never decreasing.
 *  - PAGED: k and v are page pools (attnc_tensor_pages); either
 *    block_table [batch][max_pages] with cache_seqlens [batch]
 *    (FlashAttention), or kv_indptr [batch + 1], kv_indices
 *    [num_kv_indices] and kv_last_page_len [batch] (FlashInfer). Queries
 *    dense [batch, q_heads, seq_q, d], or packed when cu_seqlens_q is
 *    given.
 *  - k_new and v_new (PAGED, optional, both or neither, of kv_dtype) are
 *    appended to the cache before attending, as flash_attn_with_kvcache
 *    does: dense [batch, kv_heads, seq_new, d], or packed like q ([1,
 *    kv_heads, total_q, d], one new key per query) with cu_seqlens_q.
 *    With block_table, cache_seqlens counts the keys before the call (the
 *    new ones go after them); with kv_indptr, kv_last_page_len already
 *    counts them (they are the last ones). A page that takes new keys must
 *    belong to one sequence; k_new and v_new must not overlap the pools.
 * Start from attnc_sequences_init(), which sets struct_size (later
 * versions may add fields at the end). */
typedef struct attnc_sequences {
  int64_t struct_size; /* sizeof(attnc_sequences) */
  int64_t batch;
  const int32_t *cu_seqlens_q, *cu_seqlens_k;
  const int32_t *block_table;
  int64_t max_pages;
  const int32_t *cache_seqlens;
  const int32_t *kv_indptr, *kv_indices;
  int64_t num_kv_indices;
  const int32_t *kv_last_page_len;
  const attnc_tensor *k_new, *v_new;
} attnc_sequences;

typedef struct attnc_kernel attnc_kernel;
typedef struct attnc_block_mask attnc_block_mask;

/* A spec with every field at its default. */
ATTNC_API attnc_spec attnc_spec_default(void);

/* A view of a contiguous buffer of `dtype` elements stored in `layout`
 * order. The LSE output is [batch, q_heads, seq_q] float32: use
 * attnc_tensor_lse. */
ATTNC_API attnc_tensor attnc_tensor_dense(void *data, attnc_dtype dtype,
                                          attnc_layout layout, int64_t batch,
                                          int64_t seq, int64_t heads,
                                          int64_t dim);
ATTNC_API attnc_tensor attnc_tensor_lse(float *data, int64_t batch,
                                        int64_t heads, int64_t seq);
/* A dense float32 attention-weights buffer [batch, heads, seq_q, seq_kv]
 * (C order) for attnc_kernel_run_probs. */
ATTNC_API attnc_tensor attnc_tensor_probs(float *data, int64_t batch,
                                          int64_t heads, int64_t seq_q,
                                          int64_t seq_kv);
/* An attnc_sequences with every array NULL and struct_size set. */
ATTNC_API attnc_sequences attnc_sequences_init(void);

/* A page pool stored as [num_pages, page_size, kv_heads, dim] (the NHD
 * paged cache of FlashAttention and FlashInfer), seen as [num_pages,
 * kv_heads, page_size, dim]. */
ATTNC_API attnc_tensor attnc_tensor_pages(void *data, attnc_dtype dtype,
                                          int64_t num_pages, int64_t page_size,
                                          int64_t kv_heads, int64_t dim);
/* Fills block_table [batch][max_pages] (FlashAttention's form) from
 * FlashInfer's kv_indptr [batch + 1] and kv_indices [num_kv_indices];
 * entries past a sequence's pages are set to -1 (never read). Fails,
 * naming the value, if kv_indptr does not start at 0, decreases, passes
 * num_kv_indices, or gives a sequence more than max_pages pages. */
ATTNC_API attnc_status attnc_block_table_from_csr(const int32_t *kv_indptr,
                                                  const int32_t *kv_indices,
                                                  int64_t num_kv_indices,
                                                  int64_t batch,
                                                  int32_t *block_table,
                                                  int64_t max_pages);

/* Creates a handle from a spec or from attn dialect text (one attn.kernel).
 * The spec is checked here, for the target (CUDA: for GPU 0's arch, or
 * sm_90 where there is no GPU); nothing is compiled yet. */
ATTNC_API attnc_status attnc_kernel_create(const attnc_spec *spec,
                                           attnc_target target,
                                           attnc_kernel **out);
ATTNC_API attnc_status attnc_kernel_create_from_mlir(const char *mlir,
                                                     attnc_target target,
                                                     attnc_kernel **out);

/* Compiles the kernel (or loads it from the kernel cache). Optional:
 * attnc_kernel_run compiles on first use. CUDA: NVRTC compiles for GPU 0
 * (ATTNC_ERROR_NO_DEVICE without one); its primary context becomes current
 * on the calling thread. */
ATTNC_API attnc_status attnc_kernel_compile(attnc_kernel *kernel);

/* Runs on caller-owned buffers. `lse` may be NULL unless the spec asked for
 * it; `threads` 0 uses all cores (CPU; must be 0 on CUDA); `stream` is a
 * CUstream for the CUDA target (NULL: the default stream; must be NULL on
 * the CPU). A CUDA launch is asynchronous: synchronise the stream before
 * reading o. ATTNC_TARGET_CUDA_SIM takes `threads` (OS threads running
 * CTAs; 0: one per core) and no stream. A handle may be run from several
 * threads at once once compiled. */
ATTNC_API attnc_status attnc_kernel_run(attnc_kernel *kernel,
                                        const attnc_tensor *q,
                                        const attnc_tensor *k,
                                        const attnc_tensor *v,
                                        const attnc_tensor *o,
                                        const attnc_tensor *lse, int threads,
                                        void *stream);

/* attnc_kernel_run for kernels that declare inputs: `inputs` binds each
 * declared input exactly once, by name (`num_inputs` may be 0 when the
 * kernel declares none). Sizes are checked against the declaration. */
ATTNC_API attnc_status attnc_kernel_run_with_inputs(
    attnc_kernel *kernel, const attnc_tensor *q, const attnc_tensor *k,
    const attnc_tensor *v, const attnc_tensor *o, const attnc_tensor *lse,
    const attnc_input *inputs, int64_t num_inputs, int threads, void *stream);

/* The general form of the two calls above. */
ATTNC_API attnc_status attnc_kernel_run_args(attnc_kernel *kernel,
                                             const attnc_run_args *args);

/* A call to a VARLEN or PAGED kernel (CPU target): `args` as above, the
 * sequences in `sequences`. Every offset, length and page id is checked
 * before anything is read through it. */
ATTNC_API attnc_status attnc_kernel_run_sequences(
    attnc_kernel *kernel, const attnc_run_args *args,
    const attnc_sequences *sequences);

/* A call to a kernel that also writes its attention weights (`probs =
 * true` in its attn dialect text; attnc_kernel_create_from_mlir; BSHD or
 * BHSD layout; package version 0.2.3): `args` as above, and `probs`, a
 * float32 [batch, q_heads, seq_q, seq_kv] tensor with key stride 1 (see
 * attnc_tensor_probs), which receives P = exp(S - LSE), 0 where masked,
 * at most 2^28 elements. The other run functions refuse such a kernel;
 * this one refuses a kernel without probs (docs/visualize.md). */
ATTNC_API attnc_status attnc_kernel_run_probs(attnc_kernel *kernel,
                                              const attnc_run_args *args,
                                              const attnc_tensor *probs);

/* The block mask of a block-sparse kernel's own mask for one shape (and
 * the kernel's declared inputs, which its mask may read), built block by
 * block without a seq_q x seq_kv grid. */
ATTNC_API attnc_status attnc_block_mask_build(attnc_kernel *kernel,
                                              int64_t batch, int64_t seq_q,
                                              int64_t seq_kv,
                                              const struct attnc_input *inputs,
                                              int64_t num_inputs,
                                              attnc_block_mask **out);
/* Its arrays (owned by the mask) and the fraction of blocks it visits. */
ATTNC_API attnc_block_mask_view
attnc_block_mask_get(const attnc_block_mask *mask);
ATTNC_API double attnc_block_mask_density(const attnc_block_mask *mask);
ATTNC_API void attnc_block_mask_destroy(attnc_block_mask *mask);

ATTNC_API void attnc_kernel_destroy(attnc_kernel *kernel);

/* Merging partial attention (docs/merge.md; package version 0.2.2): the
 * results of one query over disjoint key ranges, outputs[i] (O_i [batch,
 * heads, seq, d]: f32, f16 or bf16, head-dim stride 1) with lses[i] (LSE_i
 * [batch, heads, seq], f32, attnc_tensor_lse), merged into the exact
 * result over their union: o (and, unless lse is NULL, its LSE). A part
 * with LSE -inf contributes nothing; rows with every part -inf get 0 and
 * LSE -inf; an LSE that is NaN or +inf makes its row NaN. On the CPU, o
 * (lse) may be one of the parts exactly (in place); no other overlap is
 * allowed. target: ATTNC_TARGET_CPU (on `threads` threads, 0: every core)
 * or ATTNC_TARGET_CUDA_SIM (the CUDA kernel, emulated; at most 16 parts,
 * one element type, not in place), or ATTNC_TARGET_CUDA (the same kernel
 * on GPU 0, package version 0.2.3: `data` are device addresses, threads
 * 0, launched on `stream`, a CUstream of GPU 0's primary context or NULL,
 * and not waited for; the call makes that context current on the calling
 * thread; no GPU: ATTNC_ERROR_NO_DEVICE; a failed compile, load or launch:
 * ATTNC_ERROR_INTERNAL; not yet run on a GPU). stream must be NULL for
 * the other targets. */
typedef struct attnc_merge_args {
  const attnc_tensor *outputs, *lses;
  int64_t num_parts;
  const attnc_tensor *o, *lse;
  attnc_target target;
  int threads;
  void *stream;
} attnc_merge_args;
ATTNC_API attnc_status attnc_merge(const attnc_merge_args *args);

/* The message of the calling thread's last failed call ("" if none). */
ATTNC_API const char *attnc_last_error(void);
ATTNC_API const char *attnc_version(void);

#ifdef __cplusplus
}
#endif

#endif /* ATTNC_ATTNC_H */
