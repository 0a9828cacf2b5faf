#include "runtime/Merge.h"

#include "runtime/ThreadPool.h"
#include "runtime/detail/Checks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace attnc {
namespace {

bool sameView(const TensorView &a, const TensorView &b) {
  return a.data == b.data && a.dtype == b.dtype && a.sizes == b.sizes &&
         a.strides == b.strides;
}

/// `t` (named `name`) is non-null, of an allowed type, addressable, and of
/// `shape` (the LSE: [batch, heads, seq, 1]).
Status checkPart(const std::string &name, const TensorView &t, bool isLse,
                 const std::array<int64_t, 4> &shape) {
  if (!t.data)
    return Status::error(fmt::format("{}: data pointer is null", name));
  const bool typeOk = isLse ? t.dtype == DType::F32
                            : t.dtype == DType::F32 || t.dtype == DType::F16 ||
                                  t.dtype == DType::BF16;
  if (!typeOk)
    return Status::error(fmt::format("{}: element type is {}, but {}", name,
                                     toString(t.dtype),
                                     isLse ? "LSE is f32"
                                           : "outputs are f32, f16 or bf16"));
  if (Status st = detail::checkAddressable(name, t.sizes.data(),
                                           t.strides.data(), 4);
      !st.ok())
    return st;
  if (t.sizes != shape)
    return Status::error(fmt::format(
        "{}: shape [{}] differs from {} [{}]", name, fmt::join(t.sizes, ", "),
        isLse ? "o's rows, [batch, heads, seq, 1] =" : "o's", fmt::join(shape, ", ")));
  if (!isLse && t.strides[3] != 1)
    return Status::error(fmt::format(
        "{}: the head-dim stride must be 1, got {}", name, t.strides[3]));
  return Status::success();
}

} // namespace

Status validateMerge(const MergeArgs &a) {
  if (a.outputs.empty())
    return Status::error("merge: no parts given (at least one output and "
                         "its LSE)");
  if (a.outputs.size() != a.lses.size())
    return Status::error(fmt::format(
        "merge: {} outputs but {} LSEs; each part is an output and its LSE",
        a.outputs.size(), a.lses.size()));
  const std::array<int64_t, 4> lseShape = {a.o.sizes[0], a.o.sizes[1],
                                           a.o.sizes[2], 1};
  if (Status st = checkPart("o", a.o, false, a.o.sizes); !st.ok())
    return st;
  if (a.lse.data)
    if (Status st = checkPart("lse", a.lse, true, lseShape); !st.ok())
      return st;
  for (size_t i = 0; i < a.outputs.size(); ++i) {
    if (Status st = checkPart(fmt::format("outputs[{}]", i), a.outputs[i],
                              false, a.o.sizes);
        !st.ok())
      return st;
    if (Status st = checkPart(fmt::format("lses[{}]", i), a.lses[i], true,
                              lseShape);
        !st.ok())
      return st;
  }
  // A row is read in full before it is written, so an output may be one of
  // its parts exactly; any other overlap would make the result depend on
  // the order rows are merged in.
  struct Named {
    std::string name;
    const TensorView *t;
  };
  std::vector<Named> inputs;
  for (size_t i = 0; i < a.outputs.size(); ++i) {
    inputs.push_back({fmt::format("outputs[{}]", i), &a.outputs[i]});
    inputs.push_back({fmt::format("lses[{}]", i), &a.lses[i]});
  }
  for (auto [name, t] : {std::pair{"o", &a.o}, {"lse", &a.lse}})
    if (t->data)
      if (Status st = detail::checkNoSelfOverlap(name, *t); !st.ok())
        return st;
  std::vector<Named> outs = {{"o", &a.o}};
  if (a.lse.data)
    outs.push_back({"lse", &a.lse});
  if (outs.size() == 2 &&
      detail::byteSpan(a.o).overlaps(detail::byteSpan(a.lse)))
    return Status::error("merge: o and lse overlap");
  for (const Named &out : outs)
    for (const Named &in : inputs)
      if (!sameView(*out.t, *in.t) &&
          detail::byteSpan(*out.t).overlaps(detail::byteSpan(*in.t)))
        return Status::error(fmt::format(
            "merge: {} overlaps {} without being the same view (merging in "
            "place takes exactly a part's data, type, sizes and strides)",
            out.name, in.name));
  return Status::success();
}

