#ifndef ATTNC_RUNTIME_HALF_H
#define ATTNC_RUNTIME_HALF_H

// f16 and bf16 as 16-bit patterns, converted from and to float with
// round-to-nearest-even: how host data reaches a half-precision kernel.

#include "runtime/Spec.h"

#include <cstdint>
#include <cstring>
#include <string>

namespace attnc {

enum class HalfKind { F16, BF16 };

inline uint16_t toHalfBits(float x, HalfKind kind) {
  if (kind == HalfKind::BF16) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) // NaN stays a (quiet) NaN
      return static_cast<uint16_t>((u >> 16) | 0x40);
    u += 0x7fff + ((u >> 16) & 1);
    return static_cast<uint16_t>(u >> 16);
  }
  _Float16 h = static_cast<_Float16>(x);
  uint16_t bits;
  std::memcpy(&bits, &h, 2);
  return bits;
}

inline float fromHalfBits(uint16_t bits, HalfKind kind) {
  if (kind == HalfKind::BF16) {
    uint32_t u = uint32_t(bits) << 16;
    float x;
    std::memcpy(&x, &u, 4);
    return x;
  }
  _Float16 h;
  std::memcpy(&h, &bits, 2);
  return static_cast<float>(h);
}

/// `x` rounded to the nearest value of the half type.
inline float roundToHalf(float x, HalfKind kind) {
  return fromHalfBits(toHalfBits(x, kind), kind);
}

/// The half type of a 16-bit DType's bit patterns: F16 for DType::F16,
/// else BF16 (callers pass F16 or BF16).
inline HalfKind halfKindOf(DType type) {
  return type == DType::F16 ? HalfKind::F16 : HalfKind::BF16;
}

/// The half type an element type names ("f16", "bf16"); false otherwise.
inline bool halfKindOf(const std::string &elementType, HalfKind &kind) {
  if (elementType == "f16")
    kind = HalfKind::F16;
  else if (elementType == "bf16")
    kind = HalfKind::BF16;
  else
    return false;
  return true;
}

} // namespace attnc

#endif
