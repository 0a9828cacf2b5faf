// attn.kernel -> CUDA C++ (FlashAttention-2-style forward) for NVRTC. The
// kernel body is a fixed template (FlashForward.cuh.inc); this file emits
// what it is specialised on: the configuration, the Params struct (from
// compiler/KernelAbi.h) and the mask, score and key-range functions (from
// dialect/Mods.h, printed by ModPrinter). The schedule is CudaSchedule.cpp's.
#include "compiler/Target/CUDA/AttnToCuda.h"

#include "compiler/KernelAbi.h"
#include "compiler/Target/CUDA/ModPrinter.h"

#include "llvm/Support/FormatVariadic.h"

#include <cstddef>
#include <cstdio>

using namespace mlir;
using namespace mlir::attn;

namespace {
const char *kFlashForward =
#include "compiler/Target/CUDA/FlashForward.cuh.inc.h"
    ;
const char *kMergeKernel =
#include "compiler/Target/CUDA/MergeKernel.cuh.inc.h"
;
const char *kLinearKernel =
#include "compiler/Target/CUDA/LinearKernel.cuh.inc.h"
    ;

std::string number(double v) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.9ef", v);
  return buffer;
}
} // namespace

namespace {

/// The generated Params' static_asserts against compiler/KernelAbi.h's
/// struct, which the runtime packs by.
std::string offsetCheck(const char *field, size_t offset) {
  return llvm::formatv("static_assert(ATTNC_OFFSETOF(Params, {0}) == {1}, "
                       "\"Params.{0} drifted from KernelAbi.h\");\n",
                       field, offset);
}
std::string sizeCheck(size_t size) {
  return llvm::formatv("static_assert(sizeof(Params) == {0}, \"Params "
                       "drifted from KernelAbi.h\");\n",
                       size);
}

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
    checks += offsetCheck(f.name.c_str(), f.offset);
  }
  return "struct Params {\n" + members + "};\n" + checks + sizeCheck(layout.bytes);
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

namespace {
abi::Sequences sequencesOf(KernelOp op) {
  Layout layout = op.getLayoutOrDefault();
  return layout == Layout::Varlen  ? abi::Sequences::Varlen
         : layout == Layout::Paged ? abi::Sequences::Paged
                                   : abi::Sequences::None;
}

/// Where a CTA's work lies. attnc_enter(p) returns the batch index the
/// mask, score and block-mask code see as b. Dense: grid.z is the batch.
/// Varlen and paged: grid.z is a row of the sequence table, and entering
/// moves q, o and lse (varlen: k and v too) to the sequence's first row,
/// zeroes their batch strides and sets p.seq_q and p.seq_kv to its
/// lengths, so that the body (and the regions, which read p.seq_q and
/// p.seq_kv) see one batch of the sequence's lengths. attnc_kv_rows(p,
/// base, stride, b, kvh) addresses row r of K or V: dense and varlen by
/// the seq stride, paged through the page list (page r / page_size, slot
/// r % page_size; the page ids were checked on the host).
std::string sequenceCode(KernelOp op) {
  abi::Sequences kind = sequencesOf(op);
  std::string rows = R"(struct KvRows {
  const T *base;
  long long stride;
  __device__ __forceinline__ const T *row(int r) const { return base + r * stride; }
};
__device__ __forceinline__ KvRows attnc_kv_rows(const Params &, const T *base,
                                               const long long (&stride)[3], long long b,
                                               int kvh) {
  return {base + b * stride[0] + kvh * stride[1], stride[2]};
}
)";
  if (kind == abi::Sequences::None)
    return "__device__ __forceinline__ int attnc_enter(Params &) { return blockIdx.z; }\n" +
           rows;
  std::string columns = llvm::formatv(
      "constexpr int SEQ_INDEX = {0}, SEQ_Q_BATCH = {1}, SEQ_Q_FIRST = {2}, "
      "SEQ_Q_LEN = {3}, SEQ_KV_LEN = {4}, SEQ_KV_FIRST = {5}, SEQ_PAGE_FIRST "
      "= {6};\n",
      int(abi::SeqIndex), int(abi::SeqQBatch), int(abi::SeqQFirst),
      int(abi::SeqQLen), int(abi::SeqKvLen), int(abi::SeqKvFirst),
      int(abi::SeqPageFirst));
  std::string lse = op.getLseOrDefault()
                        ? "  p.lse += q_batch * p.lse_stride[0] + q_first * p.lse_stride[2];\n"
                          "  p.lse_stride[0] = 0;\n"
                        : "";
  std::string kv =
      kind == abi::Sequences::Varlen
          ? "  const long long kv_first = load_global(row + SEQ_KV_FIRST * p.sequences_stride[1]);\n"
            "  p.k += kv_first * p.k_stride[2];\n"
            "  p.v += kv_first * p.v_stride[2];\n"
            "  p.k_stride[0] = p.v_stride[0] = 0;\n"
          : "  p.page_table += load_global(row + SEQ_PAGE_FIRST * p.sequences_stride[1]);\n";
  std::string enter = columns + R"(__device__ __forceinline__ int attnc_enter(Params &p) {
  const int *row = p.sequences + blockIdx.z * p.sequences_stride[0];
  const long long q_batch = load_global(row + SEQ_Q_BATCH * p.sequences_stride[1]);
  const long long q_first = load_global(row + SEQ_Q_FIRST * p.sequences_stride[1]);
  p.q += q_batch * p.q_stride[0] + q_first * p.q_stride[2];
  p.o += q_batch * p.o_stride[0] + q_first * p.o_stride[2];
  p.q_stride[0] = p.o_stride[0] = 0;
)" + lse + kv + R"(  p.seq_q = load_global(row + SEQ_Q_LEN * p.sequences_stride[1]);
  p.seq_kv = load_global(row + SEQ_KV_LEN * p.sequences_stride[1]);
  return load_global(row + SEQ_INDEX * p.sequences_stride[1]);
}
)";
  if (kind == abi::Sequences::Varlen)
    return enter + rows;
  return enter + R"(struct KvRows {
  const T *base;
  long long page_stride, slot_stride;
  const int *pages;
  int page_size;
  __device__ __forceinline__ const T *row(int r) const {
    return base + (long long)load_global(pages + r / page_size) * page_stride +
           (long long)(r % page_size) * slot_stride;
  }
};
__device__ __forceinline__ KvRows attnc_kv_rows(const Params &p, const T *base,
                                               const long long (&stride)[3], long long,
                                               int kvh) {
  return {base + kvh * stride[1], stride[0], stride[2], p.page_table, p.page_size};
}
)";
}
} // namespace