Status mergeAttention(const MergeArgs &a, unsigned threads) {
  if (Status st = validateMerge(a); !st.ok())
    return st;
  const int64_t batch = a.o.batch(), heads = a.o.heads(), seq = a.o.seq(),
                dim = a.o.dim();
  const int64_t rows = batch * heads * seq;
  if (rows == 0)
    return Status::success();
  const size_t parts = a.outputs.size();
  constexpr float kInf = std::numeric_limits<float>::infinity();
  constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
  // Rows in chunks of about 64 KiB of output each, handed out to threads.
  const int64_t chunk = std::max<int64_t>(1, (int64_t(16) << 10) / std::max<int64_t>(dim, 1));
  const int64_t chunks = (rows + chunk - 1) / chunk;
  // Each row's head dim in tiles of kTile floats on the stack (no
  // allocation inside the parallel loop); the weights are recomputed per
  // tile. Element (row, d) of o is written only after (row, d) of every
  // part was read, so o may be a part exactly.
  constexpr int64_t kTile = 256;
  auto mergeRows = [&](int64_t c) {
    float acc[kTile];
    for (int64_t r = c * chunk; r < std::min(rows, (c + 1) * chunk); ++r) {
      const int64_t s = r % seq, h = r / seq % heads, b = r / seq / heads;
      float m = -kInf;
      bool finite = true;
      for (size_t i = 0; i < parts; ++i) {
        const float l = a.lses[i].at(b, h, s, 0);
        if (std::isnan(l) || l == kInf)
          finite = false;
        else
          m = std::max(m, l);
      }
      // sum >= 1 when some part is finite: the largest weight is exp(0).
      float sum = 0;
      if (finite && m != -kInf)
        for (size_t i = 0; i < parts; ++i)
          sum += std::exp(a.lses[i].at(b, h, s, 0) - m); // 0 for -inf
      const float inv = 1.f / sum;
      for (int64_t d0 = 0; d0 < dim; d0 += kTile) {
        const int64_t n = std::min(kTile, dim - d0);
        std::fill(acc, acc + n, !finite ? kNaN : 0.f);
        if (finite && m != -kInf) {
          for (size_t i = 0; i < parts; ++i) {
            const float w = std::exp(a.lses[i].at(b, h, s, 0) - m);
            if (w == 0.f)
              continue; // adds nothing (no key in its range): O_i is not read
            const TensorView &o = a.outputs[i];
            if (o.dtype == DType::F32) {
              const float *row = &o.at<float>(b, h, s, d0);
              for (int64_t d = 0; d < n; ++d)
                acc[d] += w * row[d];
            } else {
              for (int64_t d = 0; d < n; ++d)
                acc[d] += w * o.get(b, h, s, d0 + d);
            }
          }
          for (int64_t d = 0; d < n; ++d)
            acc[d] *= inv;
        }
        for (int64_t d = 0; d < n; ++d)
          a.o.set(b, h, s, d0 + d, acc[d]);
      }
      if (a.lse.data)
        a.lse.at(b, h, s, 0) = !finite        ? kNaN
                               : m == -kInf ? -kInf
                                            : m + std::log(sum);
    }
  };
  ThreadPool &pool = ThreadPool::shared();
  pool.parallelFor(chunks, threads ? threads : pool.workers() + 1,
                   [&](int64_t c) { mergeRows(c); });
  return Status::success();
}

} // namespace attnc
