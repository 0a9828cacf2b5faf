#include "compiler/Pipelines/Pipelines.h"

#include "compiler/Passes.h"
#include "dialect/AttnDialect.h"
#include "dialect/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::attn;

void mlir::attn::buildAttnCpuSchedulePipeline(
    OpPassManager &pm, const CpuPipelineOptions &options) {
  pm.addPass(createAttnResolveDefaults());
  pm.addPass(createAttnSelectCpuSchedule(
      AttnSelectCpuScheduleOptions{options.vectorWidth, options.threads,
                                   options.bf16Dot, options.l1dBytes}));
}

void mlir::attn::buildAttnCpuCodegenPipeline(OpPassManager &pm) {
  pm.addPass(createConvertAttnToSCF());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createAttnApproximateMath());
  // ceildiv, maxnumf, ..., and bf16 extf/truncf as integer ops (exact
  // widening; round-to-nearest-even narrowing, NaN kept quiet).
  arith::ArithExpandOpsPassOptions expandOptions;
  expandOptions.includeBf16 = true;
  pm.addPass(arith::createArithExpandOpsPass(expandOptions));
  pm.addPass(createConvertSCFToCFPass());
  ConvertVectorToLLVMPassOptions vectorOptions;
  vectorOptions.reassociateFPReductions = true;
  pm.addPass(createConvertVectorToLLVMPass(vectorOptions));
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

void mlir::attn::buildAttnLowerToCpuPipeline(
    OpPassManager &pm, const CpuPipelineOptions &options) {
  buildAttnCpuSchedulePipeline(pm, options);
  buildAttnCpuCodegenPipeline(pm);
}

void mlir::attn::registerAttnPassesAndPipelines() {
  registerAttnPasses();
  registerAttnCompilerPasses();
  PassPipelineRegistration<CpuPipelineOptions>(
      "attn-lower-to-cpu-pipeline",
      "Lowers attn.kernel ops to LLVM dialect functions for the CPU JIT",
      buildAttnLowerToCpuPipeline);
}

void mlir::attn::registerAttnDialects(DialectRegistry &registry) {
  registry.insert<AttnDialect, arith::ArithDialect, func::FuncDialect,
                  math::MathDialect, memref::MemRefDialect, scf::SCFDialect,
                  vector::VectorDialect, cf::ControlFlowDialect,
                  LLVM::LLVMDialect, x86vector::X86VectorDialect>();
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
}
