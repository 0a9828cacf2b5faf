// The sequences of a varlen or paged call (runtime/Tensor.h, SequenceArgs):
// every offset, length and page id is checked before anything is read
// through it, and each sequence becomes a dense view of batch 1.
#include "runtime/Tensor.h"
#include "runtime/detail/Checks.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <tuple>

namespace attnc {

namespace {

/// The most sequences one call may hold: it bounds the checks' and the
/// launch's per-sequence work before any of it is done.
constexpr int64_t kMaxSequences = int64_t(1) << 24;

/// An int32 array of the call: checked rank, then element reads.
class IntArray {
public:
  IntArray(const char *name, const InputTensor &t) : name_(name), t_(t) {}
  bool given() const { return t_.data != nullptr; }
  const char *name() const { return name_; }
  int64_t size(size_t dim) const { return t_.sizes[dim]; }
  /// Checks that it is given, int32, of `rank`, with sizes and strides >= 0.
  Status check(size_t rank) const {
    if (!t_.data)
      return Status::error(fmt::format("{}: data pointer is null", name_));
    if (t_.dtype != DType::I32)
      return Status::error(fmt::format("{}: element type is {}, but it must "
                                       "be i32",
                                       name_, toString(t_.dtype)));
    if (t_.sizes.size() != rank || t_.strides.size() != rank)
      return Status::error(fmt::format(
          "{}: has {} sizes and {} strides, but it must have rank {}", name_,
          t_.sizes.size(), t_.strides.size(), rank));
    return detail::checkAddressable(name_, t_.sizes.data(), t_.strides.data(),
                                    rank);
    return Status::success();
  }
  const int32_t *address(int64_t i, int64_t j = 0) const {
    int64_t offset = i * t_.strides[0] + (t_.strides.size() > 1 ? j * t_.strides[1] : 0);
    return static_cast<const int32_t *>(t_.data) + offset;
  }
  int32_t operator()(int64_t i, int64_t j = 0) const { return *address(i, j); }
  int64_t stride(size_t dim) const { return t_.strides[dim]; }

private:
  const char *name_;
  const InputTensor &t_;
};

/// Checks an offsets array of `batch` + 1 entries (`batch` < 0: any) that
/// starts at 0, never decreases and ends at most at `limit` (`what` names
/// the limit); sets `batch` when it was open.
Status checkOffsets(const IntArray &a, int64_t &batch, int64_t limit,
                    const std::string &what) {
  if (Status st = a.check(1); !st.ok())
    return st;
  if (a.size(0) < 1)
    return Status::error(fmt::format(
        "{}: has no entries; it needs batch + 1 (at least 1)", a.name()));
  if (batch >= 0 && a.size(0) != batch + 1)
    return Status::error(fmt::format(
        "{}: has {} entries, but the call has {} sequences (it needs batch "
        "+ 1 = {})",
        a.name(), a.size(0), batch, batch + 1));
  if (a.size(0) - 1 > kMaxSequences)
    return Status::error(fmt::format("{}: {} sequences are more than the {} "
                                     "one call may hold",
                                     a.name(), a.size(0) - 1, kMaxSequences));
  batch = a.size(0) - 1;
  if (a(0) != 0)
    return Status::error(
        fmt::format("{}[0] must be 0, got {}", a.name(), a(0)));
  for (int64_t i = 0; i < batch; ++i)
    if (a(i + 1) < a(i))
      return Status::error(fmt::format(
          "{} must not decrease: {}[{}] = {} is below {}[{}] = {}", a.name(),
          a.name(), i + 1, a(i + 1), a.name(), i, a(i)));
  if (a(batch) > limit)
    return Status::error(fmt::format("{}[{}] = {} is past {} ({})", a.name(),
                                     batch, a(batch), what, limit));
  return Status::success();
}

Status mustBeAbsent(const IntArray &a, const std::string &why) {
  return a.given() ? Status::error(fmt::format("{}: given, but {}", a.name(), why))
                   : Status::success();
}

/// `t` advanced by `rows` along seq, with `len` rows and batch 1.
TensorView rowsOf(const TensorView &t, int64_t batch, int64_t first,
                  int64_t len) {
  TensorView v = t;
  if (!t.data)
    return v;
  v.data = static_cast<char *>(t.data) +
           (batch * t.strides[0] + first * t.strides[2]) * sizeOf(t.dtype);
  v.sizes[0] = 1;
  v.sizes[2] = len;
  return v;
}

} // namespace

Status splitSequences(const KernelSpec &s, const AttentionArgs &a,
                      std::vector<Sequence> &out, CallShape *shape) {
  out.clear();
  const SequenceArgs &sa = a.sequences;
  IntArray cuQ("cu_seqlens_q", sa.cuSeqlensQ), cuK("cu_seqlens_k", sa.cuSeqlensK),
      table("block_table", sa.blockTable),
      cacheLens("cache_seqlens", sa.cacheSeqlens),
      indptr("kv_indptr", sa.kvIndptr), indices("kv_indices", sa.kvIndices),
      lastLen("kv_last_page_len", sa.kvLastPageLen);
  const IntArray *pagedArrays[] = {&table, &cacheLens, &indptr, &indices,
                                   &lastLen};
  if (!takesSequences(s.layout))
    return Status::error(fmt::format(
        "kernel @{} has layout {}: its calls are dense and take no sequence "
        "arrays",
        s.name, toString(s.layout)));
  auto batchOne = [&](const char *name, const TensorView &t, const char *rows) {
    return t.batch() == 1
               ? Status::success()
               : Status::error(fmt::format(
                     "{}: {} packs its sequences along seq ({}), so its batch "
                     "must be 1, got {}",
                     name,
                     s.layout == Layout::Varlen ? "a varlen call"
                                                : "a paged call with cu_seqlens_q",
                     rows, t.batch()));
  };
  int64_t batch = -1;
  CallShape found;
  // Queries: ragged (cu_seqlens_q) or dense.
  const bool raggedQ = s.layout == Layout::Varlen || cuQ.given();
  if (raggedQ) {
    if (!cuQ.given())
      return Status::error(fmt::format(
          "cu_seqlens_q: kernel @{} has layout varlen; give cu_seqlens_q and "
          "cu_seqlens_k (batch + 1 offsets each)",
          s.name));
    for (Status st : {batchOne("q", a.q, "total_q rows"),
                      batchOne("o", a.o, "total_q rows")})
      if (!st.ok())
        return st;
    if (a.q.seq() != a.o.seq())
      return Status::error(fmt::format(
          "q and o disagree on total_q ({} vs {})", a.q.seq(), a.o.seq()));
    if (Status st = checkOffsets(cuQ, batch, a.q.seq(), "q's rows"); !st.ok())
      return st;
  }
  if (s.layout == Layout::Varlen) {
    if (sa.kNew.data || sa.vNew.data)
      return Status::error(fmt::format(
          "{}: given, but kernel @{} has layout varlen (appending new keys is "
          "for layout paged)",
          sa.kNew.data ? "k_new" : "v_new", s.name));
    for (const IntArray *p : pagedArrays)
      if (Status st = mustBeAbsent(*p, fmt::format("kernel @{} has layout "
                                                   "varlen (page tables are "
                                                   "for layout paged)",
                                                   s.name));
          !st.ok())
        return st;
    if (!cuK.given())
      return Status::error(fmt::format(
          "cu_seqlens_k: kernel @{} has layout varlen; give it with "
          "cu_seqlens_q (batch + 1 offsets each)",
          s.name));
    for (Status st : {batchOne("k", a.k, "total_k rows"),
                      batchOne("v", a.v, "total_k rows")})
      if (!st.ok())
        return st;
    if (a.k.seq() != a.v.seq())
      return Status::error(fmt::format(
          "k and v disagree on total_k ({} vs {})", a.k.seq(), a.v.seq()));
    if (Status st = checkOffsets(cuK, batch, a.k.seq(), "k's rows"); !st.ok())
      return st;
    out.resize(batch);
    for (int64_t i = 0; i < batch; ++i) {
      Sequence &q = out[i];
      q.index = i;
      q.seqQ = cuQ(i + 1) - cuQ(i);
      q.seqKv = cuK(i + 1) - cuK(i);
      q.qFirst = cuQ(i);
      q.kvFirst = cuK(i);
      q.q = rowsOf(a.q, 0, cuQ(i), q.seqQ);
      q.o = rowsOf(a.o, 0, cuQ(i), q.seqQ);
      q.lse = rowsOf(a.lse, 0, cuQ(i), q.seqQ);
      q.k = rowsOf(a.k, 0, cuK(i), q.seqKv);
      q.v = rowsOf(a.v, 0, cuK(i), q.seqKv);
    }
  } else {
    if (Status st = mustBeAbsent(cuK, fmt::format(
                                          "kernel @{} has layout paged (its "
                                          "keys are addressed by pages)",
                                          s.name));
        !st.ok())
      return st;
    // The pools: [pages, kv_heads, page_size, d], the same pages for k and v.
    const int64_t numPages = a.k.batch(), pageSize = a.k.seq();
    if (pageSize < 1)
      return Status::error(fmt::format(
          "k: the page size (dim 2 of the pool view) must be at least 1, got "
          "{}",
          pageSize));
    if (a.v.batch() != numPages || a.v.seq() != pageSize)
      return Status::error(fmt::format(
          "v: the pool has {} pages of {} slots, but k's has {} of {}",
          a.v.batch(), a.v.seq(), numPages, pageSize));
    const bool formA = table.given() || cacheLens.given();
    const bool formB = indptr.given() || indices.given() || lastLen.given();
    if (formA && formB)
      return Status::error(
          "paged call: give either block_table with cache_seqlens "
          "(FlashAttention) or kv_indptr, kv_indices and kv_last_page_len "
          "(FlashInfer), not both");
    if (!formA && !formB)
      return Status::error(fmt::format(
          "paged call: kernel @{} has layout paged; give block_table with "
          "cache_seqlens, or kv_indptr, kv_indices and kv_last_page_len",
          s.name));
    // New keys and values to append: checked here, counted per sequence.
    const TensorView &kNew = sa.kNew, &vNew = sa.vNew;
    const bool appending = kNew.data || vNew.data;
    if (appending) {
      if (!kNew.data || !vNew.data)
        return Status::error(fmt::format(
            "{}: missing; k_new and v_new go together", kNew.data ? "v_new" : "k_new"));
      const DType kvType = dtypeNamed(s.kvType());
      for (auto [name, t, dim] : {std::tuple{"k_new", &kNew, s.dQk},
                                  std::tuple{"v_new", &vNew, s.dV}}) {
        if (t->dtype != kvType)
          return Status::error(fmt::format(
              "{}: element type is {}, but the kernel's kv_element_type is {}",
              name, toString(t->dtype), toString(kvType)));
        if (Status st = detail::checkAddressable(name, t->sizes.data(),
                                                 t->strides.data(), 4);
            !st.ok())
          return st;
        if (t->heads() != s.kvHeads || t->dim() != dim || t->strides[3] != 1)
          return Status::error(fmt::format(
              "{}: shape [{}] with head-dim stride {}; it must have kv_heads "
              "= {} heads of {} with stride 1",
              name, fmt::join(t->sizes, ", "), t->strides[3], s.kvHeads, dim));
      }
      // The rows are copied into the pools: overlapping buffers would make
      // the result depend on the order of the copies.
      for (auto [name, rows] : {std::pair{"k_new", &kNew}, {"v_new", &vNew}})
        for (auto [pool, view] : {std::pair{"k", &a.k}, {"v", &a.v}})
          if (detail::byteSpan(*rows).overlaps(detail::byteSpan(*view)))
            return Status::error(fmt::format(
                "{}: its memory overlaps the {} pool; the new rows must be a "
                "buffer of their own",
                name, pool));
      if (kNew.batch() != vNew.batch() || kNew.seq() != vNew.seq())
        return Status::error(fmt::format(
            "k_new and v_new disagree: batch {} and {}, seq {} and {}",
            kNew.batch(), vNew.batch(), kNew.seq(), vNew.seq()));
      if (raggedQ && (kNew.batch() != 1 || kNew.seq() != a.q.seq()))
        return Status::error(fmt::format(
            "k_new: with cu_seqlens_q it is packed like q, [1, kv_heads, "
            "total_q = {}, d] (one new key per query); got batch {} and seq {}",
            a.q.seq(), kNew.batch(), kNew.seq()));
    }
    auto newKeys = [&](int64_t i) -> int64_t {
      return !appending ? 0 : raggedQ ? cuQ(i + 1) - cuQ(i) : kNew.seq();
    };
    // Page `j` of sequence `seq`, at `where` in its array.
    auto pageId = [&](const IntArray &arr, const std::string &where, int64_t j,
                      int64_t seq, int32_t id) {
      return id >= 0 && id < numPages
                 ? Status::success()
                 : Status::error(fmt::format(
                       "{}[{}] = {} (page {} of sequence {}) is not a page of "
                       "the pools (0 <= id < {})",
                       arr.name(), where, id, j, seq, numPages));
    };
    if (formA) {
      for (const IntArray *p : {&table, &cacheLens})
        if (!p->given())
          return Status::error(fmt::format(
              "{}: missing; block_table and cache_seqlens go together",
              p->name()));
      if (Status st = table.check(2); !st.ok())
        return st;
      if (Status st = cacheLens.check(1); !st.ok())
        return st;
      int64_t b = table.size(0);
      if (b > kMaxSequences)
        return Status::error(fmt::format(
            "block_table: {} sequences are more than the {} one call may hold",
            b, kMaxSequences));
      if (cacheLens.size(0) != b)
        return Status::error(fmt::format(
            "cache_seqlens: has {} entries, but block_table has {} rows (one "
            "per sequence)",
            cacheLens.size(0), b));
      if (batch >= 0 && batch != b)
        return Status::error(fmt::format(
            "cu_seqlens_q: describes {} sequences, but block_table has {}",
            batch, b));
      batch = b;
      const int64_t maxPages = table.size(1);
      out.resize(batch);
      for (int64_t i = 0; i < batch; ++i) {
        int32_t cached = cacheLens(i);
        const int64_t len = int64_t(cached) + newKeys(i);
        const std::string what = fmt::format(
            "cache_seqlens[{}] = {}{}", i, cached,
            newKeys(i) ? fmt::format(" plus {} new keys", newKeys(i)) : "");
        if (cached < 0)
          return Status::error(fmt::format("{}: must be >= 0", what));
        if (len > (int64_t(1) << 31) - 1)
          return Status::error(
              fmt::format("{}: more than 2^31 - 1 keys", what));
        // Pages needed, compared without forming max_pages x page_size
        // (either may be near 2^56 with zero strides).
        if ((len + pageSize - 1) / pageSize > maxPages)
          return Status::error(fmt::format(
              "{} needs {} pages of {}, but block_table has max_pages {}", what,
              (len + pageSize - 1) / pageSize, pageSize, maxPages));
        int64_t used = (len + pageSize - 1) / pageSize;
        for (int64_t j = 0; j < used; ++j)
          if (Status st = pageId(table, fmt::format("{}, {}", i, j), j, i,
                                 table(i, j));
              !st.ok())
            return st;
        Sequence &q = out[i];
        q.seqKv = len;
        q.newFirst = cached;
        q.pages = used ? table.address(i, 0) : nullptr;
        q.pageCount = used;
        q.pageStride = table.stride(1);
      }
    } else {
      // An empty kv_indices may come without data (an all-empty batch).
      for (const IntArray *p : {&indptr, &lastLen})
        if (!p->given())
          return Status::error(fmt::format(
              "{}: missing; kv_indptr, kv_indices and kv_last_page_len go "
              "together",
              p->name()));
      if (indices.given())
        if (Status st = indices.check(1); !st.ok())
          return st;
      if (Status st = checkOffsets(indptr, batch,
                                   indices.given() ? indices.size(0) : 0,
                                   "kv_indices' entries");
          !st.ok())
        return st;
      if (Status st = lastLen.check(1); !st.ok())
        return st;
      if (lastLen.size(0) != batch)
        return Status::error(fmt::format(
            "kv_last_page_len: has {} entries, but the call has {} sequences",
            lastLen.size(0), batch));
      out.resize(batch);
      for (int64_t i = 0; i < batch; ++i) {
        int64_t pages = indptr(i + 1) - indptr(i);
        int32_t last = lastLen(i);
        if (pages > 0 && (last < 1 || last > pageSize))
          return Status::error(fmt::format(
              "kv_last_page_len[{}] = {} is outside [1, {}] (the page size); "
              "sequence {} has {} pages",
              i, last, pageSize, i, pages));
        if (pages == 0 && last != 0)
          return Status::error(fmt::format(
              "kv_last_page_len[{}] = {}, but sequence {} has no pages (it "
              "must be 0)",
              i, last, i));
        int64_t keys = 0;
        if (pages > 0 &&
            (__builtin_mul_overflow(pages - 1, pageSize, &keys) ||
             __builtin_add_overflow(keys, int64_t(last), &keys) ||
             keys > (int64_t(1) << 31) - 1))
          return Status::error(fmt::format(
              "kv_indptr: sequence {} has {} pages of {}: more than 2^31 - 1 "
              "keys",
              i, pages, pageSize));
        for (int64_t j = 0; j < pages; ++j)
          if (Status st = pageId(indices, std::to_string(indptr(i) + j), j, i,
                                 indices(indptr(i) + j));
              !st.ok())
            return st;
        Sequence &q = out[i];
        q.seqKv = keys;
        if (newKeys(i) > q.seqKv)
          return Status::error(fmt::format(
              "k_new: sequence {} appends {} keys, but kv_indptr and "
              "kv_last_page_len give it {} (FlashInfer's tables count the "
              "appended keys)",
              i, newKeys(i), q.seqKv));
        q.newFirst = q.seqKv - newKeys(i);
        q.pages = pages ? indices.address(indptr(i)) : nullptr;
        q.pageCount = pages;
        q.pageStride = indices.stride(0);
      }
    }
    if (!raggedQ) {
      for (auto [name, t] : {std::pair<const char *, const TensorView *>{"q", &a.q},
                             {"o", &a.o}})
        if (t->batch() != batch)
          return Status::error(fmt::format(
              "{}: batch is {}, but the page table describes {} sequences "
              "(dense queries: one batch row per sequence)",
              name, t->batch(), batch));
      if (a.q.seq() != a.o.seq())
        return Status::error(fmt::format("q and o disagree on seq_q ({} vs {})",
                                         a.q.seq(), a.o.seq()));
    }
    if (appending && !raggedQ && kNew.batch() != batch)
      return Status::error(fmt::format(
          "k_new: batch is {}, but the page table describes {} sequences",
          kNew.batch(), batch));
    if (appending) {
      // Every page that takes new keys belongs to one sequence alone, and
      // appears once in its list: the appends then never race or overwrite
      // keys another sequence reads. Only the written pages (a few a
      // sequence) are sorted; every listed page is looked up among them.
      struct Use {
        int32_t page;
        int64_t sequence, slot; // the sequence and its page number
      };
      thread_local std::vector<Use> writtenBuffer;
      std::vector<Use> &written = writtenBuffer;
      written.clear();
      for (int64_t i = 0; i < batch; ++i) {
        const Sequence &q = out[i];
        if (newKeys(i) == 0)
          continue;
        for (int64_t j = q.newFirst / pageSize;
             j <= (q.newFirst + newKeys(i) - 1) / pageSize; ++j)
          written.push_back({q.pages[j * q.pageStride], i, j});
      }
      std::sort(written.begin(), written.end(), [](const Use &x, const Use &y) {
        return x.page != y.page ? x.page < y.page : x.sequence < y.sequence;
      });
      auto shared = [&](const Use &w, int64_t sequence) {
        return Status::error(fmt::format(
            "page {} takes new keys of sequence {} but is also listed {}; a "
            "page that is appended to must belong to one sequence",
            w.page, w.sequence,
            sequence == w.sequence ? "twice for that sequence"
                                   : fmt::format("for sequence {}", sequence)));
      };
      for (size_t u = 0; u + 1 < written.size(); ++u)
        if (written[u].page == written[u + 1].page)
          return shared(written[u], written[u + 1].sequence);
      if (!written.empty())
        for (int64_t i = 0; i < batch; ++i) {
          const Sequence &q = out[i];
          for (int64_t j = 0; j < q.pageCount; ++j) {
            const int32_t page = q.pages[j * q.pageStride];
            auto w = std::lower_bound(
                written.begin(), written.end(), page,
                [](const Use &x, int32_t p) { return x.page < p; });
            if (w != written.end() && w->page == page &&
                !(w->sequence == i && w->slot == j))
              return shared(*w, i);
          }
        }
    }
    for (int64_t i = 0; i < batch; ++i) {
      Sequence &q = out[i];
      q.index = i;
      int64_t first = raggedQ ? cuQ(i) : 0, row = raggedQ ? 0 : i;
      if (appending) {
        q.newCount = newKeys(i);
        q.kNew = rowsOf(kNew, row, first, q.newCount);
        q.vNew = rowsOf(vNew, row, first, q.newCount);
      }
      q.seqQ = raggedQ ? cuQ(i + 1) - cuQ(i) : a.q.seq();
      q.qBatch = row;
      q.qFirst = first;
      q.q = rowsOf(a.q, row, first, q.seqQ);
      q.o = rowsOf(a.o, row, first, q.seqQ);
      q.lse = rowsOf(a.lse, row, first, q.seqQ);
      q.k = a.k;
      q.v = a.v;
    }
  }
  found.batch = batch;
  for (const Sequence &q : out) {
    found.seqQ = std::max(found.seqQ, q.seqQ);
    found.seqKv = std::max(found.seqKv, q.seqKv);
  }
  if (shape)
    *shape = found;
  return Status::success();
}

void appendNewKeys(const std::vector<Sequence> &sequences) {
  for (const Sequence &q : sequences) {
    const int64_t pageSize = q.k.seq();
    for (int64_t j = 0; j < q.newCount; ++j) {
      const int64_t key = q.newFirst + j;
      const int64_t page = q.pages[key / pageSize * q.pageStride];
      for (auto [pool, rows] : {std::pair{&q.k, &q.kNew}, {&q.v, &q.vNew}}) {
        const int64_t bytes = sizeOf(pool->dtype);
        for (int64_t h = 0; h < pool->heads(); ++h)
          std::memcpy(static_cast<char *>(pool->data) +
                          (page * pool->strides[0] + h * pool->strides[1] +
                           key % pageSize * pool->strides[2]) * bytes,
                      static_cast<const char *>(rows->data) +
                          (h * rows->strides[1] + j * rows->strides[2]) * bytes,
                      pool->dim() * bytes);
      }
    }
  }
}

StatusOr<CallShape> callShape(const KernelSpec &s, const AttentionArgs &a) {
  if (!takesSequences(s.layout))
    return CallShape{a.q.batch(), a.q.seq(), a.k.seq()};
  std::vector<Sequence> sequences;
  CallShape shape;
  if (Status st = splitSequences(s, a, sequences, &shape); !st.ok())
    return st;
  return shape;
}

} // namespace attnc
