#ifndef ATTNC_RUNTIME_DETAIL_CHECKS_H
#define ATTNC_RUNTIME_DETAIL_CHECKS_H

// Boundary checks shared by the files that validate calls.

#include "runtime/Status.h"

#include <cstdint>
#include <string>

namespace attnc::detail {

/// Sizes >= 0 and strides >= 0 whose last offset and element count stay
/// under 2^56 elements, computed without overflow; errors name `name`.
Status checkAddressable(const std::string &name, const int64_t *sizes,
                        const int64_t *strides, size_t rank);

} // namespace attnc::detail

#endif
