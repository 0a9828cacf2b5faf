// The emulator's PTX primitives against references written from NVIDIA's
// PTX ISA manual, and its f16/bf16 conversions against exact rounding. No
// kernel is compiled here.
#include "TestUtil.h"

#include "runtime/Half.h"
#include "runtime/cuda/simt/Warp.h"
#include "runtime/cuda/simt/attnc_simt_half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

using namespace attnc::simt;
using attnc_simt::bfloat16BitsToFloat;
using attnc_simt::floatToBfloat16Bits;
using attnc_simt::floatToHalfBits;
using attnc_simt::halfBitsToFloat;

namespace {

// ---- The tables of "Matrix Fragments for mma.m16n8k16 with floating point
// type", written out as the manual states them (element i of a lane's
// fragment; register i / 2, half i % 2).
struct RowCol {
  int row, col;
};
RowCol aElement(int laneid, int i) {
  int groupID = laneid >> 2, threadID_in_group = laneid % 4;
  int row = ((0 <= i && i < 2) || (4 <= i && i < 6)) ? groupID : groupID + 8;
  int col = i < 4 ? (threadID_in_group * 2) + (i & 0x1)
                  : (threadID_in_group * 2) + (i & 0x1) + 8;
  return {row, col};
}
RowCol bElement(int laneid, int i) {
  int groupID = laneid >> 2, threadID_in_group = laneid % 4;
  int row = i < 2 ? (threadID_in_group * 2) + (i & 0x1)
                  : (threadID_in_group * 2) + (i & 0x1) + 8;
  return {row, groupID};
}
RowCol cElement(int laneid, int i) {
  int groupID = laneid >> 2, threadID_in_group = laneid % 4;
  return {i < 2 ? groupID : groupID + 8, (threadID_in_group * 2) + (i & 0x1)};
}

uint16_t bitsOf(float x, MmaType t) {
  return t == MmaType::F16 ? floatToHalfBits(x) : floatToBfloat16Bits(x);
}
void setHalf(uint32_t &reg, int index, uint16_t bits) {
  reg = index ? (reg & 0xffffu) | uint32_t(bits) << 16
              : (reg & 0xffff0000u) | bits;
}

void checkMma(MmaType type, std::mt19937_64 &rng) {
  std::uniform_real_distribution<float> dist(-2.f, 2.f);
  float A[16][16], B[16][8], C[16][8];
  auto rounded = [&](float x) {
    uint16_t b = bitsOf(x, type);
    return type == MmaType::F16 ? halfBitsToFloat(b) : bfloat16BitsToFloat(b);
  };
  for (auto &row : A)
    for (float &x : row)
      x = rounded(dist(rng));
  for (auto &row : B)
    for (float &x : row)
      x = rounded(dist(rng));
  for (auto &row : C)
    for (float &x : row)
      x = dist(rng);
  uint32_t a[kWarpSize][4] = {}, b[kWarpSize][2] = {};
  float c[kWarpSize][4];
  for (int lane = 0; lane < kWarpSize; ++lane) {
    for (int i = 0; i < 8; ++i) {
      RowCol e = aElement(lane, i);
      setHalf(a[lane][i / 2], i % 2, bitsOf(A[e.row][e.col], type));
    }
    for (int i = 0; i < 4; ++i) {
      RowCol e = bElement(lane, i);
      setHalf(b[lane][i / 2], i % 2, bitsOf(B[e.row][e.col], type));
    }
    for (int i = 0; i < 4; ++i) {
      RowCol e = cElement(lane, i);
      c[lane][i] = C[e.row][e.col];
    }
  }
  mmaM16N8K16(type, a, b, c);
  for (int lane = 0; lane < kWarpSize; ++lane)
    for (int i = 0; i < 4; ++i) {
      RowCol e = cElement(lane, i);
      double want = C[e.row][e.col], scale = std::abs(want);
      for (int k = 0; k < 16; ++k) {
        want += double(A[e.row][k]) * B[k][e.col];
        scale += std::abs(double(A[e.row][k]) * B[k][e.col]);
      }
      // Exact products, 16 f32 additions: within 16 ulps of the magnitudes.
      EXPECT_NEAR(c[lane][i], want, 16 * 0x1p-24 * scale)
          << "lane " << lane << " c" << i << " = D[" << e.row << "][" << e.col
          << "]";
    }
}

TEST(SimtPrimitives, MmaM16N8K16F16FollowsThePtxFragmentTables) {
  std::mt19937_64 rng(attnc::test::testSeed());
  for (int rep = 0; rep < 20; ++rep)
    checkMma(MmaType::F16, rng);
}

TEST(SimtPrimitives, MmaM16N8K16Bf16FollowsThePtxFragmentTables) {
  std::mt19937_64 rng(attnc::test::testSeed());
  for (int rep = 0; rep < 20; ++rep)
    checkMma(MmaType::BF16, rng);
}

TEST(SimtPrimitives, MmaMultipliesHalfValuesExactly) {
  // 2050 * 2050 = 4202500 needs 22 significand bits: exact in f32, far
  // from representable in f16. A product rounded to f16 would show.
  uint32_t a[kWarpSize][4] = {}, b[kWarpSize][2] = {};
  float c[kWarpSize][4] = {};
  uint16_t v = floatToHalfBits(2048.f) + 1; // 2050: f16 spacing is 2 above 2048
  float value = halfBitsToFloat(v);
  setHalf(a[0][0], 0, v); // lane 0, a0 = A[0][0]
  setHalf(b[0][0], 0, v); // lane 0, b0 = B[0][0]
  mmaM16N8K16(MmaType::F16, a, b, c);
  EXPECT_EQ(c[0][0], value * value); // c0 of lane 0 = D[0][0]
  EXPECT_EQ(double(c[0][0]), double(value) * value);
}

// ---- ldmatrix: "Warp-level matrix load instruction: ldmatrix". Each lane
// gets, from matrix j, row laneid / 4, elements 2 * (laneid % 4) and the
// next (.trans: column laneid / 4, rows 2 * (laneid % 4) and the next).
TEST(SimtPrimitives, LdmatrixX4GivesEachLaneItsRowPair) {
  std::mt19937_64 rng(attnc::test::testSeed());
  uint8_t rows[kWarpSize][16];
  for (auto &row : rows)
    for (uint8_t &byte : row)
      byte = static_cast<uint8_t>(rng());
  auto element = [&](int matrix, int r, int c) {
    return uint32_t(rows[matrix * 8 + r][2 * c]) |
           uint32_t(rows[matrix * 8 + r][2 * c + 1]) << 8;
  };
  uint32_t out[kWarpSize][4], outT[kWarpSize][4];
  ldmatrixX4(rows, false, out);
  ldmatrixX4(rows, true, outT);
  for (int lane = 0; lane < kWarpSize; ++lane)
    for (int j = 0; j < 4; ++j) {
      int g = lane / 4, t = lane % 4;
      EXPECT_EQ(out[lane][j], element(j, g, 2 * t) | element(j, g, 2 * t + 1)
                                                         << 16)
          << "lane " << lane << " matrix " << j;
      EXPECT_EQ(outT[lane][j], element(j, 2 * t, g) | element(j, 2 * t + 1, g)
                                                          << 16)
          << "lane " << lane << " matrix " << j << " .trans";
    }
}

/// The addressing the FlashForward kernel uses, composed with ldmatrix,
/// must yield exactly the mma fragments of the PTX tables: for the Q tile
/// (A, row-major, .x4), K (B = K^T: K row-major is B column-major, .x4) and
/// V (B row-major, .x4.trans).
TEST(SimtPrimitives, LdmatrixWithTheKernelsAddressingYieldsMmaFragments) {
  uint16_t Q[16][16], K[16][16], V[16][16]; // distinct element ids
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c) {
      Q[r][c] = static_cast<uint16_t>(0x1000 + r * 16 + c);
      K[r][c] = static_cast<uint16_t>(0x2000 + r * 16 + c);
      V[r][c] = static_cast<uint16_t>(0x3000 + r * 16 + c);
    }
  uint8_t q[kWarpSize][16], k[kWarpSize][16], v[kWarpSize][16];
  for (int lane = 0; lane < kWarpSize; ++lane) {
    int j = lane / 8;
    // ldmatrix_x4(a, sQ + (lane % 16) * STRIDE + (lane / 16) * 8)
    std::memcpy(q[lane], &Q[lane % 16][(lane / 16) * 8], 16);
    // ldmatrix_x4(kb, k_tile + ((j / 2) * 8 + lane % 8) * STRIDE + (j % 2) * 8)
    std::memcpy(k[lane], &K[(j / 2) * 8 + lane % 8][(j % 2) * 8], 16);
    // ldmatrix_x4_trans(vb, v_tile + ((j % 2) * 8 + lane % 8) * STRIDE + (j /
    // 2) * 8)
    std::memcpy(v[lane], &V[(j % 2) * 8 + lane % 8][(j / 2) * 8], 16);
  }
  uint32_t a[kWarpSize][4], kb[kWarpSize][4], vb[kWarpSize][4];
  ldmatrixX4(q, false, a);
  ldmatrixX4(k, false, kb);
  ldmatrixX4(v, true, vb);
  auto half = [](uint32_t reg, int i) {
    return uint16_t(i ? reg >> 16 : reg & 0xffff);
  };
  for (int lane = 0; lane < kWarpSize; ++lane) {
    for (int i = 0; i < 8; ++i) {
      RowCol e = aElement(lane, i);
      EXPECT_EQ(half(a[lane][i / 2], i % 2), Q[e.row][e.col])
          << "A, lane " << lane << " a" << i;
    }
    // kb[0..1]: B of n-tile 0 (keys 0-7), kb[2..3]: n-tile 1 (keys 8-15);
    // B[kdim][n] = K[n][kdim].
    for (int tile = 0; tile < 2; ++tile)
      for (int i = 0; i < 4; ++i) {
        RowCol e = bElement(lane, i);
        EXPECT_EQ(half(kb[lane][2 * tile + i / 2], i % 2),
                  K[tile * 8 + e.col][e.row])
            << "K, lane " << lane << " n-tile " << tile << " b" << i;
        // vb: B[key][d] = V[key][d], d-tiles 0 and 1.
        EXPECT_EQ(half(vb[lane][2 * tile + i / 2], i % 2),
                  V[e.row][tile * 8 + e.col])
            << "V, lane " << lane << " d-tile " << tile << " b" << i;
      }
  }
}

