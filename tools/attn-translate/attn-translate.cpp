// attn-translate: attn dialect -> target source (today: CUDA C++).
#include "compiler/Pipelines/Pipelines.h"
#include "compiler/Target/CUDA/AttnToCuda.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/Support/CommandLine.h"

static llvm::cl::opt<std::string>
    cudaArch("cuda-arch", llvm::cl::desc("CUDA arch for --attn-to-cuda"),
             llvm::cl::init("sm_90"));

int main(int argc, char **argv) {
  mlir::TranslateFromMLIRRegistration toCuda(
      "attn-to-cuda", "translate each attn.kernel to CUDA C++ for NVRTC",
      [](mlir::ModuleOp module, llvm::raw_ostream &os) {
        for (auto kernel : module.getOps<mlir::attn::KernelOp>()) {
          mlir::FailureOr<std::string> source =
              mlir::attn::translateKernelToCuda(kernel, cudaArch);
          if (mlir::failed(source))
            return mlir::failure();
          os << *source;
        }
        return mlir::success();
      },
      [](mlir::DialectRegistry &registry) {
        mlir::attn::registerAttnDialects(registry);
      });
  return mlir::failed(mlir::mlirTranslateMain(argc, argv, "attn translate"));
}
