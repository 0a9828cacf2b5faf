// Checks at the boundary that are the same for every backend.
#include "runtime/Tensor.h"
#include "runtime/detail/Checks.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace attnc {

namespace {

/// Elements a view may span: its last element's offset, in elements of up
/// to 8 bytes, must fit a signed 64-bit byte offset with room to spare, and
/// so must its element count (which sizes the work and any workspace).
constexpr int64_t kMaxAddressable = int64_t(1) << 56;

} // namespace

namespace detail {
Status checkAddressable(const std::string &name, const int64_t *sizes,
                        const int64_t *strides, size_t rank) {
  auto list = [&](const int64_t *xs) {
    return fmt::format("[{}]", fmt::join(xs, xs + rank, ", "));
  };
  int64_t last = 0, count = 1;
  bool empty = false;
  for (size_t i = 0; i < rank; ++i) {
    if (sizes[i] < 0)
      return Status::error(
          fmt::format("{}: sizes must be >= 0, got {}", name, list(sizes)));
    if (strides[i] < 0)
      return Status::error(fmt::format("{}: strides must be >= 0, got {}",
                                       name, list(strides)));
    empty |= sizes[i] == 0;
  }
  for (size_t i = 0; i < rank && !empty; ++i) {
    int64_t span = 0;
    if (__builtin_mul_overflow(sizes[i] - 1, strides[i], &span) ||
        __builtin_add_overflow(last, span, &last) ||
        __builtin_mul_overflow(count, sizes[i], &count) ||
        last >= kMaxAddressable || count > kMaxAddressable)
      return Status::error(fmt::format(
          "{}: sizes {} with strides {} span more than 2^56 elements", name,
          list(sizes), list(strides)));
  }
  return Status::success();
}

ByteSpan byteSpan(const TensorView &t) {
  int64_t last = 0;
  for (int i = 0; i < 4; ++i) {
    if (t.sizes[i] == 0)
      return {};
    last += (t.sizes[i] - 1) * t.strides[i];
  }
  auto begin = reinterpret_cast<uintptr_t>(t.data);
  return {begin, begin + static_cast<uintptr_t>((last + 1) * sizeOf(t.dtype))};
}

Status checkNoSelfOverlap(const std::string &name, const TensorView &t) {
  for (int64_t size : t.sizes)
    if (size == 0)
      return Status::success(); // no element: nothing to share
  std::array<int, 4> order = {0, 1, 2, 3};
  std::sort(order.begin(), order.end(),
            [&](int x, int y) { return t.strides[x] < t.strides[y]; });
  int64_t extent = 1; // elements the inner dimensions span
  for (int d : order) {
    if (t.sizes[d] <= 1)
      continue;
    if (t.strides[d] < extent)
      return Status::error(fmt::format(
          "{}: sizes [{}] with strides [{}] may make elements share memory; "
          "an output's elements need their own (ordered by stride, each "
          "stride at least what the dimensions inside it span)",
          name, fmt::join(t.sizes, ", "), fmt::join(t.strides, ", ")));
    extent += (t.sizes[d] - 1) * t.strides[d];
  }
  return Status::success();
}

std::optional<std::pair<NamedView, NamedView>>
firstOverlap(const std::vector<NamedView> &views, size_t written) {
  for (size_t i = 0; i < written && i < views.size(); ++i)
    for (size_t j = i + 1; j < views.size(); ++j)
      if (byteSpan(*views[i].view).overlaps(byteSpan(*views[j].view)))
        return std::pair{views[i], views[j]};
  return std::nullopt;
}

Status checkState(const std::string &name, const TensorView &t,
                  const std::array<int64_t, 4> &shape, const char *rule) {
  if (!t.data)
    return Status::error(fmt::format("{}: data pointer is null", name));
  if (t.dtype != DType::F32)
    return Status::error(fmt::format("{}: element type is {}, but the state is f32",
                                     name, toString(t.dtype)));
  if (Status st = checkAddressable(name, t.sizes.data(), t.strides.data(), 4); !st.ok())
    return st;
  if (t.sizes != shape)
    return Status::error(fmt::format("{}: shape [{}] must be {} = [{}]", name,
                                     fmt::join(t.sizes, ", "), rule, fmt::join(shape, ", ")));
  if (t.strides[3] != 1)
    return Status::error(fmt::format("{}: the last stride must be 1, got {}", name,
                                     t.strides[3]));
  return checkNoSelfOverlap(name, t);
}
} // namespace detail

using detail::checkAddressable;

