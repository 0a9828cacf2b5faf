#ifndef ATTNC_RUNTIME_CUDA_PARAMS_H
#define ATTNC_RUNTIME_CUDA_PARAMS_H

// The arguments of a generated CUDA kernel, for every backend that launches
// one (the driver, the SIMT emulator): the checks at the boundary, and the
// bytes of its `Params` packed by the layout the emitter printed the struct
// from (compiler/KernelAbi.h).

#include "runtime/Tensor.h"
#include "runtime/detail/Compiler.h"

#include <functional>
#include <string>
#include <vector>

namespace attnc::cuda {

/// The most CTAs in grid.y and grid.z.
constexpr int64_t kMaxGridYZ = 65535;

/// The host-run entry points (runFromHost, simtRunFromHost) take q, k, v
/// and o as f32 host tensors and round and convert them themselves: a
/// 16-bit view would be misread, so it is refused, naming `entry`.
Status checkF32HostViews(const char *entry, const AttentionArgs &args);

/// validateCall (runtime/Tensor.h) for the kernel's f16/bf16, then what
/// the CUDA kernel adds: 16-byte alignment for cp.async, lengths that fit
/// Params' int, and batch (or the number of sequences) and q_heads within
/// the grid's limits. `memory`: where the buffers are (the GPU's are not
/// read here; varlen and paged calls need their tables on the host).
/// `sequences`: a varlen or paged call's sequences, handed back.
Status checkCudaArgs(const KernelSpec &spec, const AttentionArgs &args,
                     Memory memory, std::vector<Sequence> *sequences = nullptr);

/// What a varlen or paged kernel reads to find its sequences
/// (compiler/KernelAbi.h, Role::SequenceTable): one row of
/// kSequenceColumns per sequence with queries, and a paged call's page ids
/// in one list, built from the checked host tables (so every id the
/// kernel reads was checked). The kernel reads them where `rows` and
/// `pages` point (on a GPU: device copies).
struct SequenceTable {
  SequenceTable() = default;
  SequenceTable(SequenceTable &&) = default; // rows and pages stay valid
  SequenceTable &operator=(SequenceTable &&) = default;
  SequenceTable(const SequenceTable &) = delete;
  std::vector<int32_t> rowData, pageData; // host copies
  const int32_t *rows = nullptr, *pages = nullptr;
  int64_t count = 0;     // rows: the launch's grid.z
  int64_t longestQ = 0;  // the most queries of a row: grid.x's extent
  int64_t pageSize = 0;  // paged: slots a page (the pool's seq)
};
SequenceTable sequenceTable(const std::vector<Sequence> &sequences);

/// The launch of a checked call: (query blocks, q heads, batch) CTAs of
/// `threads` threads, for the driver and the emulator alike; for varlen
/// and paged calls (`table`), (query blocks of the longest, q heads,
/// sequences with queries). A grid with no CTA is not launched.
struct LaunchGrid {
  unsigned x, y, z, threads;
  bool empty() const { return !x || !y || !z; }
};
LaunchGrid launchGrid(const detail::CudaCodegen &codegen,
                      const AttentionArgs &args,
                      const SequenceTable *table = nullptr);

/// The bytes of `Params` for `args` (checked), and `table` for varlen and
/// paged kernels.
std::string packParams(const detail::CudaCodegen &codegen,
                       const AttentionArgs &args,
                       const SequenceTable *table = nullptr);

/// The bytes a declared input or block-mask array spans: 4-byte elements
/// at its own strides (a scalar is 4 bytes, a tensor with an empty
/// dimension 0).
size_t inputBytes(const InputTensor &in);

/// Gives `device` the declared inputs and the block mask of `host`, each
/// moved to device memory, as it is, by `copy` (which returns the tensor
/// at its new address). Unnamed block-mask arrays are named "block mask".
Status copyInputsAndBlockMask(
    const AttentionArgs &host, AttentionArgs &device,
    const std::function<StatusOr<InputTensor>(const InputTensor &)> &copy);

} // namespace attnc::cuda

#endif
