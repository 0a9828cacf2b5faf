#ifndef ATTNC_COMPILER_KERNELABI_H
#define ATTNC_COMPILER_KERNELABI_H

// The one description of a kernel's run-time arguments. The CPU lowering
// builds its function signature from it, the CUDA emitter prints its
// Params struct from it (with static_asserts on every offset), and the
// runtime packs arguments by it; nothing mirrors a layout by hand.
// MLIR-free: the runtime includes it too.

#include <cstdint>
#include <string>
#include <vector>

namespace mlir {
class ArrayAttr;
class Type;
} // namespace mlir

namespace mlir::attn::abi {

enum class ElementType { F32, F16, BF16, I32 };
/// The ABI element type of an MLIR type (f32, f16, bf16; anything else I32).
ElementType elementTypeOf(mlir::Type type);

/// What an argument is.
enum class Role {
  Q, K, V, O, Lse, // the attention tensors ([b, h, s, d]; LSE [b, h, s])
  Probs, // the probabilities a kernel with probs = true writes ([b, h, q, k])
  // The block mask of a block-sparse kernel (i32): for each (b, h, query
  // block) the number of partial and of full kv blocks ([b, h, q blocks])
  // and their indices ([b, h, q blocks, kv blocks]); b and h may be 1.
  KvNumBlocks, KvIndices, FullKvNumBlocks, FullKvIndices,
  // Paged kernels (layout = paged) read K and V from page pools viewed as
  // [pages, kv_heads, page_size, d]: key s of batch b lives in page
  // page_table[b, s / page_size] at slot s % page_size, and batch b has
  // kv_seqlens[b] keys (both i32; [b, max pages] and [b]).
  PageTable, KvSeqlens,
  // CUDA kernels of layout varlen or paged take one table row per launched
  // sequence (i32 [sequences, kSequenceColumns], columns SequenceColumn)
  // and, when paged, every sequence's page ids in one list (PageTable, i32
  // rank 1; a row's SeqPageFirst is where its pages start). The runtime
  // builds both from the checked host tables (runtime/cuda/Params.h).
  SequenceTable,
  Input, // a declared input (#attn.input)
};

/// The columns of a CUDA sequence table row.
enum SequenceColumn {
  SeqIndex,     // the sequence's batch index (what regions see as b)
  SeqQBatch,    // its queries: rows [SeqQFirst, + SeqQLen) of q's batch SeqQBatch
  SeqQFirst,
  SeqQLen,
  SeqKvLen,     // its number of keys
  SeqKvFirst,   // varlen: its first key row of k and v
  SeqPageFirst, // paged: where its page ids start in the page list
  kSequenceColumns = 8, // (one spare: rows of 32 bytes)
};

/// How a CUDA kernel finds its sequences.
enum class Sequences { None, Varlen, Paged };

struct Arg {
  std::string name; // q, k, v, o, lse, or the input's name
  Role role;
  ElementType type;
  int64_t rank;
  bool written; // o and lse
};

/// A declared input as the ABI needs it.
struct InputArg {
  std::string name;
  ElementType type;
  int64_t rank;
};

/// The ABI view of a kernel op's `inputs` attribute (a list of
/// #attn.input; null when it declares none). Both lowerings build their
/// signatures from it; the runtime's view (runtime/detail/Compiler.h,
/// cpuAbiArgs) is tested against it.
std::vector<InputArg> inputArgs(mlir::ArrayAttr decls);

/// The user-visible arguments in calling order: q, k, v, o, lse (when the
/// kernel writes it), probs (likewise), the page table and kv lengths (paged kernels), the
/// block mask (block-sparse kernels), then the declared inputs in
/// declaration order. q and o hold `element`, k and v `kvElement` values.
std::vector<Arg> kernelArgs(ElementType element, ElementType kvElement,
                            bool lse, bool probs, bool paged, bool blockSparse,
                            const std::vector<InputArg> &inputs);

/// The arguments of a CUDA kernel: kernelArgs() without the CPU's page
/// table and kv lengths; varlen and paged kernels take the sequence table
/// (and paged ones the page list) after lse and probs instead.
std::vector<Arg> cudaKernelArgs(ElementType element, bool lse, bool probs,
                                Sequences sequences, bool blockSparse,
                                const std::vector<InputArg> &inputs);

/// One field of the CUDA kernel's `Params` struct (passed by value).
struct ParamField {
  enum Kind { Pointer, Strides, Sizes, SeqQ, SeqKv, PageSize };
  Kind kind;
  int64_t arg;        // index into kernelArgs() (Pointer, Strides, Sizes)
  std::string name;   // the C member name
  std::string type;   // its C element type ("const T *", "long long", ...)
  int64_t count;      // array length (1: a scalar member)
  int64_t offset, bytes;
};

/// The layout of `Params` for these arguments: each tensor's pointer and
/// its batch, head and seq strides (in elements); each declared input's
/// pointer, sizes and strides (`in_<name>`); then seq_q and seq_kv, and a
/// paged kernel's page_size (the slots of a page). The
/// emitter prints the struct from it with a static_assert on every offset,
/// and the runtime packs the bytes by it.
struct ParamsLayout {
  std::vector<ParamField> fields;
  int64_t bytes = 0; // sizeof(Params)
};
ParamsLayout cudaParamsLayout(const std::vector<Arg> &args);

/// Arguments the CPU function takes after kernelArgs(): the split-KV
/// partials workspace (f32, rank 1), the split count, the work items
/// [begin, end), the K^T cache tiles (f32, rank 3), their tags (i64,
/// rank 1), and the batch index of the call's first batch (what mask and
/// score regions see as b: the runtime runs each sequence of a varlen or
/// paged call as a batch of 1). See convert-attn-to-scf.
constexpr int kCpuTrailingArgs = 7;

/// Rows of a CPU kernel's K^T tile ([rows, block_n] f32 words): d_qk, or
/// with bf16 products (schedule dot = 16) ceil(d_qk / 2) words each holding
/// the bf16 pair K[j, 2r], K[j, 2r + 1].
constexpr int64_t ktRows(int64_t dQk, int64_t dot) {
  return dot == 16 ? (dQk + 1) / 2 : dQk;
}

/// The packed entry point of CPU kernel `name`: `void (void **args)`, one
/// pointer per argument of the C interface (memref descriptors, then
/// pointers to the int64 scalars).
inline std::string cpuPackedEntry(const std::string &name) {
  return "_attnc_packed_" + name;
}

/// The CUDA merge kernel's parameter struct (mergeKernelToCuda), as the
/// host packs it: device addresses as 64-bit integers, strides in
/// elements over [batch, heads, seq] (the head-dim stride is 1). The
/// generated source declares the same members and static_asserts their
/// offsets against this struct's.
constexpr int kMergeMaxParts = 16; // parts a CUDA merge call takes
constexpr int kMergeWarps = 4;     // rows (one a warp) per CTA
struct MergeParams {
  uint64_t parts[kMergeMaxParts];
  uint64_t partLse[kMergeMaxParts];
  int64_t partStride[kMergeMaxParts][3];
  int64_t partLseStride[kMergeMaxParts][3];
  uint64_t o, lse; // lse 0: not written
  int64_t oStride[3], lseStride[3];
  int32_t count, batch, heads, seq, dim, pad;
};

/// The CUDA linear-attention kernel's parameters (linearKernelToCuda):
/// f32 q, k, v, o as device addresses, strides in elements over [batch,
/// heads, seq] (the head-dim stride is 1), off, the causal diagonal's
/// offset (seq_kv - seq_q for bottom_right, 0 for top_left), and the
/// recurrent state (causal kernels; 0: none): S [batch, kv_heads, d_qk,
/// d_v] with strides over its first three dims, z [batch, kv_heads, 1,
/// d_qk] with strides over its first two. Offsets are static_asserted in
/// the generated source.
constexpr int kLinearWarps = 4; // rows (one a warp) in flight per CTA
constexpr int kLinearColumns = 32; // v columns a CTA owns (one a lane)
struct LinearParams {
  uint64_t q, k, v, o;
  int64_t qStride[3], kStride[3], vStride[3], oStride[3];
  int32_t batch, seqQ, seqKv, off;
  uint64_t stateS, stateZ;
  int64_t sStride[3], zStride[2];
};

} // namespace mlir::attn::abi

#endif