namespace {

Status checkView(const char *name, const TensorView &t, DType element,
                 const char *elementName, int64_t heads, const char *headsName, int64_t dim,
                 const char *dimName) {
  if (!t.data)
    return Status::error(fmt::format("{}: data pointer is null", name));
  if (t.dtype != element)
    return Status::error(fmt::format(
        "{}: element type is {}, but the kernel's {} is {}", name,
        toString(t.dtype), elementName, toString(element)));
  if (Status st = checkAddressable(name, t.sizes.data(), t.strides.data(), 4);
      !st.ok())
    return st;
  if (t.heads() != heads)
    return Status::error(fmt::format("{}: has {} heads, but the kernel has "
                                     "{} = {}",
                                     name, t.heads(), headsName, heads));
  if (t.dim() != dim)
    return Status::error(fmt::format("{}: head dim is {}, but the kernel has "
                                     "{} = {}",
                                     name, t.dim(), dimName, dim));
  if (t.strides[3] != 1)
    return Status::error(fmt::format(
        "{}: the head-dim stride must be 1, got {}", name, t.strides[3]));
  return Status::success();
}

} // namespace


namespace {
/// probs: given exactly when the kernel writes it, f32, [batch, q_heads,
/// seq_q, seq_kv], addressable, and not larger than kMaxProbsElements.
Status checkProbs(const KernelSpec &s, const AttentionArgs &a) {
  const TensorView &p = a.probs;
  if (!s.probs)
    return p.data ? Status::error("probs: a buffer was given, but the kernel "
                                  "was compiled with probs = false")
                  : Status::success();
  if (!p.data)
    return Status::error("probs: the kernel was compiled with probs = true, "
                         "but no probs buffer was given");
  if (p.dtype != DType::F32)
    return Status::error(fmt::format(
        "probs: element type is {}, but probabilities are f32", toString(p.dtype)));
  if (Status st = checkAddressable("probs", p.sizes.data(), p.strides.data(), 4);
      !st.ok())
    return st;
  if (p.strides[3] != 1)
    return Status::error(fmt::format(
        "probs: the key stride (the last) must be 1, got {}", p.strides[3]));
  const std::array<int64_t, 4> want = {a.q.batch(), s.qHeads, a.q.seq(), a.k.seq()};
  if (p.sizes != want)
    return Status::error(fmt::format(
        "probs: shape [{}] must be [batch, q_heads, seq_q, seq_kv] = [{}]",
        fmt::join(p.sizes, ", "), fmt::join(want, ", ")));
  // Addressable: the product fits in 2^56, so it does not overflow.
  const int64_t elements = want[0] * want[1] * want[2] * want[3];
  if (elements > kMaxProbsElements)
    return Status::error(fmt::format(
        "probs: [{}] is {} elements, more than the {} (1 GiB of f32) a call "
        "writes; the probs output is for inspecting attention at small sizes "
        "(fewer heads, shorter sequences, or a slice of the batch)",
        fmt::join(want, ", "), elements, kMaxProbsElements));
  return detail::checkNoSelfOverlap("probs", p);
}

Status checkInputs(const KernelSpec &s, const AttentionArgs &a,
                   const CallShape &shape);
Status checkBlockMask(const KernelSpec &s, const AttentionArgs &a,
                      Memory memory, const CallShape &shape);
} // namespace

Status validateCall(const KernelSpec &s, const AttentionArgs &a,
                    Memory memory) {
  return validateCall(s, a, memory, nullptr);
}

