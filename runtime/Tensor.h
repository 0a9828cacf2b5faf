#ifndef ATTNC_RUNTIME_TENSOR_H
#define ATTNC_RUNTIME_TENSOR_H

#include "runtime/Half.h"
#include "runtime/Spec.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace attnc {

/// A caller-owned tensor seen in the kernel's logical order [batch, heads,
/// seq, dim], with strides in elements. BSHD and BHSD buffers differ only in
/// their strides; any strides work if the dim stride is 1. The LSE output
/// uses [batch, heads, seq] with sizes[3] = 1. `data` is host memory for the
/// CPU backend and a device address for CUDA; `dtype` says what it holds.
struct TensorView {
  void *data = nullptr;
  DType dtype = DType::F32;
  std::array<int64_t, 4> sizes{};
  std::array<int64_t, 4> strides{};

  int64_t batch() const { return sizes[0]; }
  int64_t heads() const { return sizes[1]; }
  int64_t seq() const { return sizes[2]; }
  int64_t dim() const { return sizes[3]; }
  /// The element at [b, h, s, d] of a host tensor of element type T.
  template <typename T = float>
  T &at(int64_t b, int64_t h, int64_t s, int64_t d) const {
    return static_cast<T *>(data)[b * strides[0] + h * strides[1] +
                                  s * strides[2] + d * strides[3]];
  }
  /// The element at [b, h, s, d] of a host f32, f16 or bf16 tensor, as a
  /// float (exact).
  float get(int64_t b, int64_t h, int64_t s, int64_t d) const {
    if (dtype == DType::F32)
      return at<float>(b, h, s, d);
    return fromHalfBits(at<uint16_t>(b, h, s, d),
                        halfKindOf(dtype));
  }
  /// Stores `x` at [b, h, s, d], rounded to the nearest value of the
  /// tensor's f32, f16 or bf16 element type.
  void set(int64_t b, int64_t h, int64_t s, int64_t d, float x) const {
    if (dtype == DType::F32)
      at<float>(b, h, s, d) = x;
    else
      at<uint16_t>(b, h, s, d) = toHalfBits(
          x, halfKindOf(dtype));
  }
};

/// A view of a contiguous f32 buffer stored in `layout` order.
/// a x b x ..., or INT64_MAX where the product overflows: a view helper's
/// strides for sizes no buffer has, which the boundary then refuses ("span
/// more than 2^56 elements") instead of the helper overflowing.
inline int64_t satMul(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}
inline int64_t satMul(int64_t a, int64_t b, int64_t c) { return satMul(satMul(a, b), c); }

inline TensorView denseView(float *data, Layout layout, int64_t batch,
                            int64_t seq, int64_t heads, int64_t dim) {
  TensorView t;
  t.data = data;
  t.sizes = {batch, heads, seq, dim};
  if (layout == Layout::BSHD)
    t.strides = {satMul(seq, heads, dim), dim, satMul(heads, dim), 1};
  else
    t.strides = {satMul(heads, seq, dim), satMul(seq, dim), dim, 1};
  return t;
}

/// A contiguous [batch, heads, seq] f32 LSE buffer.
inline TensorView lseView(float *data, int64_t batch, int64_t heads,
                          int64_t seq) {
  TensorView t;
  t.data = data;
  t.sizes = {batch, heads, seq, 1};
  t.strides = {satMul(heads, seq), seq, 1, 1};
  return t;
}

/// A tensor or scalar bound to one of the kernel's declared inputs:
/// `sizes` and `strides` (elements) have one entry per dimension.
struct InputTensor {
  std::string name;
  void *data = nullptr;
  DType dtype = DType::F32;
  std::vector<int64_t> sizes, strides;
};

/// The run-time block mask of a block-sparse kernel (#attn.block_sparse),
/// in FlexAttention's form, all int32: for each (b, h, query block) the
/// number of partial kv blocks (the mask is evaluated there) and of full
/// ones (every pair visible, the mask is skipped), and their kv-block
/// indices; blocks in neither list are never visited. Shapes [B, H, QB]
/// and [B, H, QB, KVB] with B = 1 or batch, H = 1 or q_heads (1
/// broadcasts), QB = ceil(seq_q / block_q), KVB = ceil(seq_kv / block_kv);
/// the first count entries of an indices row are used.
struct BlockMaskArgs {
  InputTensor numBlocks, indices, fullNumBlocks, fullIndices;
  bool given() const { return numBlocks.data != nullptr; }
};

