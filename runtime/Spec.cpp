#include "runtime/Spec.h"
#include "runtime/Tensor.h"


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
  switch (layout) {
  case Layout::BSHD:
    return "bshd";
  case Layout::BHSD:
    return "bhsd";
  case Layout::Varlen:
    return "varlen";
  case Layout::Paged:
    return "paged";
  }
  return "?";
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

const char *toString(InputDim dim) {
  switch (dim) {
  case InputDim::Batch:
    return "batch";
  case InputDim::QHeads:
    return "q_heads";
  case InputDim::KvHeads:
    return "kv_heads";
  case InputDim::SeqQ:
    return "seq_q";
  case InputDim::SeqKv:
    return "seq_kv";
  case InputDim::Any:
    return "any";
  }
  return "?";
}

int64_t sizeOf(DType type) {
  return type == DType::F16 || type == DType::BF16 ? 2 : 4;
}

DType dtypeNamed(const std::string &name) {
  if (name == "f16")
    return DType::F16;
  if (name == "bf16")
    return DType::BF16;
  return DType::F32;
}

} // namespace attnc
