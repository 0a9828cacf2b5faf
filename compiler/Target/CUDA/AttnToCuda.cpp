// attn.kernel -> CUDA C++ (FlashAttention-2-style forward) for NVRTC. The
// kernel body is a fixed template (FlashForward.cuh.inc); this file decides
// the schedule, checks that it fits the arch, and emits the configuration
// and the mask predicate the template is specialised on.
#include "compiler/Target/CUDA/AttnToCuda.h"

#include "llvm/Support/FormatVariadic.h"

#include <cstdio>

using namespace mlir;
using namespace mlir::attn;

namespace {
const char *kFlashForward =
#include "compiler/Target/CUDA/FlashForward.cuh.inc.h"
    ;

/// The most dynamic shared memory one block may opt in to, per arch.
int64_t sharedLimit(int64_t sm) {
  if (sm >= 90)
    return 227 * 1024;
  if (sm == 80 || sm == 87)
    return 163 * 1024;
  return 99 * 1024; // sm_86, sm_89
}

std::string number(double v) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.9ef", v);
  return buffer;
}
} // namespace

FailureOr<CudaSchedule> mlir::attn::selectCudaSchedule(KernelOp op,
                                                        StringRef arch) {
  auto unsupported = [&](const Twine &what) {
    return op.emitOpError("the cuda backend does not support ") << what << " yet";
  };
  int64_t sm = 0;
  if (!arch.starts_with("sm_") || arch.drop_front(3).getAsInteger(10, sm) ||
      sm < 80)
    return op.emitOpError("cuda arch must be sm_80 or newer, got '") << arch << "'";
  Type type = op.getElementType();
  if (!type.isF16() && !type.isBF16())
    return op.emitOpError("the cuda backend needs element_type f16 or bf16, got ")
           << type;
  int64_t dQk = op.getDQk(), dV = op.getDvOrDefault();
  if (dQk % 8 || dV % 8 || dQk > 256 || dV > 256)
    return op.emitOpError("the cuda backend needs head dims that are multiples "
                          "of 8 up to 256, got d_qk = ")
           << dQk << ", d_v = " << dV;
  MaskKind mask = op.getMaskOrDefault().getKind();
  if (mask == MaskKind::Custom)
    return unsupported("custom masks");
  if (op.getBlockSparse())
    return unsupported("block_sparse masks");
  if (op.getInputsAttr() && !op.getInputsAttr().empty())
    return unsupported("declared inputs");
  if (op.getScoreModOrDefault() != ScoreModKind::None)
    return unsupported("score modifiers");
  if (op.getLayoutOrDefault() != Layout::BSHD &&
      op.getLayoutOrDefault() != Layout::BHSD)
    return unsupported(Twine("layout ") + stringifyLayout(op.getLayoutOrDefault()));
  if (op.getVariantOrDefault() != Variant::Softmax || op.getProbsOrDefault())
    return unsupported("linear attention or the probs output");

  ScheduleAttr s = op.getScheduleAttr();
  auto given = [&](int64_t (ScheduleAttr::*get)() const) -> int64_t {
    return s ? (s.*get)() : 0;
  };
  CudaSchedule c;
  c.warps = given(&ScheduleAttr::getWarps);
  c.blockM = given(&ScheduleAttr::getBlockM);
  c.blockN = given(&ScheduleAttr::getBlockN);
  c.stages = given(&ScheduleAttr::getStages);
  if (!c.warps)
    c.warps = c.blockM ? c.blockM / 16 : 4;
  if (!c.blockM)
    c.blockM = 16 * c.warps;
  if (!c.blockN) // past d = 128 the O accumulators need the registers
    c.blockN = std::max(dQk, dV) <= 128 ? 64 : 32;
  if (!c.stages)
    c.stages = 2;
  if (c.blockM != 16 * c.warps)
    return op.emitOpError("block_m (") << c.blockM << ") must be 16 x warps ("
                                       << c.warps << ") for the cuda backend";
  if (c.blockN % 16 || c.blockN > 256)
    return op.emitOpError("block_n (") << c.blockN
                                       << ") must be a multiple of 16 up to 256 "
                                          "for the cuda backend";
  auto pad16 = [](int64_t d) { return (d + 15) / 16 * 16; };
  c.sharedBytes = 2 * (c.blockM * (pad16(dQk) + 8) +
                       c.stages * c.blockN * (pad16(dQk) + 8 + pad16(dV) + 8));
  if (c.sharedBytes > sharedLimit(sm))
    return op.emitOpError("the schedule needs ")
           << c.sharedBytes << " bytes of shared memory, more than the "
           << sharedLimit(sm) << " of " << arch
           << "; lower block_m, block_n or stages";
  return c;
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
  MaskAttr mask = op.getMaskOrDefault();
  std::string diag = mask.getAlignment() == Alignment::BottomRight
                         ? "q + (seq_kv - seq_q)"
                         : "q";
  std::string visible = "true", begin = "0", end = "seq_kv";
  auto onDiag = [&](const char *q) {
    std::string d = diag;
    return d.replace(0, 1, q);
  };
  if (mask.getKind() == MaskKind::Causal) {
    visible = "k <= " + diag;
    end = "min(seq_kv, max(0, " + onDiag("q_last") + " + 1))";
  } else if (mask.getKind() == MaskKind::SlidingWindow) {
    std::string left = std::to_string(std::min<int64_t>(mask.getLeft(), 1 << 30));
    std::string right = std::to_string(std::min<int64_t>(mask.getRight(), 1 << 30));
    visible = "k >= " + diag + " - " + left + " && k <= " + diag + " + " + right;
    begin = "max(0, " + onDiag("q0") + " - " + left + ")";
    end = "min(seq_kv, max(0, " + onDiag("q_last") + " + " + right + " + 1))";
  }
  auto pad16 = [](int64_t d) { return (d + 15) / 16 * 16; };
  std::string out = llvm::formatv(
      R"(// Generated by attnc from attn.kernel @{0} for {1}.
// block_m {2}, block_n {3}, warps {4}, stages {5}; {6} bytes of shared memory.
#include "attnc_target.cuh"
typedef {8} T;
typedef {9} T2;
#define FLOAT2_TO_T2 {10}
#define KERNEL_NAME {0}
constexpr int HQ = {12}, HKV = {13}, DQK = {14}, DV = {15}, DQKP = {16}, DVP = {17};
constexpr int BM = {2}, BN = {3}, WARPS = {4}, STAGES = {5};
constexpr float SCALE = {18}, SOFTCAP = {19};
constexpr bool HAS_LSE = {20};

__device__ __forceinline__ bool visible(int q, int k, int seq_q, int seq_kv) {{
  return {21};
}
__device__ __forceinline__ int kv_begin(int q0, int q_last, int seq_q, int seq_kv) {{
  return {22};
}
__device__ __forceinline__ int kv_end(int q0, int q_last, int seq_q, int seq_kv) {{
  return {23};
}
)",
      op.getSymName(), arch, schedule->blockM, schedule->blockN,
      schedule->warps, schedule->stages, schedule->sharedBytes,
      bf16 ? "cuda_bf16.h" : "cuda_fp16.h", bf16 ? "__nv_bfloat16" : "__half",
      bf16 ? "__nv_bfloat162" : "__half2",
      bf16 ? "__float22bfloat162_rn" : "__float22half2_rn", bf16 ? "bf16" : "f16",
      op.getQHeads(), op.getKvHeadsOrDefault(), op.getDQk(), op.getDvOrDefault(),
      pad16(op.getDQk()), pad16(op.getDvOrDefault()),
      number(op.getScaleOrDefault()), number(op.getSoftcapOrDefault()),
      op.getLseOrDefault() ? "true" : "false", visible, begin, end);
  return out + kFlashForward;
}
