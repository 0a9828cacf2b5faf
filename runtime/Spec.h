#ifndef ATTNC_RUNTIME_SPEC_H
#define ATTNC_RUNTIME_SPEC_H

// A plain C++ mirror of attn.kernel, for callers that do not write MLIR. No
// MLIR header is included here: embedders compile against this alone.

#include "runtime/Status.h"

#include <cstdint>
#include <string>

namespace attnc {

enum class MaskKind { None, Causal, SlidingWindow };
enum class Alignment { Unset, TopLeft, BottomRight };
enum class Layout { BSHD, BHSD };
enum class Mode { Prefill, Decode };

/// One attention kernel. Zero means "default" (or "let the heuristic pick"
/// for schedule fields); after compilation, CpuKernel::spec() returns the
/// resolved spec with every field filled.
struct KernelSpec {
  std::string name = "attention";
  int64_t qHeads = 0, kvHeads = 0; // kvHeads 0: = qHeads
  int64_t dQk = 0, dV = 0;         // dV 0: = dQk
  std::string elementType = "f32";
  double scale = 0;   // 0: 1/sqrt(dQk)
  double softcap = 0; // 0: off
  MaskKind mask = MaskKind::None;
  Alignment alignment = Alignment::Unset; // required for causal and window
  int64_t windowLeft = 0, windowRight = 0;
  Layout layout = Layout::BSHD;
  Mode mode = Mode::Prefill; // decode: few query rows per call
  bool lse = false;
  // Schedule (CPU); 0 lets the heuristic choose.
  int64_t blockM = 0, blockN = 0, microM = 0, microN = 0, vectorWidth = 0;
  int64_t threads = 0;
};

/// The spec as attn dialect text (`attn.kernel @name attributes {...}`).
std::string toMlir(const KernelSpec &spec);

/// A lossless line-per-field text form of a spec (doubles as hex floats),
/// and its inverse; used by the kernel cache.
std::string serializeSpec(const KernelSpec &spec);
StatusOr<KernelSpec> parseSerializedSpec(const std::string &text);

const char *toString(MaskKind kind);
const char *toString(Alignment alignment);
const char *toString(Layout layout);
const char *toString(Mode mode);

/// True when query row `q` may see key `k` under the spec's mask.
bool isVisible(const KernelSpec &spec, int64_t q, int64_t k, int64_t seqQ,
               int64_t seqKv);

/// Number of unmasked (query, key) pairs for one (batch, head).
int64_t visiblePairs(const KernelSpec &spec, int64_t seqQ, int64_t seqKv);

/// FLOPs of one forward pass: 2 * batch * q_heads * pairs * (d_qk + d_v).
double attentionFlops(const KernelSpec &spec, int64_t batch, int64_t seqQ,
                      int64_t seqKv);

} // namespace attnc

#endif