/// The sequences of a varlen or paged call (layout = varlen / paged), in
/// FlashAttention's and FlashInfer's conventions. Every array is int32,
/// rank 1 or 2 as said, any strides; batch is the number of sequences.
///
/// Varlen (flash_attn_varlen_func): q and o are [1, q_heads, total_q, d]
/// and k and v [1, kv_heads, total_k, d] (the sequences packed one after
/// another along seq; lse is [1, q_heads, total_q]). Sequence i has rows
/// [cuSeqlensQ[i], cuSeqlensQ[i + 1]) of q and [cuSeqlensK[i],
/// cuSeqlensK[i + 1]) of k; both arrays have batch + 1 entries, start at 0
/// and never decrease. Zero-length sequences are allowed.
///
/// Paged: k and v are page pools, [num_pages, page_size, kv_heads, d] in
/// memory, seen as the views [num_pages, kv_heads, page_size, d] (batch =
/// page, seq = slot in the page; see pagedView). Key j of sequence i lives
/// in slot j % page_size of the sequence's page number j / page_size. The
/// pages are given in one of two forms:
///   (a) FlashAttention (flash_attn_with_kvcache): blockTable [batch,
///       max_pages] and cacheSeqlens [batch], the kv length of each
///       sequence (at most max_pages x page_size);
///   (b) FlashInfer: kvIndptr [batch + 1] (in pages, from 0, never
///       decreasing), kvIndices (the page ids, kvIndptr[batch] of them
///       used) and kvLastPageLen [batch], in [1, page_size] for a sequence
///       with pages and 0 for one without: sequence i has (pages - 1) x
///       page_size + kvLastPageLen[i] keys.
/// Queries are dense, q [batch, q_heads, seq_q, d] (every sequence has
/// seq_q queries), or ragged as in varlen when cuSeqlensQ is given.
///
/// kNew and vNew (paged, optional) are keys and values the call appends to
/// the cache before it attends, as flash_attn_with_kvcache does: dense
/// [batch, kv_heads, seq_new, d], or packed like q ([1, kv_heads, total_q,
/// d], one new key per query) when cuSeqlensQ is given; in kv_element_type.
/// In form (a), cache_seqlens counts the keys before the call: the new ones
/// go to positions [cache_seqlens[i], cache_seqlens[i] + new) and attention
/// sees both. In form (b), as FlashInfer's append_paged_kv_cache leaves its
/// tables, the lengths already count them: they go to the sequence's last
/// `new` positions. A page that takes new keys must belong to one sequence
/// alone.
///
/// Mask alignment, regions and block masks see each sequence on its own:
/// q and k index positions within the sequence (causal bottom-right aligns
/// each sequence's own last query with its own last key), b is the
/// sequence's index, and seq_len is its own length. Declared inputs and
/// block masks are sized by the batch and by the longest sequence (their
/// seq_q and seq_kv dimensions are the largest lengths).
struct SequenceArgs {
  InputTensor cuSeqlensQ, cuSeqlensK;       // varlen; cuSeqlensQ also paged
  InputTensor blockTable, cacheSeqlens;     // paged, form (a)
  InputTensor kvIndptr, kvIndices, kvLastPageLen; // paged, form (b)
  TensorView kNew, vNew; // paged: keys and values to append (optional)
};

/// A contiguous (C-order) int32 array of `sizes`, such as a sequence
/// table; `data` must outlive the view.
inline InputTensor int32Array(const int32_t *data, std::vector<int64_t> sizes) {
  InputTensor t;
  t.data = const_cast<int32_t *>(data);
  t.dtype = DType::I32;
  t.strides.assign(sizes.size(), 1);
  for (size_t d = sizes.size(); d-- > 1;)
    t.strides[d - 1] = t.strides[d] * sizes[d];
  t.sizes = std::move(sizes);
  return t;
}

/// The view of a page pool stored as [num_pages, page_size, kv_heads, dim]
/// (FlashAttention's and FlashInfer's NHD paged cache), contiguous.
inline TensorView pagedView(void *data, DType dtype, int64_t numPages,
                            int64_t pageSize, int64_t kvHeads, int64_t dim) {
  TensorView t;
  t.data = data;
  t.dtype = dtype;
  t.sizes = {numPages, kvHeads, pageSize, dim};
  t.strides = {satMul(pageSize, kvHeads, dim), dim, satMul(kvHeads, dim), 1};
  return t;
}

/// The tensors of one attention call. `lse` is required exactly when the
/// kernel was compiled with lse = true, `blockMask` exactly when it is
/// block-sparse, `sequences` by varlen and paged kernels; `inputs` binds
/// every declared input, by name.
struct AttentionArgs {
  TensorView q, k, v, o, lse;
  std::vector<InputTensor> inputs;
  BlockMaskArgs blockMask;
  SequenceArgs sequences;
  /// probs = true kernels: P[b, h, q, k] = exp(s - LSE), f32, [batch,
  /// q_heads, seq_q, seq_kv], key stride 1, any other strides (probsView
  /// makes a dense one); masked keys get 0. At most kMaxProbsElements
  /// elements.
  TensorView probs;
};

