// Checks at the boundary that are the same for every backend.
#include "runtime/Tensor.h"

#include <fmt/format.h>

#include <algorithm>

namespace attnc {

/// The declared inputs, each bound once, with its type, rank and sizes.
Status validateInputs(const KernelSpec &s, const AttentionArgs &a) {
  std::vector<std::string> declared;
  for (const InputDecl &d : s.inputs)
    declared.push_back(d.name);
  for (const InputTensor &t : a.inputs) {
    int count = 0;
    for (const InputTensor &u : a.inputs)
      count += u.name == t.name;
    if (count > 1)
      return Status::error(fmt::format("input '{}' is given {} times", t.name,
                                       count));
    if (std::find(declared.begin(), declared.end(), t.name) == declared.end())
      return Status::error(fmt::format(
          "input '{}' is not declared by kernel @{} (it declares: {})", t.name,
          s.name, declared.empty() ? "none" : fmt::format("{}", fmt::join(declared, ", "))));
  }
  for (const InputDecl &d : s.inputs) {
    const InputTensor *t = nullptr;
    for (const InputTensor &u : a.inputs)
      if (u.name == d.name)
        t = &u;
    if (!t)
      return Status::error(fmt::format(
          "input '{}': kernel @{} declares it, but the call does not give it",
          d.name, s.name));
    if (!t->data)
      return Status::error(fmt::format("input '{}': data pointer is null", d.name));
    if (t->dtype != d.type)
      return Status::error(fmt::format(
          "input '{}': element type is {}, but the kernel declares {}", d.name,
          toString(t->dtype), toString(d.type)));
    if (t->sizes.size() != d.dims.size() || t->strides.size() != d.dims.size())
      return Status::error(fmt::format(
          "input '{}': has {} sizes and {} strides, but the kernel declares "
          "rank {}",
          d.name, t->sizes.size(), t->strides.size(), d.dims.size()));
    for (size_t i = 0; i < d.dims.size(); ++i) {
      int64_t want = -1;
      switch (d.dims[i]) {
      case InputDim::Batch:
        want = a.q.batch();
        break;
      case InputDim::QHeads:
        want = s.qHeads;
        break;
      case InputDim::KvHeads:
        want = s.kvHeads;
        break;
      case InputDim::SeqQ:
        want = a.q.seq();
        break;
      case InputDim::SeqKv:
        want = a.k.seq();
        break;
      case InputDim::Any:
        break;
      }
      if (want >= 0 && t->sizes[i] != want)
        return Status::error(fmt::format(
            "input '{}': dimension {} ({}) has size {}, but the call has {}",
            d.name, i, toString(d.dims[i]), t->sizes[i], want));
      if (want < 0 && t->sizes[i] < 1)
        return Status::error(fmt::format(
            "input '{}': dimension {} (any) has size {}; it must be at least 1",
            d.name, i, t->sizes[i]));
      if (t->strides[i] < 0)
        return Status::error(fmt::format(
            "input '{}': stride {} is {}; strides must be >= 0", d.name, i,
            t->strides[i]));
    }
  }
  return Status::success();
}


Status validateBlockMask(const KernelSpec &s, const AttentionArgs &a) {
  const BlockMaskArgs &m = a.blockMask;
  if (s.blockQ == 0)
    return m.given() ? Status::error(fmt::format(
                           "block mask: kernel @{} is not block-sparse (it has "
                           "no #attn.block_sparse)",
                           s.name))
                     : Status::success();
  if (!m.given())
    return Status::error(fmt::format(
        "block mask: kernel @{} is block-sparse (block_q = {}, block_kv = {}); "
        "give its block mask (see buildBlockMask)",
        s.name, s.blockQ, s.blockKv));
  const int64_t batch = a.q.batch(), seqQ = a.q.seq(), seqKv = a.k.seq();
  const int64_t qBlocks = (seqQ + s.blockQ - 1) / s.blockQ;
  const int64_t kvBlocks = (seqKv + s.blockKv - 1) / s.blockKv;
  const InputTensor *parts[] = {&m.numBlocks, &m.indices, &m.fullNumBlocks,
                                &m.fullIndices};
  const char *names[] = {"kv_num_blocks", "kv_indices", "full_kv_num_blocks",
                         "full_kv_indices"};
  int64_t b0 = m.numBlocks.sizes.empty() ? 0 : m.numBlocks.sizes[0];
  int64_t h0 = m.numBlocks.sizes.size() < 2 ? 0 : m.numBlocks.sizes[1];
  for (int i = 0; i < 4; ++i) {
    const InputTensor &t = *parts[i];
    size_t rank = i % 2 ? 4 : 3;
    if (!t.data)
      return Status::error(fmt::format("block mask: {} is missing", names[i]));
    if (t.dtype != DType::I32)
      return Status::error(fmt::format("block mask: {} must be i32, got {}",
                                       names[i], toString(t.dtype)));
    if (t.sizes.size() != rank || t.strides.size() != rank)
      return Status::error(fmt::format(
          "block mask: {} must have rank {} ([b, h, q blocks{}])", names[i],
          rank, rank == 4 ? ", kv blocks" : ""));
    std::vector<int64_t> want = {b0, h0, qBlocks};
    if (rank == 4)
      want.push_back(kvBlocks);
    for (size_t d = 0; d < rank; ++d)
      if (t.sizes[d] != want[d] || t.strides[d] < 0)
        return Status::error(fmt::format(
            "block mask: {} has shape [{}]; it must be [{}, {}, {}{}] (b 1 or "
            "{}, h 1 or {}; {} query blocks of {} for seq_q {}, {} kv blocks "
            "of {} for seq_kv {})",
            names[i], fmt::join(t.sizes, ", "), b0, h0, qBlocks,
            rank == 4 ? fmt::format(", {}", kvBlocks) : "", batch, s.qHeads,
            qBlocks, s.blockQ, seqQ, kvBlocks, s.blockKv, seqKv));
  }
  if ((b0 != 1 && b0 != batch) || (h0 != 1 && h0 != s.qHeads))
    return Status::error(fmt::format(
        "block mask: batch ({}) must be 1 or {} and heads ({}) 1 or q_heads "
        "({})",
        b0, batch, h0, s.qHeads));
  auto at = [](const InputTensor &t, std::initializer_list<int64_t> index) {
    int64_t offset = 0, d = 0;
    for (int64_t i : index)
      offset += i * t.strides[d++];
    return static_cast<const int32_t *>(t.data)[offset];
  };
  std::vector<char> seen(kvBlocks);
  for (int64_t b = 0; b < b0; ++b)
    for (int64_t h = 0; h < h0; ++h)
      for (int64_t qb = 0; qb < qBlocks; ++qb) {
        std::fill(seen.begin(), seen.end(), 0);
        for (int list = 0; list < 2; ++list) {
          const InputTensor &num = list ? m.fullNumBlocks : m.numBlocks;
          const InputTensor &idx = list ? m.fullIndices : m.indices;
          int32_t count = at(num, {b, h, qb});
          if (count < 0 || count > kvBlocks)
            return Status::error(fmt::format(
                "block mask: {}[{}, {}, {}] = {} is outside [0, {}] (the kv "
                "blocks of seq_kv {})",
                names[2 * list], b, h, qb, count, kvBlocks, seqKv));
          for (int32_t j = 0; j < count; ++j) {
            int32_t kvb = at(idx, {b, h, qb, j});
            if (kvb < 0 || kvb >= kvBlocks)
              return Status::error(fmt::format(
                  "block mask: {}[{}, {}, {}, {}] = {} is outside [0, {})",
                  names[2 * list + 1], b, h, qb, j, kvb, kvBlocks));
            if (seen[kvb])
              return Status::error(fmt::format(
                  "block mask: kv block {} is listed twice for (b {}, h {}, "
                  "query block {}); each block is partial, full or absent",
                  kvb, b, h, qb));
            seen[kvb] = 1;
          }
        }
      }
  return Status::success();
}

} // namespace attnc