std::vector<abi::Arg> mlir::attn::cudaKernelArgs(KernelOp op) {
  abi::ElementType element = op.getElementType().isBF16() ? abi::ElementType::BF16
                                                          : abi::ElementType::F16;
  return abi::cudaKernelArgs(element, op.getLseOrDefault(), op.getProbsOrDefault(),
                             sequencesOf(op),
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
  std::string storeProb =
      op.getProbsOrDefault()
          ? "constexpr bool PROBS = true;\n"
            "__device__ __forceinline__ void store_prob(const Params &p, long long b, "
            "long long h, long long row, long long col, float value) {\n"
            "  store_global(p.probs + b * p.probs_stride[0] + h * p.probs_stride[1] + "
            "row * p.probs_stride[2] + col, value);\n}\n"
          : "constexpr bool PROBS = false;\n"
            "__device__ __forceinline__ void store_prob(const Params &, long long, "
            "long long, long long, long long, float) {}\n";
  out += paramsStruct(layout) + storeLse + storeProb + kvTiles(op) + sequenceCode(op);
  // The mask, score and range functions: the one definition (Mods.h).
  out += printCudaMods(buildModDefinitions(op), op);
  return out + kFlashForward;
}

std::string mlir::attn::mergeEntryName(StringRef elementType) {
  return ("attnc_merge_" + elementType).str();
}

FailureOr<std::string> mlir::attn::mergeKernelToCuda(StringRef elementType) {
  struct Type {
    const char *name, *type, *toFloat, *fromFloat;
  } types[] = {
      {"f32", "float", "x", "x"},
      {"f16", "__half", "__half2float(x)", "__float2half_rn(x)"},
      {"bf16", "__nv_bfloat16", "__bfloat162float(x)", "__float2bfloat16_rn(x)"},
  };
  const Type *t = nullptr;
  for (const Type &candidate : types)
    if (elementType == candidate.name)
      t = &candidate;
  if (!t)
    return failure();
  std::string out = llvm::formatv(
      R"(// Generated by attnc: the merge kernel for {0} parts (docs/merge.md).
#include "attnc_target.cuh"
typedef {1} T;
__device__ __forceinline__ float to_float(T x) {{ return {2}; }
__device__ __forceinline__ T from_float(float x) {{ return {3}; }
#define KERNEL_NAME {4}
constexpr int MAX_PARTS = {5}, WARPS = {6};
struct Params {{
  const T *parts[MAX_PARTS];
  const float *part_lse[MAX_PARTS];
  long long part_stride[MAX_PARTS][3];
  long long part_lse_stride[MAX_PARTS][3];
  T *o;
  float *lse;
  long long o_stride[3], lse_stride[3];
  int count, batch, heads, seq, dim, pad;
};
)",
      t->name, t->type, t->toFloat, t->fromFloat, mergeEntryName(elementType),
      abi::kMergeMaxParts, abi::kMergeWarps);
  auto check = [&](const char *field, size_t offset) {
    out += offsetCheck(field, offset);
  };
  using P = abi::MergeParams;
  check("part_lse", offsetof(P, partLse));
  check("part_stride", offsetof(P, partStride));
  check("part_lse_stride", offsetof(P, partLseStride));
  check("o", offsetof(P, o));
  check("lse", offsetof(P, lse));
  check("o_stride", offsetof(P, oStride));
  check("lse_stride", offsetof(P, lseStride));
  check("count", offsetof(P, count));
  check("dim", offsetof(P, dim));
  out += sizeCheck(sizeof(P));
  return out + kMergeKernel;
}

std::string mlir::attn::linearEntryName(KernelOp op) {
  return ("attnc_linear_" + op.getSymName()).str();
}

int64_t mlir::attn::linearChunk(KernelOp op) {
  ScheduleAttr s = op.getScheduleAttr();
  return s && s.getBlockN() > 0 ? s.getBlockN() : 32;
}

int64_t mlir::attn::linearSharedBytes(KernelOp op) {
  const int64_t dk = op.getDQk(), chunk = linearChunk(op);
  return 4 * (dk * abi::kLinearColumns + dk + chunk * dk +
              chunk * abi::kLinearColumns + abi::kLinearWarps * dk);
}

FailureOr<std::string> mlir::attn::linearKernelToCuda(KernelOp op) {
  if (op.getVariantOrDefault() != Variant::Linear)
    return op.emitOpError("is softmax attention; the cuda linear kernel runs "
                          "variant = linear");
  if (!op.getElementType().isF32() || !op.getKvElementTypeOrDefault().isF32())
    return op.emitOpError() << "the cuda backend runs linear attention on f32 "
                               "tensors for now, got element_type "
                            << op.getElementType() << " and kv_element_type "
                            << op.getKvElementTypeOrDefault();
  Layout layout = op.getLayoutOrDefault();
  if (layout != Layout::BSHD && layout != Layout::BHSD)
    return op.emitOpError() << "the cuda backend runs linear attention on "
                               "layout bshd or bhsd for now, got "
                            << stringifyLayout(layout);
  const int64_t shared = linearSharedBytes(op);
  if (shared > 48 * 1024)
    return op.emitOpError()
           << "linear attention with d_qk " << op.getDQk() << " and chunk (block_n) "
           << linearChunk(op) << " needs " << shared
           << " bytes of shared memory a CTA; the cuda kernel allows 49152 "
              "(choose a smaller block_n)";
  MaskAttr mask = op.getMaskOrDefault();
  std::string out = llvm::formatv(
      R"(// Generated by attnc: linear attention @{0} (docs/linear.md).
#include "attnc_target.cuh"
#define KERNEL_NAME {1}
constexpr int DK = {2}, DV = {3}, GROUP = {4}, KV_HEADS = {5}, CHUNK = {6}, WARPS = {7};
constexpr bool CAUSAL = {8}, NORMALIZE = {9};
constexpr float SCALE = {10}, EPS = {11};
struct Params {{
  const float *q, *k, *v;
  float *o;
  long long q_stride[3], k_stride[3], v_stride[3], o_stride[3];
  int batch, seq_q, seq_kv, off;
  float *state_s, *state_z;
  long long s_stride[3], z_stride[2];
};
)",
      op.getSymName(), linearEntryName(op), op.getDQk(), op.getDvOrDefault(),
      op.getQHeads() / op.getKvHeadsOrDefault(), op.getKvHeadsOrDefault(),
      linearChunk(op), abi::kLinearWarps,
      mask.getKind() == MaskKind::Causal ? "true" : "false",
      op.getNormalizeOrDefault() ? "true" : "false",
      // As the CPU's float: number() keeps every digit of it.
      number(static_cast<float>(op.getScaleOrDefault())),
      number(static_cast<float>(op.getEpsOrDefault())));
  auto check = [&](const char *field, size_t offset) {
    out += offsetCheck(field, offset);
  };
  using P = abi::LinearParams;
  check("k", offsetof(P, k));
  check("o", offsetof(P, o));
  check("q_stride", offsetof(P, qStride));
  check("o_stride", offsetof(P, oStride));
  check("batch", offsetof(P, batch));
  check("off", offsetof(P, off));
  check("state_s", offsetof(P, stateS));
  check("state_z", offsetof(P, stateZ));
  check("s_stride", offsetof(P, sStride));
  check("z_stride", offsetof(P, zStride));
  out += sizeCheck(sizeof(P));
  out += printCudaFeature(buildModDefinitions(op), op);
  return out + kLinearKernel;
}
