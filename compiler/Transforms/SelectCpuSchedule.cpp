// attn-select-cpu-schedule: the CPU backend's schedule heuristic. It lives
// with the CPU target (compiler/), not in the dialect.
#include "compiler/AttnToSCF/WorkSplit.h"
#include "compiler/Passes.h"
#include "dialect/AttnOps.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/TargetParser/Host.h"

#include <algorithm>
#include <thread>

#include <unistd.h>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNSELECTCPUSCHEDULE
#include "compiler/Passes.h.inc"

int64_t hostVectorWidth() {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  if (features.lookup("avx512f"))
    return 16;
  if (features.lookup("avx2") || features.lookup("avx"))
    return 8;
  return 4;
}

bool hostHasBf16Dot() {
  return llvm::sys::getHostCPUFeatures().lookup("avx512bf16");
}

bool hostHasFastBf16Dot() {
  // vdpbf16ps zmm issues at the f32 FMA rate on AMD's AVX512_BF16 cores
  // (Zen 4, Zen 5: twice the multiply-adds); on the Intel cores measured
  // so far it gives half the multiply-adds of an FMA (docs/perf.md).
  return hostHasBf16Dot() &&
         llvm::StringRef(llvm::sys::getHostCPUName()).starts_with("znver");
}
int64_t hostL1dBytes() {
  long bytes = sysconf(_SC_LEVEL1_DCACHE_SIZE);
  return bytes > 0 ? bytes : 0;
}
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {
struct SelectCpuSchedule
    : attn::impl::AttnSelectCpuScheduleBase<SelectCpuSchedule> {
  using Base::Base;

  void runOnOperation() override {
    int64_t hostWidth = vectorWidth > 0 ? vectorWidth : hostVectorWidth();
    int64_t hostThreads =
        threads > 0 ? threads
                    : std::max<int64_t>(1, std::thread::hardware_concurrency());
    bool bf16 = bf16Dot >= 0 ? bf16Dot > 0 : hostHasFastBf16Dot();
    int64_t l1d = l1dBytes > 0 ? l1dBytes : hostL1dBytes();
    getOperation()->walk([&](KernelOp op) {
      if (failed(select(op, hostWidth, hostThreads, bf16, l1d)))
        signalPassFailure();
    });
  }

  LogicalResult select(KernelOp op, int64_t hostWidth, int64_t hostThreads,
                       bool hostBf16Dot, int64_t hostL1d) {
    ScheduleAttr s = op.getScheduleAttr();
    auto given = [&](int64_t (ScheduleAttr::*get)() const) -> int64_t {
      return s ? (s.*get)() : 0;
    };
    int64_t width = given(&ScheduleAttr::getVectorWidth);
    int64_t blockM = given(&ScheduleAttr::getBlockM);
    int64_t blockN = given(&ScheduleAttr::getBlockN);
    int64_t microM = given(&ScheduleAttr::getMicroM);
    int64_t microN = given(&ScheduleAttr::getMicroN);
    int64_t nThreads = given(&ScheduleAttr::getThreads);
    if (!width)
      width = hostWidth;
    // Block-sparse: kernel tiles must tile the sparse blocks.
    BlockSparseAttr sparse = op.getBlockSparseAttr();
    if (sparse && sparse.getBlockKv() % width)
      return op.emitOpError() << "block_kv (" << sparse.getBlockKv()
                              << ") must be a multiple of the vector width ("
                              << width << ") for the cpu backend";
    if (!microN && sparse && !blockN)
      microN = sparse.getBlockKv() % (2 * width) == 0 ? 2 * width : width;
    if (!microN)
      microN = blockN % (2 * width) == 0 ? 2 * width : width;
    if (blockN && blockN % width)
      return op.emitOpError() << "block_n (" << blockN
                              << ") must be a multiple of vector_width ("
                              << width << ") for the cpu backend";
    const int64_t maxMicroM = width == 16 ? 8 : 4;
    // Decode: one tile holds one query row of every head in a GQA group, so
    // the group's K/V tiles are read once (see WorkSplit).
    bool decode = op.getModeOrDefault() == Mode::Decode;
    int64_t group = static_cast<int64_t>(op.getQHeads()) / op.getKvHeadsOrDefault();
    if (!blockN && decode) {
      // Decode tiles over 8 rows pack each K tile (d_qk x block_n f32) on
      // the stack: keep it within 32 KiB of L1. The rows form packs none;
      // its scores prefetch the tile's V rows into L1 while they read its
      // K rows, so a tile's K and V rows are kept within 32 KiB instead
      // (d 128: 32 keys of f32, 64 of f16/bf16; never under micro_n keys).
      // With prefetch = 2 (into L2; the Zen 4 VM) 16, 32 and 64 f32 keys
      // and 32, 64 and 128 f16/bf16 keys ran within the noise (profile
      // script, 16384 keys), so the rule stands there too.
      // With those prefetches, 32 f32 keys ran 1.03-1.15x 64 and 32 16-bit
      // keys 0.87-0.99x 64 (medians of three same-process runs; docs/perf.md
      // "Decode"). Block-sparse decode, whose tiles must divide block_kv,
      // keeps the K-tile rule (not measured with the rows form's prefetches).
      int64_t fit = 8192 / static_cast<int64_t>(op.getDQk());
      if (!sparse && takesDecodeRowsForm(decode, blockM ? blockM : group)) {
        int64_t kvBytes =
            op.getKvElementTypeOrDefault().getIntOrFloatBitWidth() / 8;
        fit = 32768 / (kvBytes * (static_cast<int64_t>(op.getDQk()) +
                                  static_cast<int64_t>(op.getDvOrDefault())));
      }
      blockN = std::clamp<int64_t>(fit / microN * microN, microN, 128);
    } else if (!blockN) {
      // Prefill reads K^T tiles from its cache (L2), so the tile is sized
      // for the softmax's per-row work instead: 128 keys measured 4% (d 128)
      // to 7% (d 256) faster than 32 KiB-of-L1 tiles, and level at d 64.
      blockN = std::max<int64_t>(128 / microN * microN, microN);
    }
    if (sparse && !given(&ScheduleAttr::getBlockN))
      while (blockN > microN && sparse.getBlockKv() % blockN)
        blockN -= microN;
    if (!blockM && decode && !sparse)
      blockM = group;
    if (!blockM && sparse) {
      blockM = 64;
      while (blockM > 1 && sparse.getBlockQ() % blockM)
        blockM /= 2;
    }
    if (!microM) {
      microM = 1;
      for (int64_t m = maxMicroM; m > 1; --m)
        if ((blockM ? blockM : 64) % m == 0) {
          microM = m;
          break;
        }
    }
    if (!blockM)
      blockM = 64;
    if (!nThreads)
      nThreads = hostThreads;
    // bf16 products where every product's operands are bf16 and the target
    // multiplies bf16 pairs fast (hostHasFastBf16Dot). In decode tiles that
    // take the rows form that means the scores' pairs in place, P V in f32:
    // against f32 products there, on the Zen 4 VM from memory, 1.12-1.30x
    // at one thread and 0.87-1.01x at two (GB/s, same runs; in L3
    // 1.19-1.23x; docs/perf.md "bf16 pairs in the rows form").
    int64_t dot = given(&ScheduleAttr::getDot);
    Type bf16 = BFloat16Type::get(op.getContext());
    if (!dot && hostBf16Dot && width == 16 && op.getElementType() == bf16 &&
        op.getKvElementTypeOrDefault() == bf16)
      dot = 16;
    // The rows form's prefetches (K and V rows a phase ahead) fill L1 only
    // where the L1d holds 48 KiB or more; smaller ones get L2 prefetches.
    // Zen 4 (32 KiB): into L2 raised the ratio to the same-run read stream
    // 1.4-1.7x at 1 thread and 1.25-1.6x at 2 from memory, GQA 32/8,
    // medians of three runs; Zen 5 (48 KiB): into L1 beat T1, T2 and NTA
    // hints by 1-25% in all but one case (one run; docs/perf.md "Decode").
    // An unknown L1d (sysconf says 0) takes L2.
    int64_t prefetch = given(&ScheduleAttr::getPrefetch);
    if (!prefetch && takesDecodeRowsForm(decode, blockM))
      prefetch = hostL1d >= kMinL1dBytesForL1Prefetch ? 1 : 2;
    auto emitError = [&] { return op.emitOpError(); };
    if (failed(ScheduleAttr::verify(emitError, blockM, blockN, microM, microN,
                                    width, nThreads, given(&ScheduleAttr::getWarps),
                                    given(&ScheduleAttr::getStages),
                                    given(&ScheduleAttr::getSplitKv), dot,
                                    prefetch)))
      return failure();
    op.setScheduleAttr(ScheduleAttr::get(
        op.getContext(), blockM, blockN, microM, microN, width, nThreads,
        given(&ScheduleAttr::getWarps), given(&ScheduleAttr::getStages),
        given(&ScheduleAttr::getSplitKv), dot, prefetch));
    return success();
  }
};
} // namespace
