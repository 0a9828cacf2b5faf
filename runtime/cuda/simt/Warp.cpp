#include "runtime/cuda/simt/Warp.h"

#include "runtime/cuda/simt/attnc_simt_half.h"

#include <cstring>

namespace attnc::simt {
namespace {

float toFloat(MmaType type, uint16_t bits) {
  return type == MmaType::F16 ? attnc_simt::halfBitsToFloat(bits)
                              : attnc_simt::bfloat16BitsToFloat(bits);
}

/// Element `index` (0 or 1) of a packed pair: PTX keeps the lower-numbered
/// element of an .f16x2 / .bf16x2 register in its low 16 bits.
uint16_t half(uint32_t reg, int index) {
  return static_cast<uint16_t>(index ? reg >> 16 : reg & 0xffff);
}

} // namespace

// PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type"
// (9.7.14.5.8; Figure 79 for A, and the B and C/D figures after it). With
// groupID = laneid >> 2 and threadID_in_group = laneid % 4:
//   A (16x16, .row), elements a0..a7 = the two halves of a[0..3]:
//     row = groupID      for ai where 0 <= i < 2 || 4 <= i < 6, else groupID +
//     8 col = threadID_in_group * 2 + (i & 1)  for i < 4, that + 8 for i >= 4
//   B (16x8, .col), elements b0..b3 = the halves of b[0..1]:
//     row = threadID_in_group * 2 + (i & 1)  for i < 2, that + 8 for i >= 2
//     col = groupID
//   C, D (16x8 f32), elements c0..c3:
//     row = groupID for i < 2, groupID + 8 for i >= 2
//     col = threadID_in_group * 2 + (i & 1)
void mmaM16N8K16(MmaType type, const uint32_t (&a)[kWarpSize][4],
                 const uint32_t (&b)[kWarpSize][2], float (&c)[kWarpSize][4]) {
  float A[16][16], B[16][8], C[16][8];
  for (int lane = 0; lane < kWarpSize; ++lane) {
    int group = lane >> 2, inGroup = lane % 4;
    for (int i = 0; i < 8; ++i) {
      int row = (i < 2 || (i >= 4 && i < 6)) ? group : group + 8;
      int col = inGroup * 2 + (i & 1) + (i >= 4 ? 8 : 0);
      A[row][col] = toFloat(type, half(a[lane][i / 2], i % 2));
    }
    for (int i = 0; i < 4; ++i) {
      int row = inGroup * 2 + (i & 1) + (i >= 2 ? 8 : 0);
      B[row][group] = toFloat(type, half(b[lane][i / 2], i % 2));
    }
    for (int i = 0; i < 4; ++i)
      C[i < 2 ? group : group + 8][inGroup * 2 + (i & 1)] = c[lane][i];
  }
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 8; ++n) {
      float sum = C[m][n];
      for (int k = 0; k < 16; ++k)
        sum += A[m][k] * B[k][n]; // the product is exact in f32
      C[m][n] = sum;
    }
  for (int lane = 0; lane < kWarpSize; ++lane) {
    int group = lane >> 2, inGroup = lane % 4;
    for (int i = 0; i < 4; ++i)
      c[lane][i] = C[i < 2 ? group : group + 8][inGroup * 2 + (i & 1)];
  }
}

// PTX ISA, "Warp-level matrix load instruction: ldmatrix" (9.7.14.5.15).
// For .x4, threads 0-7, 8-15, 16-23 and 24-31 supply the addresses of rows
// 0-7 of matrices 0, 1, 2 and 3; each row is eight contiguous 16-bit
// elements. Destination register j of every thread holds a fragment of
// matrix j laid out as in the figure "ldmatrix fragment layout for one 8x8
// matrix with 16-bit elements": thread laneid holds row laneid / 4,
// elements 2 * (laneid % 4) and 2 * (laneid % 4) + 1 (the lower one in the
// low half). With .trans the matrix is read column-major: the same thread
// holds column laneid / 4, rows 2 * (laneid % 4) and 2 * (laneid % 4) + 1.
void ldmatrixX4(const uint8_t (&rows)[kWarpSize][16], bool trans,
                uint32_t (&out)[kWarpSize][4]) {
  auto element = [&](int matrix, int row, int col) {
    uint16_t e;
    std::memcpy(&e, &rows[matrix * 8 + row][col * 2], 2);
    return static_cast<uint32_t>(e);
  };
  for (int lane = 0; lane < kWarpSize; ++lane) {
    int r = lane / 4, c = 2 * (lane % 4);
    for (int j = 0; j < 4; ++j)
      out[lane][j] = trans ? element(j, c, r) | element(j, c + 1, r) << 16
                           : element(j, r, c) | element(j, r, c + 1) << 16;
  }
}

// CUDA C++ Programming Guide, "Warp Shuffle Functions": __shfl_xor_sync
// reads from lane laneid ^ laneMask; with width < warpSize, a lane may read
// from its own or an earlier group of `width` lanes, and gets its own value
// when the source lies in a later group.
void shuffleXor(const uint64_t (&in)[kWarpSize],
                const int (&laneMask)[kWarpSize], const int (&width)[kWarpSize],
                uint64_t (&out)[kWarpSize]) {
  for (int lane = 0; lane < kWarpSize; ++lane) {
    int source = lane ^ laneMask[lane];
    int groupEnd = (lane / width[lane] + 1) * width[lane];
    out[lane] = source < 0 || source >= groupEnd ? in[lane] : in[source];
  }
}

} // namespace attnc::simt