TEST(SimtPrimitives, ShuffleXorWithWidths) {
  uint64_t in[kWarpSize], out[kWarpSize];
  for (int l = 0; l < kWarpSize; ++l)
    in[l] = 100 + l;
  int masks[kWarpSize], widths[kWarpSize];
  auto run = [&](int laneMask, int width) {
    std::fill(std::begin(masks), std::end(masks), laneMask);
    std::fill(std::begin(widths), std::end(widths), width);
    shuffleXor(in, masks, widths, out);
  };
  run(1, 32);
  for (int l = 0; l < kWarpSize; ++l)
    EXPECT_EQ(out[l], 100u + (l ^ 1));
  run(16, 32);
  for (int l = 0; l < kWarpSize; ++l)
    EXPECT_EQ(out[l], 100u + (l ^ 16));
  // width 8, mask 8: lanes 0-7 would read from the later group 8-15 and
  // keep their own value; lanes 8-15 read from the earlier group 0-7.
  run(8, 8);
  for (int l = 0; l < kWarpSize; ++l)
    EXPECT_EQ(out[l], (l & 8) ? 100u + (l ^ 8) : 100u + l) << "lane " << l;
  run(3, 4);
  for (int l = 0; l < kWarpSize; ++l)
    EXPECT_EQ(out[l], 100u + (l ^ 3));
}

