#include "runtime/Spec.h"
#include "runtime/Tensor.h"

#include <algorithm>

#include <fmt/format.h>

namespace attnc {

const char *toString(MaskKind kind) {
  switch (kind) {
  case MaskKind::None:
    return "none";
  case MaskKind::Causal:
    return "causal";
  case MaskKind::SlidingWindow:
    return "sliding_window";
  case MaskKind::Custom:
    return "custom";
  }
  return "?";
}

const char *toString(Alignment alignment) {
  switch (alignment) {
  case Alignment::Unset:
    return "unset";
  case Alignment::TopLeft:
    return "top_left";
  case Alignment::BottomRight:
    return "bottom_right";
  }
  return "?";
}

const char *toString(ScoreMod mod) {
  switch (mod) {
  case ScoreMod::None:
    return "none";
  case ScoreMod::Alibi:
    return "alibi";
  case ScoreMod::Custom:
    return "custom";
  }
  return "?";
}

const char *toString(Layout layout) {
  return layout == Layout::BSHD ? "bshd" : "bhsd";
}

const char *toString(Mode mode) {
  return mode == Mode::Prefill ? "prefill" : "decode";
}

const char *toString(DType type) {
  switch (type) {
  case DType::F32:
    return "f32";
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  case DType::I32:
    return "i32";
  }
  return "?";
}

int64_t sizeOf(DType type) {
  return type == DType::F16 || type == DType::BF16 ? 2 : 4;
}

bool isVisible(const KernelSpec &s, int64_t q, int64_t k, int64_t seqQ,
               int64_t seqKv) {
  int64_t diag =
      q + (s.alignment == Alignment::BottomRight ? seqKv - seqQ : 0);
  switch (s.mask) {
  case MaskKind::None:
    return true;
  case MaskKind::Causal:
    return k <= diag;
  case MaskKind::SlidingWindow:
    return k >= diag - s.windowLeft && k <= diag + s.windowRight;
  }
  return false;
}

int64_t visiblePairs(const KernelSpec &s, int64_t seqQ, int64_t seqKv) {
  if (s.mask == MaskKind::None)
    return seqQ * seqKv;
  int64_t pairs = 0;
  for (int64_t q = 0; q < seqQ; ++q) {
    int64_t diag =
        q + (s.alignment == Alignment::BottomRight ? seqKv - seqQ : 0);
    int64_t lo = s.mask == MaskKind::SlidingWindow ? diag - s.windowLeft : 0;
    int64_t hi = s.mask == MaskKind::SlidingWindow ? diag + s.windowRight : diag;
    lo = std::max<int64_t>(lo, 0);
    hi = std::min<int64_t>(hi, seqKv - 1);
    pairs += std::max<int64_t>(0, hi - lo + 1);
  }
  return pairs;
}

double attentionFlops(const KernelSpec &s, int64_t batch, int64_t seqQ,
                      int64_t seqKv) {
  return 2.0 * batch * s.qHeads * static_cast<double>(visiblePairs(s, seqQ, seqKv)) *
         (s.dQk + s.dV);
}

} // namespace attnc
