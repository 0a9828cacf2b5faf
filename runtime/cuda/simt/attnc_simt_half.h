// IEEE binary16 (__half) and bfloat16 (__nv_bfloat16) as 16-bit patterns,
// converted from and to float with round-to-nearest-even, including
// subnormals, infinities and NaNs (which stay NaN, quieted).
//
// Part of the emulator's host prelude (attnc_target.cuh includes it), and
// included by the emulator's tests, so one implementation serves both. It
// uses integer arithmetic only, so it does not depend on the host
// compiler's _Float16 support or on the FPU's rounding mode.
#ifndef ATTNC_SIMT_HALF_H
#define ATTNC_SIMT_HALF_H

#include <stdint.h>
#include <string.h>

namespace attnc_simt {

inline uint32_t floatBits(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  return u;
}
inline float bitsFloat(uint32_t u) {
  float x;
  memcpy(&x, &u, 4);
  return x;
}

/// v >> shift, rounded to nearest, ties to even (1 <= shift <= 31).
inline uint32_t shiftRoundEven(uint32_t v, int shift) {
  uint32_t q = v >> shift, rem = v & ((1u << shift) - 1),
           half = 1u << (shift - 1);
  return q + (rem > half || (rem == half && (q & 1)));
}

inline uint16_t floatToHalfBits(float x) {
  uint32_t u = floatBits(x);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000);
  uint32_t mag = u & 0x7fffffff;
  if (mag > 0x7f800000) // NaN: quiet it, keep the top of the payload
    return static_cast<uint16_t>(sign | 0x7e00 | ((mag >> 13) & 0x3ff));
  // 65520 = 0x477ff000 lies halfway between the largest half (65504, odd
  // mantissa) and 2^16: it and everything above round to infinity.
  if (mag >= 0x477ff000)
    return static_cast<uint16_t>(sign | 0x7c00);
  uint32_t exp = mag >> 23, mant = (mag & 0x7fffff) | 0x800000;
  if (mag < 0x38800000) { // below 2^-14: a half subnormal (or zero)
    // 2^-25 is halfway between 0 and the smallest subnormal 2^-24: ties
    // to even give 0, as does anything smaller.
    if (mag <= 0x33000000)
      return sign;
    // value = mant * 2^(exp - 150); in units of 2^-24: mant >> (126 - exp).
    return static_cast<uint16_t>(
        sign | shiftRoundEven(mant, 126 - static_cast<int>(exp)));
  }
  // Normal: rebias the exponent (127 -> 15) and round away 13 mantissa
  // bits; a carry out of the mantissa correctly bumps the exponent.
  uint32_t bits = ((exp - 112) << 10) + shiftRoundEven(mant & 0x7fffff, 13);
  return static_cast<uint16_t>(sign | bits);
}

inline float halfBitsToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp == 0x1f) // inf or NaN
    return bitsFloat(sign | 0x7f800000 | (mant << 13));
  if (exp == 0) { // zero or subnormal: mant * 2^-24, exact in float
    float mag = static_cast<float>(mant) * 5.9604644775390625e-8f;
    return sign ? -mag : mag;
  }
  return bitsFloat(sign | ((exp + 112) << 23) | (mant << 13));
}

inline uint16_t floatToBfloat16Bits(float x) {
  uint32_t u = floatBits(x);
  if ((u & 0x7fffffff) >
      0x7f800000) // NaN: quiet it, keep the top of the payload
    return static_cast<uint16_t>((u >> 16) | 0x40);
  // bf16 is the top half of a float: round the low 16 bits away. The carry
  // runs into the exponent as it should (up to infinity), and float
  // subnormals are bf16 subnormals.
  // (No overflow: the largest non-NaN pattern, 0xff800000, has room.)
  return static_cast<uint16_t>((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

inline float bfloat16BitsToFloat(uint16_t b) {
  return bitsFloat(static_cast<uint32_t>(b) << 16);
}

} // namespace attnc_simt

#endif
