#ifndef ATTNC_TEST_UNIT_SEQUENCECASES_H
#define ATTNC_TEST_UNIT_SEQUENCECASES_H

// Random varlen batches and paged layouts for the tests of both backends
// (SequencesTest on the CPU, SimtSequencesTest under the CUDA emulator).

#include "RandomKernels.h"

#include "runtime/Tensor.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace attnc::test::sequences {

using attnc::test::regions::chance;
using attnc::test::regions::uniform;

template <typename T, size_t N> T pick(std::mt19937_64 &rng, const T (&xs)[N]) {
  return xs[std::uniform_int_distribution<size_t>(0, N - 1)(rng)];
}

/// `values` as a contiguous int32 array (one dimension unless `sizes`).
inline InputTensor ints(std::vector<int32_t> &values,
                        std::vector<int64_t> sizes = {}) {
  return int32Array(values.data(), sizes.empty()
                                       ? std::vector<int64_t>{int64_t(values.size())}
                                       : std::move(sizes));
}

inline std::vector<int32_t> offsetsOf(const std::vector<int64_t> &lengths) {
  std::vector<int32_t> cu = {0};
  for (int64_t n : lengths)
    cu.push_back(static_cast<int32_t>(cu.back() + n));
  return cu;
}

/// Random lengths: 0, 1 and odd ones included.
inline int64_t randomLength(std::mt19937_64 &rng) {
  return chance(rng, 0.6) ? pick(rng, {0, 1, 2, 17, 64, 113, 255})
                          : uniform(rng, 1, 300);
}

/// Halves the lengths (dense queries: `denseQ`, shared by every sequence)
/// until sum(lq * lk) * heads * (d_qk + d_v) is at most `budget`.
inline void shrinkToBudget(std::vector<int64_t> &lq, std::vector<int64_t> &lk,
                           int64_t &denseQ, bool raggedQ, double perPair,
                           double budget) {
  auto work = [&] {
    double w = 0;
    for (size_t i = 0; i < lq.size(); ++i)
      w += double(lq[i]) * lk[i];
    return w * perPair;
  };
  while (work() > budget) {
    denseQ /= 2;
    for (size_t i = 0; i < lq.size(); ++i) {
      lq[i] = raggedQ ? lq[i] / 2 : denseQ;
      lk[i] /= 2;
    }
  }
}

/// A random paged layout for kv lengths `lk`: pages handed out in a random
/// permutation of a pool with a few spare pages, in form (a) or (b).
struct PagedLayout {
  int64_t pageSize = 0, numPages = 0;
  std::vector<int32_t> table, cacheLens, indptr, indices, lastLen;
  int64_t maxPages = 0;

  PagedLayout(const std::vector<int64_t> &lk, int64_t pageSize,
              std::mt19937_64 &rng)
      : pageSize(pageSize) {
    std::vector<int64_t> pages;
    int64_t needed = 0;
    for (int64_t n : lk) {
      pages.push_back((n + pageSize - 1) / pageSize);
      needed += pages.back();
      maxPages = std::max(maxPages, pages.back());
    }
    numPages = needed + uniform(rng, 0, 3);
    std::vector<int32_t> perm(numPages);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    maxPages += uniform(rng, 0, 2);
    const int64_t batch = static_cast<int64_t>(lk.size());
    // Unused table entries hold garbage: nothing may read them.
    table.assign(batch * std::max<int64_t>(maxPages, 1), 1 << 30);
    indptr = {0};
    int64_t next = 0;
    for (int64_t i = 0; i < batch; ++i) {
      for (int64_t j = 0; j < pages[i]; ++j) {
        table[i * std::max<int64_t>(maxPages, 1) + j] = perm[next];
        indices.push_back(perm[next++]);
      }
      indptr.push_back(static_cast<int32_t>(indices.size()));
      cacheLens.push_back(static_cast<int32_t>(lk[i]));
      lastLen.push_back(pages[i] ? static_cast<int32_t>(lk[i] - (pages[i] - 1) * pageSize)
                                 : 0);
    }
    maxPages = std::max<int64_t>(maxPages, 1);
  }
  void bind(SequenceArgs &sa, bool flashInfer) {
    const int64_t batch = static_cast<int64_t>(cacheLens.size());
    if (flashInfer) {
      sa.kvIndptr = ints(indptr);
      if (indices.empty())
        indices.push_back(0); // a valid pointer for an empty list
      sa.kvIndices = ints(indices);
      sa.kvIndices.sizes[0] = indptr.back();
      sa.kvLastPageLen = ints(lastLen);
    } else {
      sa.blockTable = ints(table, {batch, maxPages});
      sa.cacheSeqlens = ints(cacheLens);
    }
  }
};

/// A kernel whose mask and score read b (through a [batch] input), q and k:
/// run as varlen, paged and dense, it must agree wherever the sequences
/// have equal lengths.
inline std::string regionSpec(const char *name, const char *layout,
                       const char *elementType = "f32") {
  return fmt::format(R"(
attn.kernel @{} attributes {{
  q_heads = 4, kv_heads = 2, d_qk = 32, element_type = {}, lse = true,
  layout = #attn.layout<{}>,
  mask = #attn.mask<custom>, score_mod = #attn.score_mod<custom>,
  inputs = [#attn.input<"shift", i32, [batch]>, #attn.input<"bias", f32, [batch]>]
}} mask {{
^bb0(%b: index, %h: index, %q: index, %k: index):
  %s = attn.load @shift[%b] : i32
  %si = arith.index_cast %s : i32 to index
  %qs = arith.addi %q, %si : index
  %v = arith.cmpi ule, %k, %qs : index
  attn.yield %v : i1
}} score {{
^bb0(%x: f32, %b: index, %h: index, %q: index, %k: index):
  %bias = attn.load @bias[%b] : f32
  %ki = arith.index_cast %k : index to i32
  %kf = arith.sitofp %ki : i32 to f32
  %t = arith.mulf %bias, %kf : f32
  %y = arith.addf %x, %t : f32
  attn.yield %y : f32
}}
)",
                     name, elementType, layout);
}

} // namespace attnc::test::sequences

#endif
