#include "runtime/cuda/HostRun.h"

#include "runtime/Half.h"
#include "runtime/cuda/Params.h"

#include <fmt/format.h>

#include <cstring>

namespace attnc::cuda {
namespace {

/// The bytes of `t`'s elements stored densely, `element` bytes each; an
/// error for negative or absurd sizes (before anything is allocated).
StatusOr<size_t> denseBytes(const char *name, const TensorView &t,
                            int64_t element) {
  int64_t n = element;
  for (int64_t size : t.sizes) {
    if (size < 0)
      return Status::error(fmt::format("{}: size {} is negative", name, size));
    if (size && n > (int64_t(1) << 42) / size)
      return Status::error(fmt::format(
          "{}: [{}] is too large to stage ({} bytes at most)", name,
          fmt::join(t.sizes, ", "), int64_t(1) << 42));
    n *= size;
  }
  return static_cast<size_t>(n);
}

template <typename F> void forEach(const TensorView &t, F f) {
  for (int64_t b = 0; b < t.batch(); ++b)
    for (int64_t h = 0; h < t.heads(); ++h)
      for (int64_t s = 0; s < t.seq(); ++s)
        for (int64_t d = 0; d < t.dim(); ++d)
          f(b, h, s, d);
}

} // namespace

StatusOr<StagedCall> StagedCall::stage(const KernelSpec &spec, const char *entry,
                                       const AttentionArgs &host,
                                       const Allocate &allocate) {
  HalfKind kind;
  if (!halfKindOf(spec.elementType, kind))
    return Status::error(fmt::format("{} runs f16 and bf16 kernels only", entry));
  // The caller's f32 views are checked as every backend checks a call
  // (shapes, strides, lse, inputs, block mask, sequence tables, k_new
  // against the pools) before anything is read through them or sized
  // from them; the staged call is checked again in the kernel's types.
  if (Status st = checkF32HostViews(entry, host); !st.ok())
    return st;
  KernelSpec hostSpec = spec;
  hostSpec.elementType = "f32";
  hostSpec.kvElementType.clear();
  if (Status st = validateCall(hostSpec, host, Memory::Host); !st.ok())
    return st;
  StagedCall c;
  c.spec_ = spec;
  c.hostSpec_ = hostSpec;
  const DType element = kind == HalfKind::BF16 ? DType::BF16 : DType::F16;
  // Varlen tensors and paged pools are token-major, as callers store them.
  const Layout order = takesSequences(spec.layout) ? Layout::BSHD : spec.layout;
  auto add = [&](const std::string &name, size_t bytes) -> StatusOr<int> {
    auto data = allocate(name, bytes);
    if (!data.ok())
      return data.status();
    c.buffers_.push_back({name, *data, bytes});
    return static_cast<int>(c.buffers_.size() - 1);
  };
  const SequenceArgs &sa = host.sequences;
  c.args_.sequences = sa;
  struct Stage {
    const char *name;
    const TensorView *from;
    TensorView *to;
    int *index;
    bool half, copyIn;
  };
  for (const Stage &t :
       {Stage{"q", &host.q, &c.args_.q, &c.q_, true, true},
        Stage{"k", &host.k, &c.args_.k, &c.k_, true, true},
        Stage{"v", &host.v, &c.args_.v, &c.v_, true, true},
        Stage{"o", &host.o, &c.args_.o, &c.o_, true, false},
        Stage{"lse", &host.lse, &c.args_.lse, &c.lse_, false, false},
        Stage{"k_new", &sa.kNew, &c.args_.sequences.kNew, &c.kNew_, true, true},
        Stage{"v_new", &sa.vNew, &c.args_.sequences.vNew, &c.vNew_, true, true}}) {
    if (!t.from->data)
      continue; // lse, k_new or v_new not given: the checks say if they must be
    auto bytes = denseBytes(t.name, *t.from, t.half ? 2 : 4);
    if (!bytes.ok())
      return bytes.status();
    auto index = add(t.name, *bytes);
    if (!index.ok())
      return index.status();
    const TensorView &h = *t.from;
    TensorView d = t.half ? denseView(nullptr, order, h.batch(), h.seq(), h.heads(), h.dim())
                          : lseView(nullptr, h.batch(), h.heads(), h.seq());
    d.data = c.buffers_[*index].data;
    d.dtype = t.half ? element : DType::F32;
    if (t.copyIn)
      forEach(h, [&](int64_t b, int64_t hh, int64_t s, int64_t e) {
        float &x = h.at(b, hh, s, e);
        x = roundToHalf(x, kind);
        d.at<uint16_t>(b, hh, s, e) = toHalfBits(x, kind);
      });
    *t.to = d;
    *t.index = *index;
  }
  // Declared inputs and the block mask: copied as they are (f32 or i32,
  // their own strides).
  auto copyIn = [&](const InputTensor &in) -> StatusOr<InputTensor> {
    size_t bytes = inputBytes(in);
    auto index = add(in.name, bytes);
    if (!index.ok())
      return index.status();
    if (bytes)
      std::memcpy(c.buffers_[*index].data, in.data, bytes);
    InputTensor copy = in;
    copy.data = c.buffers_[*index].data;
    return copy;
  };
  if (Status st = copyInputsAndBlockMask(host, c.args_, copyIn); !st.ok())
    return st;
  // probs (f32, written by the kernel): a dense buffer of its shape.
  if (host.probs.data) {
    const TensorView &h = host.probs;
    auto bytes = denseBytes("probs", h, 4);
    if (!bytes.ok())
      return bytes.status();
    auto index = add("probs", *bytes);
    if (!index.ok())
      return index.status();
    c.args_.probs = probsView(static_cast<float *>(c.buffers_[*index].data), h.batch(),
                              h.heads(), h.seq(), h.dim());
    c.probs_ = *index;
  }
  return c;
}

AttentionArgs StagedCall::movedTo(const std::vector<void *> &addresses) const {
  AttentionArgs a = args_;
  auto move = [&](void *&data) {
    for (size_t i = 0; i < buffers_.size(); ++i)
      if (data && data == buffers_[i].data) {
        data = addresses[i];
        return;
      }
  };
  for (TensorView *t : {&a.q, &a.k, &a.v, &a.o, &a.lse, &a.probs,
                        &a.sequences.kNew, &a.sequences.vNew})
    move(t->data);
  for (InputTensor &in : a.inputs)
    move(in.data);
  for (InputTensor *m : {&a.blockMask.numBlocks, &a.blockMask.indices,
                         &a.blockMask.fullNumBlocks, &a.blockMask.fullIndices})
    move(m->data);
  return a;
}

std::vector<size_t> StagedCall::written() const {
  std::vector<size_t> out;
  for (int i : {o_, lse_, probs_})
    if (i >= 0)
      out.push_back(static_cast<size_t>(i));
  return out;
}

Status StagedCall::unstage(const AttentionArgs &host) const {
  HalfKind kind = HalfKind::F16;
  halfKindOf(spec_.elementType, kind); // stage() refused any other type
  // (batch, row) of o and lse, in host and staged alike.
  auto copyRow = [&](int64_t b, int64_t h, int64_t s) {
    for (int64_t e = 0; e < host.o.dim(); ++e)
      host.o.at(b, h, s, e) = fromHalfBits(args_.o.at<uint16_t>(b, h, s, e), kind);
    if (lse_ >= 0)
      host.lse.at(b, h, s, 0) = args_.lse.at(b, h, s, 0);
  };
  if (!takesSequences(spec_.layout)) {
    for (int64_t b = 0; b < host.o.batch(); ++b)
      for (int64_t h = 0; h < host.o.heads(); ++h)
        for (int64_t s = 0; s < host.o.seq(); ++s) {
          copyRow(b, h, s);
          if (probs_ >= 0) // dense layouts only (the backends refuse others)
            for (int64_t k = 0; k < host.probs.dim(); ++k)
              host.probs.at(b, h, s, k) = args_.probs.at(b, h, s, k);
        }
    return Status::success();
  }
  std::vector<Sequence> sequences;
  if (Status st = splitSequences(spec_, args_, sequences); !st.ok())
    return st;
  for (const Sequence &q : sequences)
    for (int64_t h = 0; h < host.o.heads(); ++h)
      for (int64_t i = 0; i < q.seqQ; ++i)
        copyRow(q.qBatch, h, q.qFirst + i);
  if (kNew_ >= 0) {
    // The appended rows, into the caller's pools: k_new and v_new were
    // rounded in place when staged, so these are the values the kernel
    // read. Only the appended slots are written, as on the device.
    std::vector<Sequence> hostSequences;
    if (Status st = splitSequences(hostSpec_, host, hostSequences); !st.ok())
      return st;
    appendNewKeys(hostSequences);
  }
  return Status::success();
}

} // namespace attnc::cuda