// ---- Conversions ----------------------------------------------------------

/// The float halfway between two adjacent 16-bit values (exact in float:
/// it needs one more significand bit than the 16-bit type has).
template <typename ToFloat> float midpoint(uint16_t lo, ToFloat toFloat) {
  return static_cast<float>(
      (double(toFloat(lo)) + double(toFloat(uint16_t(lo + 1)))) / 2);
}

TEST(SimtPrimitives, HalfConversionsRoundToNearestEven) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    uint16_t bits = static_cast<uint16_t>(h);
    float x = halfBitsToFloat(bits);
    bool nan = (bits & 0x7c00) == 0x7c00 && (bits & 0x3ff);
    // Widening agrees with the compiler's _Float16 (runtime/Half.h).
    float viaCompiler = attnc::fromHalfBits(bits, attnc::HalfKind::F16);
    if (nan) {
      EXPECT_TRUE(std::isnan(x)) << std::hex << h;
      EXPECT_TRUE(std::isnan(halfBitsToFloat(floatToHalfBits(x))));
      continue;
    }
    EXPECT_EQ(std::memcmp(&x, &viaCompiler, 4), 0) << std::hex << h;
    EXPECT_EQ(floatToHalfBits(x), bits) << "round trip of " << std::hex << h;
    // Ties between this value and the next go to the even one; a float
    // ulp off the tie goes to the nearer one.
    // The tie between 65504 and infinity is checked below.
    if ((bits & 0x7fff) >= 0x7bff)
      continue;
    float mid = midpoint(bits, halfBitsToFloat);
    uint16_t even = (bits & 1) ? uint16_t(bits + 1) : bits;
    EXPECT_EQ(floatToHalfBits(mid), even) << "tie above " << std::hex << h;
    EXPECT_EQ(floatToHalfBits(std::nextafter(mid, 0.f)), bits) << std::hex << h;
    EXPECT_EQ(floatToHalfBits(std::nextafter(mid, mid * 2)), uint16_t(bits + 1))
        << std::hex << h;
  }
  EXPECT_EQ(floatToHalfBits(INFINITY), 0x7c00);
  EXPECT_EQ(floatToHalfBits(-INFINITY), 0xfc00);
  EXPECT_EQ(floatToHalfBits(65520.f), 0x7c00); // the overflow tie
  EXPECT_EQ(floatToHalfBits(std::nextafter(65520.f, 0.f)), 0x7bff); // 65504
  EXPECT_EQ(floatToHalfBits(1e-8f), 0x0000);
  EXPECT_EQ(floatToHalfBits(-1e-8f), 0x8000);
  EXPECT_EQ(floatToHalfBits(0x1p-25f),
            0x0000); // the tie with the smallest subnormal
  EXPECT_EQ(floatToHalfBits(std::nextafter(0x1p-25f, 1.f)), 0x0001);
  uint16_t nan = floatToHalfBits(NAN);
  EXPECT_TRUE((nan & 0x7c00) == 0x7c00 && (nan & 0x3ff)) << std::hex << nan;
  // Random floats across the range agree with the compiler's conversion.
  std::mt19937_64 rng(attnc::test::testSeed());
  for (int i = 0; i < 200000; ++i) {
    uint32_t u = static_cast<uint32_t>(rng());
    float x;
    std::memcpy(&x, &u, 4);
    if (std::isnan(x))
      continue;
    ASSERT_EQ(floatToHalfBits(x), attnc::toHalfBits(x, attnc::HalfKind::F16))
        << x;
  }
}

