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
enum class Layout { BSHD, BHSD };
enum class Mode { Prefill, Decode };

/// The view of a resolved kernel. Before resolution, unset fields hold the
/// documented defaults; schedule fields are 0 until a backend chose them.
struct KernelSpec {
  std::string name;
  int64_t qHeads = 0, kvHeads = 0;
  int64_t dQk = 0, dV = 0;
  std::string elementType = "f32";
  double scale = 0;   // resolved: 1/sqrt(d_qk) unless given
  double softcap = 0; // 0: off
  MaskKind mask = MaskKind::None;
  Alignment alignment = Alignment::Unset;
  int64_t windowLeft = 0, windowRight = 0;
  ScoreMod scoreMod = ScoreMod::None;
  Layout layout = Layout::BSHD;
  Mode mode = Mode::Prefill;
  bool lse = false;
  // Schedule (CPU fields; GPU schedules live with their translation).
  int64_t blockM = 0, blockN = 0, microM = 0, microN = 0, vectorWidth = 0;
  int64_t threads = 0;
};

const char *toString(MaskKind kind);
const char *toString(Alignment alignment);
const char *toString(ScoreMod mod);
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
