#ifndef ATTNC_RUNTIME_DETAIL_CHECKS_H
#define ATTNC_RUNTIME_DETAIL_CHECKS_H

// Boundary checks shared by the files that validate calls.

#include "runtime/Status.h"
#include "runtime/Tensor.h"

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>
#include <string>

namespace attnc::detail {

/// Sizes >= 0 and strides >= 0 whose last offset and element count stay
/// under 2^56 elements, computed without overflow; errors name `name`.
Status checkAddressable(const std::string &name, const int64_t *sizes,
                        const int64_t *strides, size_t rank);

/// The bytes [begin, end) a checked (addressable) view spans; {0, 0} when
/// it holds no element.
struct ByteSpan {
  uintptr_t begin = 0, end = 0;
  bool overlaps(const ByteSpan &o) const { return begin < o.end && o.begin < end; }
};
ByteSpan byteSpan(const TensorView &t);

/// An output view (checked addressable) whose elements each have their own
/// memory: ordered by stride, each dimension of size > 1 strides at least
/// past everything the dimensions inside it span. An error names `name`.
Status checkNoSelfOverlap(const std::string &name, const TensorView &t);

/// A view and the name messages give it.
struct NamedView {
  const char *name;
  const TensorView *view;
};
/// The first pair (i, j), i < j and i < `written`, of `views` whose bytes
/// overlap: the first `written` views are buffers a call writes, which may
/// share memory with no other view; the rest are read. Null when none.
std::optional<std::pair<NamedView, NamedView>>
firstOverlap(const std::vector<NamedView> &views, size_t written);

/// A caller-owned state tensor that a call reads and updates: non-null,
/// f32, addressable, of `shape` (`rule` names it, e.g. "[batch, kv_heads,
/// d_qk, d_v]"), last stride 1, elements of its own. Errors start with
/// `name`.
Status checkState(const std::string &name, const TensorView &t,
                  const std::array<int64_t, 4> &shape, const char *rule);

} // namespace attnc::detail

#endif
