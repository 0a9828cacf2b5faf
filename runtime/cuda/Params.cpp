#include "runtime/cuda/Params.h"

#include "compiler/KernelAbi.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace attnc::cuda {
namespace {

/// What cp.async needs: 16-byte chunks, 8 elements of 2 bytes.
Status checkAlignment(const char *name, const TensorView &t) {
  auto address = reinterpret_cast<uintptr_t>(t.data);
  if (address % 16 || t.strides[0] % 8 || t.strides[1] % 8 || t.strides[2] % 8)
    return Status::error(fmt::format(
        "{}: the address must be 16-byte aligned and the batch, head and seq "
        "strides multiples of 8 elements",
        name));
  return Status::success();
}

} // namespace

Status checkF32HostViews(const char *entry, const AttentionArgs &args) {
  const SequenceArgs &sa = args.sequences;
  struct View {
    const char *name;
    const TensorView *t;
    bool optional; // k_new and v_new: checked when given
  };
  for (const View &v : {View{"q", &args.q, false}, View{"k", &args.k, false},
                        View{"v", &args.v, false}, View{"o", &args.o, false},
                        View{"k_new", &sa.kNew, true},
                        View{"v_new", &sa.vNew, true}})
    if ((v.t->data || !v.optional) && v.t->dtype != DType::F32)
      return Status::error(fmt::format(
          "{} runs from f32 host tensors (it rounds and converts them); got "
          "a {} tensor for {}",
          entry, toString(v.t->dtype), v.name));
  return Status::success();
}

Status checkCudaArgs(const KernelSpec &s, const AttentionArgs &a,
                     Memory memory, std::vector<Sequence> *sequences) {
  std::vector<Sequence> local;
  if (!sequences)
    sequences = &local;
  if (Status st = validateCall(s, a, memory, sequences); !st.ok())
    return st;
  for (auto [name, view] : {std::pair{"q", &a.q}, std::pair{"k", &a.k},
                            std::pair{"v", &a.v}, std::pair{"o", &a.o}})
    if (Status st = checkAlignment(name, *view); !st.ok())
      return st;
  // lse and probs take scalar f32 stores: a misaligned one would fault on a
  // GPU (and spoil the context for later calls) rather than fail here.
  for (auto [name, view] : {std::pair{"lse", &a.lse}, std::pair{"probs", &a.probs}})
    if (view->data && reinterpret_cast<uintptr_t>(view->data) % 4)
      return Status::error(fmt::format(
          "{}: the address must be 4-byte aligned (f32) for the cuda backend", name));
  // Params holds lengths as int; the grid is (query blocks, q heads, batch).
  const int64_t intMax = std::numeric_limits<int32_t>::max();
  if (a.q.seq() > intMax || a.k.seq() > intMax)
    return Status::error(fmt::format(
        "seq_q ({}) and seq_kv ({}) must be at most {} for the cuda backend",
        a.q.seq(), a.k.seq(), intMax));
  if (takesSequences(s.layout)) {
    // Sequences with queries are grid.z; the table's rows are int32.
    int64_t launched = 0;
    for (const Sequence &q : *sequences)
      launched += q.seqQ > 0;
    if (launched > kMaxGridYZ)
      return Status::error(fmt::format(
          "{} sequences have queries, but the cuda backend runs at most {} "
          "in one call (grid.z)",
          launched, kMaxGridYZ));
    if (s.layout == Layout::Paged) {
      int64_t pages = 0;
      for (const Sequence &q : *sequences)
        pages += q.pageCount;
      if (pages > intMax)
        return Status::error(fmt::format(
            "the sequences use {} pages in all, but the cuda backend's page "
            "list holds at most {}",
            pages, intMax));
    }
  } else if (a.q.batch() > kMaxGridYZ) {
    return Status::error(fmt::format(
        "batch ({}) must be at most {} for the cuda backend (grid.z)",
        a.q.batch(), kMaxGridYZ));
  }
  if (s.qHeads > kMaxGridYZ)
    return Status::error(fmt::format(
        "q_heads ({}) must be at most {} for the cuda backend (grid.y)",
        s.qHeads, kMaxGridYZ));
  return Status::success();
}

SequenceTable sequenceTable(const std::vector<Sequence> &sequences) {
  namespace abi = mlir::attn::abi;
  SequenceTable t;
  // Paged: every sequence's k is the pool, [pages, kv_heads, page_size, d].
  if (!sequences.empty())
    t.pageSize = sequences.front().k.seq();
  for (const Sequence &q : sequences) {
    if (q.seqQ == 0)
      continue; // no CTA: its appends were made on the host
    int32_t row[abi::kSequenceColumns] = {};
    row[abi::SeqIndex] = static_cast<int32_t>(q.index);
    row[abi::SeqQBatch] = static_cast<int32_t>(q.qBatch);
    row[abi::SeqQFirst] = static_cast<int32_t>(q.qFirst);
    row[abi::SeqQLen] = static_cast<int32_t>(q.seqQ);
    row[abi::SeqKvLen] = static_cast<int32_t>(q.seqKv);
    row[abi::SeqKvFirst] = static_cast<int32_t>(q.kvFirst);
    row[abi::SeqPageFirst] = static_cast<int32_t>(t.pageData.size());
    t.rowData.insert(t.rowData.end(), row, row + abi::kSequenceColumns);
    for (int64_t j = 0; j < q.pageCount; ++j)
      t.pageData.push_back(q.pages[j * q.pageStride]);
    t.longestQ = std::max(t.longestQ, q.seqQ);
    ++t.count;
  }
  t.rows = t.rowData.data();
  t.pages = t.pageData.data();
  return t;
}

