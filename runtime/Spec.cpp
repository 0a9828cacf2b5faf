#include "runtime/Spec.h"

#include <algorithm>
#include <cstdlib>

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

const char *toString(Mode mode) {
  return mode == Mode::Prefill ? "prefill" : "decode";
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

namespace {
/// Every serialised field: its name, and how to write and read it.
struct SpecField {
  const char *name;
  std::string (*write)(const KernelSpec &);
  bool (*read)(KernelSpec &, const std::string &);
};

bool readInt(const std::string &text, int64_t &out) {
  char *end = nullptr;
  out = std::strtoll(text.c_str(), &end, 10);
  return !text.empty() && *end == 0;
}
bool readDouble(const std::string &text, double &out) {
  char *end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return !text.empty() && *end == 0;
}
template <typename E> bool readEnum(const std::string &text, E &out, int n) {
  for (int i = 0; i < n; ++i)
    if (text == toString(static_cast<E>(i))) {
      out = static_cast<E>(i);
      return true;
    }
  return false;
}

#define ATTNC_INT_FIELD(key, member)                                          \
  {key, [](const KernelSpec &s) { return std::to_string(s.member); },         \
   [](KernelSpec &s, const std::string &t) { return readInt(t, s.member); }}
#define ATTNC_DOUBLE_FIELD(key, member)                                       \
  {key, [](const KernelSpec &s) { return fmt::format("{:a}", s.member); },    \
   [](KernelSpec &s, const std::string &t) { return readDouble(t, s.member); }}
#define ATTNC_ENUM_FIELD(key, member, count)                                  \
  {key, [](const KernelSpec &s) { return std::string(toString(s.member)); },  \
   [](KernelSpec &s, const std::string &t) {                                  \
     return readEnum(t, s.member, count);                                     \
   }}

const SpecField kSpecFields[] = {
    {"name", [](const KernelSpec &s) { return s.name; },
     [](KernelSpec &s, const std::string &t) {
       s.name = t;
       return !t.empty();
     }},
    ATTNC_INT_FIELD("q_heads", qHeads),
    ATTNC_INT_FIELD("kv_heads", kvHeads),
    ATTNC_INT_FIELD("d_qk", dQk),
    ATTNC_INT_FIELD("d_v", dV),
    {"element_type", [](const KernelSpec &s) { return s.elementType; },
     [](KernelSpec &s, const std::string &t) {
       s.elementType = t;
       return !t.empty();
     }},
    ATTNC_DOUBLE_FIELD("scale", scale),
    ATTNC_DOUBLE_FIELD("softcap", softcap),
    ATTNC_ENUM_FIELD("mask", mask, 3),
    ATTNC_ENUM_FIELD("alignment", alignment, 3),
    ATTNC_INT_FIELD("window_left", windowLeft),
    ATTNC_INT_FIELD("window_right", windowRight),
    ATTNC_ENUM_FIELD("layout", layout, 2),
    ATTNC_ENUM_FIELD("mode", mode, 2),
    {"lse", [](const KernelSpec &s) { return std::string(s.lse ? "1" : "0"); },
     [](KernelSpec &s, const std::string &t) {
       s.lse = t == "1";
       return t == "0" || t == "1";
     }},
    ATTNC_INT_FIELD("block_m", blockM),
    ATTNC_INT_FIELD("block_n", blockN),
    ATTNC_INT_FIELD("micro_m", microM),
    ATTNC_INT_FIELD("micro_n", microN),
    ATTNC_INT_FIELD("vector_width", vectorWidth),
    ATTNC_INT_FIELD("threads", threads),
};
} // namespace

std::string serializeSpec(const KernelSpec &spec) {
  std::string text;
  for (const SpecField &f : kSpecFields)
    text += fmt::format("{}={}\n", f.name, f.write(spec));
  return text;
}

StatusOr<KernelSpec> parseSerializedSpec(const std::string &text) {
  KernelSpec spec;
  size_t pos = 0;
  for (const SpecField &f : kSpecFields) {
    size_t end = text.find('\n', pos);
    std::string prefix = std::string(f.name) + "=";
    if (end == std::string::npos || text.compare(pos, prefix.size(), prefix))
      return Status::error(fmt::format("serialised spec: expected field '{}'",
                                       f.name));
    std::string value = text.substr(pos + prefix.size(),
                                    end - pos - prefix.size());
    if (!f.read(spec, value))
      return Status::error(fmt::format(
          "serialised spec: bad value '{}' for '{}'", value, f.name));
    pos = end + 1;
  }
  if (pos != text.size())
    return Status::error("serialised spec: unexpected trailing text");
  return spec;
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
