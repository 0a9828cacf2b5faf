#ifndef ATTNC_RUNTIME_NPY_H
#define ATTNC_RUNTIME_NPY_H

// Reading and writing NumPy .npy files of float32 and float16 (reading
// uint16 files as bf16 bit patterns, and int32 for declared i32 inputs),
// little-endian, C order, so that attnc's inputs and outputs can be
// compared with NumPy or PyTorch.

#include "runtime/Spec.h"
#include "runtime/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attnc {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;    // float32, float16 and bf16-bits files, exactly
  std::vector<int32_t> ints;  // int32 files (readNpy with allowInt32)
  bool isInt32 = false;
  DType stored = DType::F32;  // what the file held: F32, F16 or BF16 (uint16)
};

/// Reads a float32, float16 or uint16 (bf16 bit patterns) .npy file into
/// floats, or with `allowInt32` a float32 or int32 one; any other dtype,
/// Fortran order or a truncated file is an error that names the file and
/// the problem.
StatusOr<NpyArray> readNpy(const std::string &path, bool allowInt32 = false);
/// The same from a file's bytes; errors name `name`.
StatusOr<NpyArray> parseNpy(const std::string &bytes, const std::string &name,
                            bool allowInt32 = false);

/// Writes a float32 (or, with F16, float16: `data` is rounded to nearest
/// even) .npy file through a temporary file and a rename, so that a failed
/// write never leaves a partial file at `path`.
Status writeNpy(const std::string &path, const std::vector<int64_t> &shape,
                const float *data, DType type = DType::F32);

} // namespace attnc

#endif