LaunchGrid launchGrid(const detail::CudaCodegen &c, const AttentionArgs &a,
                      const SequenceTable *table) {
  const int64_t seqQ = table ? table->longestQ : a.q.seq();
  return {static_cast<unsigned>((seqQ + c.blockM - 1) / c.blockM),
          static_cast<unsigned>(c.spec.qHeads),
          static_cast<unsigned>(table ? table->count : a.q.batch()),
          static_cast<unsigned>(c.warps * 32)};
}

/// The bytes of the kernel's `Params`, packed by the layout the emitter
/// printed the struct from (compiler/KernelAbi.h).
std::string packParams(const detail::CudaCodegen &t, const AttentionArgs &a,
                       const SequenceTable *table) {
  namespace abi = mlir::attn::abi;
  std::string bytes(t.params.bytes, '\0');
  auto put = [&](int64_t offset, const void *value, size_t size) {
    std::memcpy(&bytes[offset], value, size);
  };
  for (const abi::ParamField &f : t.params.fields) {
    const abi::Arg *arg = f.arg >= 0 ? &t.args[f.arg] : nullptr;
    const TensorView *view = nullptr;
    const InputTensor *input = nullptr;
    const BlockMaskArgs &m = a.blockMask;
    InputTensor tableView;
    if (arg && (arg->role == abi::Role::SequenceTable ||
                arg->role == abi::Role::PageTable)) {
      tableView = arg->role == abi::Role::SequenceTable
                      ? int32Array(table->rows, {table->count, abi::kSequenceColumns})
                      : int32Array(table->pages, {int64_t(table->pageData.size())});
      input = &tableView;
    } else if (arg && arg->role == abi::Role::Input) {
      for (const InputTensor &in : a.inputs)
        if (in.name == arg->name)
          input = &in;
    } else if (arg && arg->role == abi::Role::KvNumBlocks) {
      input = &m.numBlocks;
    } else if (arg && arg->role == abi::Role::KvIndices) {
      input = &m.indices;
    } else if (arg && arg->role == abi::Role::FullKvNumBlocks) {
      input = &m.fullNumBlocks;
    } else if (arg && arg->role == abi::Role::FullKvIndices) {
      input = &m.fullIndices;
    } else if (arg) {
      view = arg->role == abi::Role::Q   ? &a.q
             : arg->role == abi::Role::K ? &a.k
             : arg->role == abi::Role::V ? &a.v
             : arg->role == abi::Role::O ? &a.o
             : arg->role == abi::Role::Probs ? &a.probs
                                         : &a.lse;
    }
    switch (f.kind) {
    case abi::ParamField::Pointer: {
      const void *data = view ? view->data : input->data;
      put(f.offset, &data, sizeof data);
      break;
    }
    case abi::ParamField::Strides:
      for (int64_t i = 0; i < f.count; ++i) {
        long long stride = view ? view->strides[i] : input->strides[i];
        put(f.offset + 8 * i, &stride, 8);
      }
      break;
    case abi::ParamField::Sizes:
      for (int64_t i = 0; i < f.count; ++i) {
        long long size = input->sizes[i];
        put(f.offset + 8 * i, &size, 8);
      }
      break;
    case abi::ParamField::SeqQ: {
      int seq = static_cast<int>(a.q.sizes[2]);
      put(f.offset, &seq, 4);
      break;
    }
    case abi::ParamField::SeqKv: {
      int seq = static_cast<int>(a.k.sizes[2]);
      put(f.offset, &seq, 4);
      break;
    }
    case abi::ParamField::PageSize: {
      int size = static_cast<int>(table->pageSize);
      put(f.offset, &size, 4);
      break;
    }
    }
  }
  return bytes;
}

size_t inputBytes(const InputTensor &in) {
  int64_t last = 0;
  for (size_t i = 0; i < in.sizes.size(); ++i) {
    if (in.sizes[i] <= 0)
      return 0;
    last += (in.sizes[i] - 1) * in.strides[i];
  }
  return static_cast<size_t>(last + 1) * 4;
}

Status copyInputsAndBlockMask(
    const AttentionArgs &host, AttentionArgs &device,
    const std::function<StatusOr<InputTensor>(const InputTensor &)> &copy) {
  for (const InputTensor &in : host.inputs) {
    auto moved = copy(in);
    if (!moved.ok())
      return moved.status();
    device.inputs.push_back(std::move(*moved));
  }
  if (!host.blockMask.given())
    return Status::success();
  const BlockMaskArgs &m = host.blockMask;
  for (auto [from, to] : {std::pair{&m.numBlocks, &device.blockMask.numBlocks},
                          std::pair{&m.indices, &device.blockMask.indices},
                          std::pair{&m.fullNumBlocks, &device.blockMask.fullNumBlocks},
                          std::pair{&m.fullIndices, &device.blockMask.fullIndices}}) {
    InputTensor named = *from;
    if (named.name.empty())
      named.name = "block mask";
    auto moved = copy(named);
    if (!moved.ok())
      return moved.status();
    *to = std::move(*moved);
  }
  return Status::success();
}

} // namespace attnc::cuda
