// The CUDA backend's schedule: the op's GPU fields where set, else the
// defaults, checked against what the kernel template and the arch allow.
// It lives with the target (compiler/Target/CUDA), not in the dialect.
#include "compiler/Target/CUDA/AttnToCuda.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::attn;

namespace {
/// The most dynamic shared memory one block may opt in to, per arch.
int64_t sharedLimit(int64_t sm) {
  if (sm >= 90)
    return 227 * 1024;
  if (sm == 80 || sm == 87)
    return 163 * 1024;
  return 99 * 1024; // sm_86, sm_89
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
  if (op.getKvElementTypeOrDefault() != type)
    return unsupported(Twine("kv_element_type different from element_type"));
  int64_t dQk = op.getDQk(), dV = op.getDvOrDefault();
  if (dQk % 8 || dV % 8 || dQk > 256 || dV > 256)
    return op.emitOpError("the cuda backend needs head dims that are multiples "
                          "of 8 up to 256, got d_qk = ")
           << dQk << ", d_v = " << dV;
  if (op.getVariantOrDefault() != Variant::Softmax)
    return op.emitOpError("is variant linear: the cuda attention kernel "
                          "computes softmax attention; linear attention has a "
                          "kernel of its own (cuda::CudaLinear, "
                          "runtime/cuda/CudaLinear.h)");
  const Layout layout = op.getLayoutOrDefault();
  if (op.getProbsOrDefault() && (layout == Layout::Varlen || layout == Layout::Paged))
    return unsupported(Twine("the probs output with layout ") + stringifyLayout(layout));

  ScheduleAttr s = op.getScheduleAttr();
  auto given = [&](int64_t (ScheduleAttr::*get)() const) -> int64_t {
    return s ? (s.*get)() : 0;
  };
  CudaSchedule c;
  c.warps = given(&ScheduleAttr::getWarps);
  c.blockM = given(&ScheduleAttr::getBlockM);
  c.blockN = given(&ScheduleAttr::getBlockN);
  c.stages = given(&ScheduleAttr::getStages);
  BlockSparseAttr sparse = op.getBlockSparseAttr();
  if (sparse && (sparse.getBlockQ() % 16 || sparse.getBlockKv() % 16))
    return op.emitOpError("block_q (")
           << sparse.getBlockQ() << ") and block_kv (" << sparse.getBlockKv()
           << ") must be multiples of 16 for the cuda backend";
  if (!c.warps) {
    c.warps = c.blockM ? c.blockM / 16 : 4;
    // Block-sparse: a CTA's rows must lie in one query block.
    while (sparse && !c.blockM && sparse.getBlockQ() % (16 * c.warps))
      c.warps /= 2;
  }
  if (!c.blockM)
    c.blockM = 16 * c.warps;
  if (!c.blockN) { // past d = 128 the O accumulators need the registers
    c.blockN = std::max(dQk, dV) <= 128 ? 64 : 32;
    while (sparse && sparse.getBlockKv() % c.blockN)
      c.blockN /= 2;
  }
  if (sparse && sparse.getBlockQ() % c.blockM)
    return op.emitOpError("block_q (") << sparse.getBlockQ()
                                       << ") must be a multiple of block_m ("
                                       << c.blockM << ") for the cuda backend";
  if (sparse && sparse.getBlockKv() % c.blockN)
    return op.emitOpError("block_kv (") << sparse.getBlockKv()
                                        << ") must be a multiple of block_n ("
                                        << c.blockN << ") for the cuda backend";
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

