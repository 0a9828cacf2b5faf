#include "runtime/Spec.h"

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

const char *toString(Layout layout) {
  return layout == Layout::BSHD ? "bshd" : "bhsd";
}

std::string toMlir(const KernelSpec &s) {
  std::string attrs = fmt::format("q_heads = {}, d_qk = {}, element_type = {}",
                                  s.qHeads, s.dQk, s.elementType);
  if (s.kvHeads)
    attrs += fmt::format(", kv_heads = {}", s.kvHeads);
  if (s.dV)
    attrs += fmt::format(", d_v = {}", s.dV);
  if (s.scale != 0)
    attrs += fmt::format(", scale = {:.17e}", s.scale);
  if (s.softcap != 0)
    attrs += fmt::format(", softcap = {:.17e}", s.softcap);
  std::string mask = toString(s.mask);
  if (s.mask == MaskKind::SlidingWindow)
    mask += fmt::format(", left = {}, right = {}", s.windowLeft, s.windowRight);
  if (s.alignment != Alignment::Unset)
    mask += fmt::format(", {}", toString(s.alignment));
  attrs += fmt::format(", mask = #attn.mask<{}>", mask);
  attrs += fmt::format(", layout = #attn.layout<{}>", toString(s.layout));
  if (s.mode == Mode::Decode)
    attrs += ", mode = #attn.mode<decode>";
  if (s.lse)
    attrs += ", lse = true";
  std::string sched;
  auto key = [&](const char *name, int64_t v) {
    if (v)
      sched += fmt::format("{}{} = {}", sched.empty() ? "" : ", ", name, v);
  };
  key("block_m", s.blockM);
  key("block_n", s.blockN);
  key("micro_m", s.microM);
  key("micro_n", s.microN);
  key("vector_width", s.vectorWidth);
  key("threads", s.threads);
  if (!sched.empty())
    attrs += fmt::format(", schedule = #attn.schedule<{}>", sched);
  return fmt::format("attn.kernel @{} attributes {{{}}}\n", s.name, attrs);
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
