#ifndef ATTNC_RUNTIME_SPEC_H
#define ATTNC_RUNTIME_SPEC_H

// A read-only C++ view of one attn.kernel op, for code that runs, checks or
// reports kernels without MLIR. It is always derived from the IR (see
// KernelIr::view() and the backends' resolved views) and is never turned
// back into IR: the op is the kernel's identity. No MLIR header is
// included here: embedders compile against this alone.

#include "runtime/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace attnc {

enum class MaskKind { None, Causal, SlidingWindow, Custom };
enum class Alignment { Unset, TopLeft, BottomRight };
enum class ScoreMod { None, Alibi, Custom };
/// How q, k, v and o are stored. BSHD and BHSD are dense (they differ only in
/// strides). Varlen packs the sequences of a batch one after another
/// (cumulative offsets); paged keeps K and V in page pools addressed through
/// a page table (runtime/Tensor.h, SequenceArgs).
enum class Layout { BSHD, BHSD, Varlen, Paged };
/// Whether a layout's calls come as sequences (SequenceArgs): varlen, paged.
inline bool takesSequences(Layout layout) {
  return layout == Layout::Varlen || layout == Layout::Paged;
}
enum class Mode { Prefill, Decode };
/// Linear attention's feature map (docs/linear.md).
enum class FeatureMap { Elu1, Relu, Identity, Custom }; // Custom: mods->feature

/// Element types of tensors a kernel reads or writes.
enum class DType { F32, F16, BF16, I32 };
const char *toString(DType type);
/// Bytes per element.
int64_t sizeOf(DType type);
/// The DType an element type's name ("f32", "f16", "bf16") stands for
/// (F32 for any other name: names come from verified IR).
DType dtypeNamed(const std::string &name);

/// What a dimension of a declared input is indexed by (#attn.input).
enum class InputDim { Batch, QHeads, KvHeads, SeqQ, SeqKv, Any };
const char *toString(InputDim dim);

/// A run-time tensor or scalar that the kernel's regions read: name,
/// element type (F32 or I32), and what each dimension is indexed by.
struct InputDecl {
  std::string name;
  DType type = DType::F32;
  std::vector<InputDim> dims;
};

struct ModPrograms; // runtime/ModProgram.h

/// The view of a resolved kernel. Before resolution, unset fields hold the
/// documented defaults; schedule fields are 0 until a backend chose them.
struct KernelSpec {
  std::string name;
  int64_t qHeads = 0, kvHeads = 0;
  int64_t dQk = 0, dV = 0;
  std::string elementType = "f32"; // q and o
  std::string kvElementType;       // k and v; empty: elementType
  /// The element type of k and v.
  const std::string &kvType() const {
    return kvElementType.empty() ? elementType : kvElementType;
  }
  double scale = 0;   // resolved: 1/sqrt(d_qk) unless given
  double softcap = 0; // 0: off
  MaskKind mask = MaskKind::None;
  Alignment alignment = Alignment::Unset;
  int64_t windowLeft = 0, windowRight = 0;
  ScoreMod scoreMod = ScoreMod::None;
  Layout layout = Layout::BSHD;
  Mode mode = Mode::Prefill;
  bool lse = false;
  bool probs = false; // also write P[b, h, q, k] (runtime: AttentionArgs::probs)
  // variant = linear (runtime/Linear.h): phi, normalisation and its floor.
  bool linear = false;
  FeatureMap featureMap = FeatureMap::Elu1;
  bool normalize = true;
  double eps = 1e-6;
  // Block sparsity (#attn.block_sparse): query and key rows per block; 0
  // when the kernel takes no block mask.
  int64_t blockQ = 0, blockKv = 0;
  std::vector<InputDecl> inputs;
  // The mask, score and key-range functions, for the reference (always set
  // on views made from IR).
  std::shared_ptr<const ModPrograms> mods;
  // Schedule (CPU fields; GPU schedules live with their translation).
  int64_t blockM = 0, blockN = 0, microM = 0, microN = 0, vectorWidth = 0;
  int64_t threads = 0;
  int64_t dot = 0; // 16: bf16 products (vdpbf16ps); 0 or 32: f32 products
  int64_t prefetch = 0; // decode rows form: 1 into L1, 2 into L2; 0 unset
};

const char *toString(MaskKind kind);
const char *toString(Alignment alignment);
const char *toString(ScoreMod mod);
const char *toString(Layout layout);
const char *toString(Mode mode);

} // namespace attnc

#endif