/// The largest probs output a call writes (1 GiB of f32): it is for
/// inspecting attention at small sizes, not for long sequences.
constexpr int64_t kMaxProbsElements = int64_t(1) << 28;

/// A contiguous [batch, heads, seq_q, seq_kv] f32 probs buffer.
inline TensorView probsView(float *data, int64_t batch, int64_t heads,
                            int64_t seqQ, int64_t seqKv) {
  TensorView t;
  t.data = data;
  t.sizes = {batch, heads, seqQ, seqKv};
  t.strides = {satMul(heads, seqQ, seqKv), satMul(seqQ, seqKv), seqKv, 1};
  return t;
}

/// One sequence of a varlen or paged call, as a dense call of batch 1.
struct Sequence {
  int64_t index = 0;           // its batch index (the regions' b)
  int64_t qBatch = 0, qFirst = 0; // its first query row in q: [qBatch, :, qFirst]
  TensorView q, k, v, o, lse;  // batch-1 views (paged: k and v are the pools)
  int64_t seqQ = 0, seqKv = 0;
  int64_t kvFirst = 0; // varlen: its first key row in k and v
  // Paged: the sequence's page ids, pages[j * pageStride] for j < pageCount.
  const int32_t *pages = nullptr;
  int64_t pageCount = 0, pageStride = 0;
  // Paged with kNew/vNew: the keys to append (batch-1 views of newCount
  // rows) at positions [newFirst, newFirst + newCount).
  TensorView kNew, vNew;
  int64_t newFirst = 0, newCount = 0;
};

/// The lengths a call's shape-dependent checks use: for dense calls the
/// views' batch, seq_q and seq_kv; for varlen and paged calls the number of
/// sequences and the longest query and key lengths.
struct CallShape {
  int64_t batch = 0, seqQ = 0, seqKv = 0;
};

/// Checks a varlen or paged call's sequence arrays (host memory) and
/// splits it into its sequences: every offset, length and page id is
/// checked before anything is read through it. Dense calls give an error.
Status splitSequences(const KernelSpec &spec, const AttentionArgs &args,
                      std::vector<Sequence> &out, CallShape *shape = nullptr);

/// Writes a checked paged call's kNew/vNew rows into the pools (the
/// sequences from splitSequences); nothing else in the pools changes.
void appendNewKeys(const std::vector<Sequence> &sequences);

/// The call's shape (see CallShape); for varlen and paged calls it reads
/// the (checked) sequence arrays.
StatusOr<CallShape> callShape(const KernelSpec &spec, const AttentionArgs &args);

/// Checks a whole call against the kernel, the same for every backend: q,
/// k, v and o (data, element type as the spec says: elementType for q and
/// o, kvType() for k and v, sizes >= 0, heads, head dims, unit
/// head-dim stride), the lengths they share, LSE (given exactly when the
/// kernel writes it, f32, [batch, q_heads, seq_q]), the declared inputs and
/// the block mask. Backends add their own limits after it.
/// Where a call's buffers live: host memory can be read at the boundary
/// (the block mask's counts and indices are checked), device memory cannot
/// (only its shapes are; the CUDA kernel clamps what it reads).
enum class Memory { Host, Device };

Status validateCall(const KernelSpec &spec, const AttentionArgs &args,
                    Memory memory = Memory::Host);
/// validateCall that also hands back a varlen or paged call's sequences
/// (splitSequences), so that a launch checks them once.
Status validateCall(const KernelSpec &spec, const AttentionArgs &args,
                    Memory memory, std::vector<Sequence> *sequences);

/// Checks the call's inputs against the kernel's declarations: each
/// declared input bound exactly once, nothing undeclared, and each with its
/// declared element type, rank and sizes (any dimension at least 1).
Status validateInputs(const KernelSpec &spec, const AttentionArgs &args);

/// Checks a block-sparse kernel's block mask (or that a dense kernel got
/// none): shapes, and in host memory also counts within [0, KVB], indices
/// within [0, KVB), and no kv block listed twice for one (b, h, query block).
Status validateBlockMask(const KernelSpec &spec, const AttentionArgs &args,
                         Memory memory = Memory::Host);

/// How one call runs: worker threads and split-KV (CPU), stream (CUDA).
struct LaunchOptions {
  unsigned threads = 0;  // CPU: 0 uses the schedule's thread count
  int64_t kvSplits = 0;  // CPU: 0 chooses, 1 disables split-KV
  void *stream = nullptr; // CUDA: a CUstream; null is the default stream
};

} // namespace attnc

#endif
