// Varlen and paged sequence tables (runtime/Sequences.cpp) from hostile
// bytes: cu_seqlens, block tables, FlashInfer CSR arrays and k_new rows with
// any values over real buffers of the sizes they declare. What the boundary
// accepts is then appended (appendNewKeys writes the pools) and compared
// with the float64 reference (which reads every sequence's keys through its
// pages), so that under ASan an accepted table that reaches outside the
// pools is a crash.
#include "FuzzInput.h"

#include "runtime/Reference.h"
#include "runtime/Tensor.h"

#include <vector>

using namespace attnc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::FuzzInput in(data, size);
  KernelSpec s;
  s.name = "fuzz";
  s.qHeads = 2;
  s.kvHeads = 1;
  s.dQk = s.dV = 4;
  s.scale = 0.5;
  s.layout = in.take<uint8_t>() % 2 ? Layout::Paged : Layout::Varlen;
  if (in.take<uint8_t>() % 2) {
    s.mask = MaskKind::Causal;
    s.alignment = Alignment::BottomRight;
  }
  // Real buffers: q/o rows, k/v rows (varlen) or pages x page size (paged).
  const int64_t qBatch = in.small(1, 3), qRows = in.small(0, 24);
  const int64_t pages = in.small(1, 6), pageSize = in.small(1, 5);
  const int64_t kRows = s.layout == Layout::Paged ? pageSize : in.small(0, 24);
  const int64_t kBatch = s.layout == Layout::Paged ? pages : 1;
  if (qBatch < 1 || qBatch > 3 || qRows < 0 || qRows > 24 || pages < 1 ||
      pages > 6 || pageSize < 1 || pageSize > 5 || kRows < 0 || kRows > 24)
    return 0; // the raw (hostile) draw: sizes of the buffers themselves
  std::vector<float> q(qBatch * qRows * 2 * 4 + 1, 0.25f), o(q.size()),
      k(kBatch * kRows * 4 + 1, 0.5f), v(k.size(), -0.5f),
      kNew(qBatch * qRows * 4 + 1, 1.f), vNew(kNew.size(), 2.f),
      lse(qBatch * 2 * qRows + 1);
  AttentionArgs a;
  a.q = denseView(q.data(), Layout::BSHD, qBatch, qRows, 2, 4);
  a.o = denseView(o.data(), Layout::BSHD, qBatch, qRows, 2, 4);
  a.k = pagedView(k.data(), DType::F32, kBatch, kRows, 1, 4);
  a.v = pagedView(v.data(), DType::F32, kBatch, kRows, 1, 4);
  if (in.take<uint8_t>() % 2) {
    s.lse = true;
    a.lse = lseView(lse.data(), qBatch, 2, qRows);
  }
  // Up to seven int32 arrays, each with its true size and hostile values.
  std::vector<int32_t> arrays[7];
  InputTensor *slots[7] = {&a.sequences.cuSeqlensQ,  &a.sequences.cuSeqlensK,
                           &a.sequences.blockTable,  &a.sequences.cacheSeqlens,
                           &a.sequences.kvIndptr,    &a.sequences.kvIndices,
                           &a.sequences.kvLastPageLen};
  const uint8_t present = in.take<uint8_t>();
  for (int i = 0; i < 7; ++i) {
    if (!(present >> i & 1))
      continue;
    int64_t rows = in.take<uint8_t>() % 5, cols = i == 2 ? in.take<uint8_t>() % 5 : 1;
    arrays[i].resize(std::max<int64_t>(rows * cols, 1));
    for (int32_t &x : arrays[i])
      x = static_cast<int32_t>(in.small(-1, 30));
    InputTensor &t = *slots[i];
    t.data = arrays[i].data();
    t.dtype = DType::I32;
    t.sizes = i == 2 ? std::vector<int64_t>{rows, cols} : std::vector<int64_t>{rows};
    t.strides = i == 2 ? std::vector<int64_t>{cols, 1} : std::vector<int64_t>{1};
  }
  if (in.take<uint8_t>() % 2) { // k_new / v_new shaped like q, one key a query
    a.sequences.kNew = denseView(kNew.data(), Layout::BSHD, qBatch, qRows, 1, 4);
    a.sequences.vNew = denseView(vNew.data(), Layout::BSHD, qBatch, qRows, 1, 4);
  }
  std::vector<Sequence> sequences;
  if (!validateCall(s, a, Memory::Host, &sequences).ok())
    return 0;
  if (s.layout == Layout::Paged && a.sequences.kNew.data)
    appendNewKeys(sequences);
  (void)compareWithReference(s, a); // reads every key through its page
  return 0;
}
