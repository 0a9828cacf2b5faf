#include "runtime/BlockMask.h"

#include "runtime/ModProgram.h"
#include "runtime/Reference.h"

#include <fmt/format.h>

#include <algorithm>

namespace attnc {
namespace {

InputTensor view(const std::vector<int32_t> &data, std::vector<int64_t> sizes,
                 const char *name) {
  InputTensor t;
  t.name = name;
  // An empty mask (no query blocks: seq_q = 0) is still given: its
  // arrays point somewhere, never read, rather than at null.
  static int32_t none = 0;
  t.data = data.empty() ? &none : const_cast<int32_t *>(data.data());
  t.dtype = DType::I32;
  t.strides.assign(sizes.size(), 1);
  for (int i = static_cast<int>(sizes.size()) - 2; i >= 0; --i)
    t.strides[i] = t.strides[i + 1] * sizes[i + 1];
  t.sizes = std::move(sizes);
  return t;
}

} // namespace

BlockMaskArgs BlockMask::args() const {
  BlockMaskArgs a;
  a.numBlocks = view(numBlocks, {batch, heads, qBlocks}, "kv_num_blocks");
  a.indices = view(indices, {batch, heads, qBlocks, kvBlocks}, "kv_indices");
  a.fullNumBlocks =
      view(fullNumBlocks, {batch, heads, qBlocks}, "full_kv_num_blocks");
  a.fullIndices =
      view(fullIndices, {batch, heads, qBlocks, kvBlocks}, "full_kv_indices");
  return a;
}

double BlockMask::density() const {
  int64_t visited = 0;
  for (int32_t n : numBlocks)
    visited += n;
  for (int32_t n : fullNumBlocks)
    visited += n;
  int64_t total = batch * heads * qBlocks * kvBlocks;
  return total ? double(visited) / double(total) : 0.0;
}

StatusOr<BlockMask> buildBlockMask(const KernelSpec &s,
                                   const AttentionArgs &call) {
  if (s.blockQ <= 0)
    return Status::error(fmt::format(
        "kernel @{} is not block-sparse (it has no #attn.block_sparse)",
        s.name));
  if (takesSequences(s.layout))
    return Status::error(fmt::format(
        "kernel @{} has layout {}: its mask differs per sequence length, so "
        "one block mask is not built from it; give each sequence's row of "
        "the block mask ([batch, h, q blocks, kv blocks]) yourself",
        s.name, toString(s.layout)));
  AttentionArgs a = call;
  a.blockMask = {}; // the kernel's own mask, without any block mask
  if (Status st = validateInputs(s, a); !st.ok())
    return st;
  const int64_t seqQ = a.q.seq(), seqKv = a.k.seq();
  BlockMask m;
  m.blockQ = s.blockQ;
  m.blockKv = s.blockKv;
  m.qBlocks = (seqQ + s.blockQ - 1) / s.blockQ;
  m.kvBlocks = (seqKv + s.blockKv - 1) / s.blockKv;
  const ModProgram *mask = s.mods && s.mods->mask ? &*s.mods->mask : nullptr;
  m.batch = mask && mask->reads(0) ? a.q.batch() : 1;
  m.heads = mask && mask->reads(1) ? s.qHeads : 1;
  // Two index arrays of rows x kv blocks int32 each: bounded before they
  // are allocated (a block mask larger than this wants larger blocks).
  constexpr int64_t kMaxEntries = int64_t(1) << 28;
  int64_t rows = 0, entries = 0;
  if (__builtin_mul_overflow(m.batch, m.heads, &rows) ||
      __builtin_mul_overflow(rows, m.qBlocks, &rows) ||
      __builtin_mul_overflow(rows, m.kvBlocks, &entries) || entries > kMaxEntries)
    return Status::error(fmt::format(
        "block mask: {} x {} x {} query blocks x {} kv blocks is more than 2^28 "
        "entries; use larger blocks than {} x {} or shorter sequences",
        m.batch, m.heads, m.qBlocks, m.kvBlocks, s.blockQ, s.blockKv));
  m.numBlocks.assign(rows, 0);
  m.fullNumBlocks.assign(rows, 0);
  m.indices.assign(rows * m.kvBlocks, 0);
  m.fullIndices.assign(rows * m.kvBlocks, 0);
  ModEvaluator mods(s, a);
  for (int64_t b = 0; b < m.batch; ++b)
    for (int64_t h = 0; h < m.heads; ++h)
      for (int64_t qb = 0; qb < m.qBlocks; ++qb) {
        const int64_t row = (b * m.heads + h) * m.qBlocks + qb;
        const int64_t q0 = qb * s.blockQ, q1 = std::min(q0 + s.blockQ, seqQ);
        int64_t range[4];
        const bool ranged = mods.range(q0, q1 - 1, range);
        for (int64_t kb = 0; kb < m.kvBlocks; ++kb) {
          const int64_t k0 = kb * s.blockKv, k1 = std::min(k0 + s.blockKv, seqKv);
          bool anyVisible = false, anyMasked = false;
          if (!mask) {
            anyVisible = true;
          } else if (ranged) { // built-in: exact from the key range
            anyVisible = k0 < range[1] && k1 > range[0];
            anyMasked = !(k0 >= range[2] && k1 <= range[3]);
          } else {
            for (int64_t q = q0; q < q1 && !(anyVisible && anyMasked); ++q)
              for (int64_t k = k0; k < k1 && !(anyVisible && anyMasked); ++k)
                (mods.visible(b, h, q, k) ? anyVisible : anyMasked) = true;
          }
          if (!anyVisible)
            continue;
          bool full = !anyMasked;
          std::vector<int32_t> &counts = full ? m.fullNumBlocks : m.numBlocks;
          std::vector<int32_t> &list = full ? m.fullIndices : m.indices;
          list[row * m.kvBlocks + counts[row]++] = static_cast<int32_t>(kb);
        }
      }
  return m;
}

} // namespace attnc
