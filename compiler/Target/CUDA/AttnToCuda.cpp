// attn.kernel -> CUDA C++ (FlashAttention-2-style forward) for NVRTC. The
// kernel body is a fixed template (FlashForward.cuh.inc); this file emits
// what it is specialised on: the configuration, the Params struct (from
// compiler/KernelAbi.h) and the mask, score and key-range functions (from
// dialect/Mods.h, printed by ModPrinter). The schedule is CudaSchedule.cpp's.
#include "compiler/Target/CUDA/AttnToCuda.h"

#include "compiler/KernelAbi.h"
#include "compiler/Target/CUDA/ModPrinter.h"

#include "llvm/Support/FormatVariadic.h"

#include <cstdio>

using namespace mlir;
using namespace mlir::attn;

namespace {
const char *kFlashForward =
#include "compiler/Target/CUDA/FlashForward.cuh.inc.h"
    ;

std::string number(double v) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.9ef", v);
  return buffer;
}
} // namespace

namespace {

/// The Params struct, printed from the one ABI description, with a
/// static_assert on every offset and on its size: the runtime packs the
/// same layout (runtime/cuda/CudaKernel.cpp), so a drift cannot compile.
std::string paramsStruct(const abi::ParamsLayout &layout) {
  std::string members, checks;
  for (const abi::ParamField &f : layout.fields) {
    std::string array = f.count > 1 || f.kind == abi::ParamField::Sizes ||
                                f.kind == abi::ParamField::Strides
                            ? llvm::formatv("[{0}]", f.count).str()
                            : "";
    std::string type = f.type;
    bool pointer = !type.empty() && type.back() == '*';
    members += llvm::formatv("  {0}{1}{2}{3};\n", type, pointer ? "" : " ",
                             f.name, array)
                   .str();
    checks += llvm::formatv("static_assert(ATTNC_OFFSETOF(Params, {0}) == "
                            "{1}, \"Params.{0} drifted from KernelAbi.h\");\n",
                            f.name, f.offset)
                  .str();
  }
  return "struct Params {\n" + members + "};\n" + checks +
         llvm::formatv("static_assert(sizeof(Params) == {0}, \"Params drifted "
                       "from KernelAbi.h\");\n",
                       layout.bytes)
             .str();
}

/// The key tiles a CTA visits. Dense: the key range's tiles. Block-sparse:
/// the tiles of the kv blocks its query block lists, partial ones first
/// (masked), then full ones (trusted), read through load_global. Host
/// memory is validated at the boundary; a block mask in GPU memory is not,
/// so counts are clamped to [0, kv blocks] and indices into [0, kv blocks):
/// a bad one gives wrong numbers, never an access outside the tensors.
std::string kvTiles(KernelOp op) {
  BlockSparseAttr sparse = op.getBlockSparseAttr();
  if (!sparse)
    return R"(struct KvTiles {
  int begin, count;
  __device__ __forceinline__ int start(int t) const { return begin + t * BN; }
  __device__ __forceinline__ bool trusted(int) const { return false; }
};
__device__ __forceinline__ KvTiles attnc_kv_tiles(const Params &, long long, long long,
                                                 int, const long long (&range)[4]) {
  int lo = (int)range[0], hi = (int)range[1];
  return {lo, hi > lo ? (hi - lo + BN - 1) / BN : 0};
}
)";
  return "constexpr int BLOCK_Q = " + std::to_string(sparse.getBlockQ()) +
         ", BLOCK_KV = " + std::to_string(sparse.getBlockKv()) +
         R"(, TILES_PER_BLOCK = BLOCK_KV / BN;