TEST(SimtPrimitives, Bfloat16ConversionsRoundToNearestEven) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    uint16_t bits = static_cast<uint16_t>(h);
    float x = bfloat16BitsToFloat(bits);
    if (std::isnan(x)) {
      EXPECT_TRUE(std::isnan(bfloat16BitsToFloat(floatToBfloat16Bits(x))));
      continue;
    }
    EXPECT_EQ(floatToBfloat16Bits(x), bits)
        << "round trip of " << std::hex << h;
    if ((bits & 0x7fff) >=
        0x7f7f) // the largest finite value's tie is infinity's
      continue;
    float mid = midpoint(bits, bfloat16BitsToFloat);
    uint16_t even = (bits & 1) ? uint16_t(bits + 1) : bits;
    EXPECT_EQ(floatToBfloat16Bits(mid), even) << "tie above " << std::hex << h;
    EXPECT_EQ(floatToBfloat16Bits(std::nextafter(mid, 0.f)), bits)
        << std::hex << h;
    EXPECT_EQ(floatToBfloat16Bits(std::nextafter(mid, mid * 2)),
              uint16_t(bits + 1))
        << std::hex << h;
  }
  EXPECT_EQ(floatToBfloat16Bits(INFINITY), 0x7f80);
  EXPECT_EQ(floatToBfloat16Bits(-INFINITY), 0xff80);
  EXPECT_EQ(floatToBfloat16Bits(3.4e38f),
            0x7f80); // past the largest bf16: overflow
  uint16_t nan = floatToBfloat16Bits(NAN), negNan = floatToBfloat16Bits(-NAN);
  EXPECT_TRUE(std::isnan(bfloat16BitsToFloat(nan)));
  EXPECT_TRUE(std::isnan(bfloat16BitsToFloat(negNan)));
  // A NaN whose payload sits in the dropped bits must not become infinity.
  uint32_t lowNan = 0x7f800001;
  float lowNanF;
  std::memcpy(&lowNanF, &lowNan, 4);
  EXPECT_TRUE(std::isnan(bfloat16BitsToFloat(floatToBfloat16Bits(lowNanF))));
  std::mt19937_64 rng(attnc::test::testSeed());
  for (int i = 0; i < 200000; ++i) {
    uint32_t u = static_cast<uint32_t>(rng());
    float x;
    std::memcpy(&x, &u, 4);
    if (std::isnan(x))
      continue;
    ASSERT_EQ(floatToBfloat16Bits(x),
              attnc::toHalfBits(x, attnc::HalfKind::BF16))
        << x;
  }
}

} // namespace