Status validateCall(const KernelSpec &s, const AttentionArgs &a, Memory memory,
                    std::vector<Sequence> *sequences) {
  const DType element = dtypeNamed(s.elementType);
  const DType kvElement = dtypeNamed(s.kvType());
  for (Status st :
       {checkView("q", a.q, element, "element_type", s.qHeads, "q_heads",
                  s.dQk, "d_qk"),
        checkView("k", a.k, kvElement, "kv_element_type", s.kvHeads,
                  "kv_heads", s.dQk, "d_qk"),
        checkView("v", a.v, kvElement, "kv_element_type", s.kvHeads,
                  "kv_heads", s.dV, "d_v"),
        checkView("o", a.o, element, "element_type", s.qHeads, "q_heads",
                  s.dV, "d_v")})
    if (!st.ok())
      return st;
  auto agree = [](const char *what, const char *x, int64_t xv, const char *y,
                  int64_t yv) {
    return xv == yv ? Status::success()
                    : Status::error(fmt::format("{} and {} disagree on {} ({} "
                                                "vs {})",
                                                x, y, what, xv, yv));
  };
  CallShape shape{a.q.batch(), a.q.seq(), a.k.seq()};
  if (!takesSequences(s.layout)) {
    const SequenceArgs &q = a.sequences;
    for (auto [name, t] :
         {std::pair<const char *, const InputTensor *>{"cu_seqlens_q", &q.cuSeqlensQ},
          {"cu_seqlens_k", &q.cuSeqlensK},
          {"block_table", &q.blockTable},
          {"cache_seqlens", &q.cacheSeqlens},
          {"kv_indptr", &q.kvIndptr},
          {"kv_indices", &q.kvIndices},
          {"kv_last_page_len", &q.kvLastPageLen}})
      if (t->data)
        return Status::error(fmt::format(
            "{}: given, but kernel @{} has layout {} (sequence arrays are "
            "for layouts varlen and paged)",
            name, s.name, toString(s.layout)));
    if (q.kNew.data || q.vNew.data)
      return Status::error(fmt::format(
          "{}: given, but kernel @{} has layout {} (appending new keys is for "
          "layout paged)",
          q.kNew.data ? "k_new" : "v_new", s.name, toString(s.layout)));
    for (Status st : {agree("batch", "q", a.q.batch(), "k", a.k.batch()),
                      agree("batch", "q", a.q.batch(), "v", a.v.batch()),
                      agree("batch", "q", a.q.batch(), "o", a.o.batch()),
                      agree("seq_kv", "k", a.k.seq(), "v", a.v.seq()),
                      agree("seq_q", "q", a.q.seq(), "o", a.o.seq())})
      if (!st.ok())
        return st;
  } else {
    if (memory == Memory::Device)
      return Status::error(fmt::format(
          "kernel @{} has layout {}: its sequence arrays are read on the "
          "host, which a launch over device memory does not do yet; run it "
          "from host tensors (runFromHost, attnc run --target cuda) or on "
          "the cpu backend",
          s.name, toString(s.layout)));
    std::vector<Sequence> local;
    if (Status st = splitSequences(s, a, sequences ? *sequences : local, &shape);
        !st.ok())
      return st;
  }
  if (Status st = checkProbs(s, a); !st.ok())
    return st;
  if (s.lse && !a.lse.data)
    return Status::error("lse: the kernel was compiled with lse = true, but "
                         "no lse buffer was given");
  if (!s.lse && a.lse.data)
    return Status::error("lse: a buffer was given, but the kernel was "
                         "compiled with lse = false");
  if (Status st = checkInputs(s, a, shape); !st.ok())
    return st;
  if (Status st = checkBlockMask(s, a, memory, shape); !st.ok())
    return st;
  if (s.lse && a.lse.dtype != DType::F32)
    return Status::error(fmt::format("lse: element type is {}, but LSE is f32",
                                     toString(a.lse.dtype)));
  if (s.lse) {
    const TensorView &l = a.lse;
    if (l.batch() != a.q.batch() || l.heads() != s.qHeads ||
        l.seq() != a.q.seq())
      return Status::error(fmt::format(
          "lse: shape [{}, {}, {}] must be [batch, q_heads, seq_q] = [{}, {}, "
          "{}]",
          l.batch(), l.heads(), l.seq(), a.q.batch(), s.qHeads, a.q.seq()));
  }
  return Status::success();
}

Status validateInputs(const KernelSpec &s, const AttentionArgs &a) {
  StatusOr<CallShape> shape = callShape(s, a);
  return shape.ok() ? checkInputs(s, a, *shape) : shape.status();
}

Status validateBlockMask(const KernelSpec &s, const AttentionArgs &a,
                         Memory memory) {
  StatusOr<CallShape> shape = callShape(s, a);
  return shape.ok() ? checkBlockMask(s, a, memory, *shape) : shape.status();
}

namespace {

/// The declared inputs, each bound once, with its type, rank and sizes.
Status checkInputs(const KernelSpec &s, const AttentionArgs &a,
                   const CallShape &shape) {
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
        want = shape.batch;
        break;
      case InputDim::QHeads:
        want = s.qHeads;
        break;
      case InputDim::KvHeads:
        want = s.kvHeads;
        break;
      case InputDim::SeqQ:
        want = shape.seqQ;
        break;
      case InputDim::SeqKv:
        want = shape.seqKv;
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
    if (Status st = checkAddressable(fmt::format("input '{}'", d.name),
                                     t->sizes.data(), t->strides.data(),
                                     t->sizes.size());
        !st.ok())
      return st;
  }
  return Status::success();
}


Status checkBlockMask(const KernelSpec &s, const AttentionArgs &a,
                      Memory memory, const CallShape &shape) {
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
  const int64_t batch = shape.batch, seqQ = shape.seqQ, seqKv = shape.seqKv;
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
    if (Status st = checkAddressable(fmt::format("block mask: {}", names[i]),
                                     t.sizes.data(), t.strides.data(), rank);
        !st.ok())
      return st;
  }
  if ((b0 != 1 && b0 != batch) || (h0 != 1 && h0 != s.qHeads))
    return Status::error(fmt::format(
        "block mask: batch ({}) must be 1 or {} and heads ({}) 1 or q_heads "
        "({})",
        b0, batch, h0, s.qHeads));
  if (memory == Memory::Device)
    return Status::success();
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

} // namespace

} // namespace attnc
