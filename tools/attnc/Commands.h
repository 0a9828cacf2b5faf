#ifndef ATTNC_TOOLS_ATTNC_COMMANDS_H
#define ATTNC_TOOLS_ATTNC_COMMANDS_H

#include "Options.h"

#include "runtime/Tensor.h"

#include <vector>

namespace attnc::cli {
/// The exit codes of attnc (docs/attnc.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitCheckFailed = 1, // the numerics check failed
  kExitInput = 2,       // a usage or input error
  kExitIo = 3,          // an I/O error (a full disk...) or an internal error
};

/// Prints `attnc: error: <message>` and returns its exit code: kExitIo for
/// Status::isIo and internal errors, else kExitInput.
int exitWith(const Status &status);

/// Every tensor a run or tune of `spec` at this shape allocates (q, k, v,
/// o) holds at most 2^32 elements, computed without overflow; the error
/// names the tensor and its sizes.
Status checkTensorSizes(const KernelSpec &spec, int64_t batch, int64_t seqQ,
                        int64_t seqKv);

/// A host tensor in the element type a kernel reads or writes: f32 values
/// are used in place; for f16 and bf16 a 16-bit copy, rounded to nearest
/// even, backs the view.
struct TypedTensor {
  std::vector<uint16_t> half;
  TensorView view;
  TypedTensor(std::vector<float> &values, DType type, Layout layout,
              int64_t batch, int64_t seq, int64_t heads, int64_t dim);
  /// The tensor's values as floats (exact).
  std::vector<float> floats() const;
  /// Sets every element to `x` (rounded to the element type).
  void fill(float x);
};

/// Each returns the process exit code.
int runCommand(const Options &options);
int compileCommand(const Options &options);
int cacheCommand(const Options &options);
int tuneCommand(const Options &options);
int vizCommand(const Options &options);
} // namespace attnc::cli

#endif