struct KvTiles {
  const int *partial, *full;
  long long partial_stride, full_stride;
  int partial_count, count;
  int kv_blocks;
  __device__ __forceinline__ int block(int t) const {
    int i = t / TILES_PER_BLOCK;
    int b = i < partial_count ? load_global(partial + i * partial_stride)
                              : load_global(full + (i - partial_count) * full_stride);
    return min(max(b, 0), kv_blocks - 1);
  }
  __device__ __forceinline__ int start(int t) const {
    return block(t) * BLOCK_KV + (t % TILES_PER_BLOCK) * BN;
  }
  __device__ __forceinline__ bool trusted(int t) const {
    return t / TILES_PER_BLOCK >= partial_count;
  }
};
__device__ __forceinline__ KvTiles attnc_kv_tiles(const Params &p, long long b, long long h,
                                                 int q0, const long long (&)[4]) {
  long long bb = p.kv_num_blocks_size[0] == 1 ? 0 : b;
  long long hh = p.kv_num_blocks_size[1] == 1 ? 0 : h;
  long long qb = q0 / BLOCK_Q;
  KvTiles kv;
  kv.partial_count = load_global(p.kv_num_blocks + bb * p.kv_num_blocks_stride[0] +
                                 hh * p.kv_num_blocks_stride[1] + qb * p.kv_num_blocks_stride[2]);
  int full_count = load_global(p.full_kv_num_blocks + bb * p.full_kv_num_blocks_stride[0] +
                               hh * p.full_kv_num_blocks_stride[1] +
                               qb * p.full_kv_num_blocks_stride[2]);
  kv.partial = p.kv_indices + bb * p.kv_indices_stride[0] + hh * p.kv_indices_stride[1] +
               qb * p.kv_indices_stride[2];
  kv.full = p.full_kv_indices + bb * p.full_kv_indices_stride[0] +
            hh * p.full_kv_indices_stride[1] + qb * p.full_kv_indices_stride[2];
  kv.partial_stride = p.kv_indices_stride[3];
  kv.full_stride = p.full_kv_indices_stride[3];
  kv.kv_blocks = (int)p.kv_indices_size[3];
  kv.partial_count = min(max(kv.partial_count, 0), kv.kv_blocks);
  full_count = min(max(full_count, 0), kv.kv_blocks - kv.partial_count);
  kv.count = (kv.partial_count + full_count) * TILES_PER_BLOCK;
  return kv;
}
)";
}

} // namespace

std::string mlir::attn::cudaEntryName(KernelOp op) {
  return ("attnc_" + op.getSymName()).str();
}

std::vector<abi::Arg> mlir::attn::cudaKernelArgs(KernelOp op) {
  abi::ElementType element = op.getElementType().isBF16() ? abi::ElementType::BF16
                                                          : abi::ElementType::F16;
  // Paged kernels are refused before this (the emitter's support check).
  return abi::kernelArgs(element, element, op.getLseOrDefault(),
                         /*paged=*/false,
                         static_cast<bool>(op.getBlockSparseAttr()),
                         abi::inputArgs(op.getInputsAttr()));
}

FailureOr<std::string> mlir::attn::translateKernelToCuda(KernelOp op,
                                                          StringRef arch,
                                                          CudaSchedule *chosen) {
  FailureOr<CudaSchedule> schedule = selectCudaSchedule(op, arch);
  if (failed(schedule))
    return failure();
  if (chosen)
    *chosen = *schedule;
  bool bf16 = op.getElementType().isBF16();
  abi::ParamsLayout layout = abi::cudaParamsLayout(cudaKernelArgs(op));
  std::string storeLse =
      op.getLseOrDefault()
          ? "__device__ __forceinline__ void store_lse(const Params &p, long long b, "
            "long long h, long long row, float value) {\n"
            "  store_global(p.lse + b * p.lse_stride[0] + h * p.lse_stride[1] + "
            "row * p.lse_stride[2], value);\n}\n"
          : "__device__ __forceinline__ void store_lse(const Params &, long long, "
            "long long, long long, float) {}\n";
  auto pad16 = [](int64_t d) { return (d + 15) / 16 * 16; };
  std::string out = llvm::formatv(
      R"(// Generated by attnc from attn.kernel @{0} for {1}.
// block_m {2}, block_n {3}, warps {4}, stages {5}; {6} bytes of shared memory.
#include "attnc_target.cuh"
typedef {7} T;
typedef {8} T2;
#define FLOAT2_TO_T2 {9}
#define KERNEL_NAME {17}
constexpr int HQ = {10}, HKV = {11}, DQK = {12}, DV = {13}, DQKP = {14}, DVP = {15};
constexpr int BM = {2}, BN = {3}, WARPS = {4}, STAGES = {5};
constexpr float SCALE = {16};
)",
      op.getSymName(), arch, schedule->blockM, schedule->blockN,
      schedule->warps, schedule->stages, schedule->sharedBytes,
      bf16 ? "__nv_bfloat16" : "__half", bf16 ? "__nv_bfloat162" : "__half2",
      bf16 ? "__float22bfloat162_rn" : "__float22half2_rn", op.getQHeads(),
      op.getKvHeadsOrDefault(), op.getDQk(), op.getDvOrDefault(),
      pad16(op.getDQk()), pad16(op.getDvOrDefault()),
      number(op.getScaleOrDefault()), cudaEntryName(op));
  out += paramsStruct(layout) + storeLse + kvTiles(op);
  // The mask, score and range functions: the one definition (Mods.h).
  out += printCudaMods(buildModDefinitions(op), op);
  return out + kFlashForward;
}
