#include "compiler/Target/CUDA/TargetHeader.h"

const char *mlir::attn::cudaGpuTargetHeader() {
  return
#include "compiler/Target/CUDA/GpuTarget.cuh.h"
      ;
}
