#ifndef ATTNC_TOOLS_ATTNC_DECLAREDINPUTS_H
#define ATTNC_TOOLS_ATTNC_DECLAREDINPUTS_H

// The tensors a kernel declares with #attn.input, for attnc run and tune:
// read from --input NAME=FILE.npy, else random (f32 in [-1, 1), i32 in
// [0, 4), `any` dimensions of 32).

#include "runtime/Tensor.h"

#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace attnc::cli {

struct DeclaredInputs {
  /// 4-byte words (f32 or i32) per input; `tensors` point into them.
  std::vector<std::shared_ptr<std::vector<int32_t>>> storage;
  std::vector<InputTensor> tensors;
  std::vector<std::string> notes; // where each input came from
};

StatusOr<DeclaredInputs>
loadDeclaredInputs(const std::vector<std::pair<std::string, std::string>> &files,
                   const KernelSpec &spec, int64_t batch, int64_t seqQ,
                   int64_t seqKv, std::mt19937_64 &rng);

} // namespace attnc::cli

#endif
