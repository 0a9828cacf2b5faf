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
inline TensorView denseView(float *data, Layout layout, int64_t batch,
                            int64_t seq, int64_t heads, int64_t dim) {
  TensorView t;
  t.data = data;
  t.sizes = {batch, heads, seq, dim};
  if (layout == Layout::BSHD)
    t.strides = {seq * heads * dim, dim, heads * dim, 1};
  else
    t.strides = {heads * seq * dim, seq * dim, dim, 1};
  return t;
}

/// A contiguous [batch, heads, seq] f32 LSE buffer.
inline TensorView lseView(float *data, int64_t batch, int64_t heads,
                          int64_t seq) {
  TensorView t;
  t.data = data;
  t.sizes = {batch, heads, seq, 1};
  t.strides = {heads * seq, seq, 1, 1};
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

/// The tensors of one attention call. `lse` is required exactly when the
/// kernel was compiled with lse = true, `blockMask` exactly when it is
/// block-sparse; `inputs` binds every declared input, by name.
struct AttentionArgs {
  TensorView q, k, v, o, lse;
  std::vector<InputTensor> inputs;
  BlockMaskArgs blockMask;
};

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
