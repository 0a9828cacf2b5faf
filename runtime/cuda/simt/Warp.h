#ifndef ATTNC_RUNTIME_CUDA_SIMT_WARP_H
#define ATTNC_RUNTIME_CUDA_SIMT_WARP_H

// What the warp-collective PTX instructions compute, over all 32 lanes'
// operands at once: pure functions, no fibers, no memory checks. The
// executor (Cta.cpp) gathers each lane's operands, calls one of these when
// the last lane of the warp arrives, and scatters the results back.
//
// Every layout follows NVIDIA's PTX ISA manual (section numbers and figures
// as in PTX ISA 9.x); the comments in Warp.cpp quote the rules.

#include <cstdint>

namespace attnc::simt {

constexpr int kWarpSize = 32;

enum class MmaType { F16, BF16 };

/// mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32 with
/// d = c: for every lane, a[lane] holds its four .f16x2 / .bf16x2 A
/// registers, b[lane] its two B registers, and c[lane] its four f32
/// accumulators, which are replaced by D = A * B + C. Products of two
/// 16-bit values are exact in f32; they are summed in f32 onto C in k order.
void mmaM16N8K16(MmaType type, const uint32_t (&a)[kWarpSize][4],
                 const uint32_t (&b)[kWarpSize][2], float (&c)[kWarpSize][4]);

/// ldmatrix.sync.aligned.m8n8.x4{.trans}.shared.b16: rows[lane] is the 16
/// bytes (eight 16-bit elements) at the row address lane `lane` supplied;
/// lanes 8j..8j+7 give rows 0..7 of matrix j. out[lane][j] receives that
/// lane's register of matrix j.
void ldmatrixX4(const uint8_t (&rows)[kWarpSize][16], bool trans,
                uint32_t (&out)[kWarpSize][4]);

/// __shfl_xor_sync over all 32 lanes (full mask): lane l receives the value
/// of lane l ^ laneMask[l], or keeps its own when that lane lies in a later
/// group of width[l] lanes (or outside the warp). Each width must be a power
/// of two in [1, 32].
void shuffleXor(const uint64_t (&in)[kWarpSize],
                const int (&laneMask)[kWarpSize], const int (&width)[kWarpSize],
                uint64_t (&out)[kWarpSize]);

} // namespace attnc::simt

#endif
