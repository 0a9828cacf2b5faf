#ifndef ATTNC_COMPILER_PIPELINES_PIPELINES_H
#define ATTNC_COMPILER_PIPELINES_PIPELINES_H

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::attn {

struct CpuPipelineOptions : public PassPipelineOptions<CpuPipelineOptions> {
  Option<int64_t> vectorWidth{*this, "vector-width",
                              llvm::cl::desc("f32 lanes per vector; 0: host"),
                              llvm::cl::init(0)};
  Option<int64_t> threads{*this, "threads",
                          llvm::cl::desc("default threads; 0: host cores"),
                          llvm::cl::init(0)};
  Option<int64_t> bf16Dot{
      *this, "bf16-dot",
      llvm::cl::desc("1: the target multiplies bf16 pairs fast (vdpbf16ps), "
                     "0: it does not, -1: ask the host"),
      llvm::cl::init(-1)};
  Option<int64_t> l1dBytes{
      *this, "l1d-bytes",
      llvm::cl::desc("the target's L1 data cache in bytes; 0: the host's"),
      llvm::cl::init(0)};
};

/// attn.kernel -> attn.kernel with every default explicit and a CPU schedule.
void buildAttnCpuSchedulePipeline(OpPassManager &pm,
                                  const CpuPipelineOptions &options);
/// Resolved, scheduled attn.kernel -> LLVM dialect, ready for the JIT.
void buildAttnCpuCodegenPipeline(OpPassManager &pm);
/// Both of the above: `attn-lower-to-cpu-pipeline`.
void buildAttnLowerToCpuPipeline(OpPassManager &pm,
                                 const CpuPipelineOptions &options);

/// Registers the attn passes and `attn-lower-to-cpu-pipeline`.
void registerAttnPassesAndPipelines();
/// Registers every dialect the pipelines read or produce, and the LLVM IR
/// translations the JIT needs.
void registerAttnDialects(DialectRegistry &registry);

} // namespace mlir::attn

#endif
