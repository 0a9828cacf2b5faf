// Varlen and paged calls on the CPU (runtime/Tensor.h, SequenceArgs):
// random packed batches and random page layouts against the float64
// reference, equal-length batches against the dense batched kernel (an
// independent check of what b, q and k mean per sequence), k_new/v_new
// appends, and the rejections of bad tables with their messages.
#include "RandomKernels.h"
#include "SequenceCases.h"
#include "TestUtil.h"

#include "runtime/Reference.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <functional>
#include <numeric>

namespace {

using namespace attnc;
using attnc::test::Buffer;
using namespace attnc::test::sequences;

using attnc::test::regions::chance;
using attnc::test::regions::uniform;


/// A random kernel of `layout`: heads (MHA, GQA, MQA), head dims, masks,
/// softcap, LSE, mode, element types and sometimes an explicit schedule.
KernelRequest randomRequest(std::mt19937_64 &rng, int index, Layout layout) {
  KernelRequest r;
  r.name = fmt::format("seq{}", index);
  r.layout = layout;
  r.kvHeads = pick(rng, {1, 2, 3});
  r.qHeads = r.kvHeads * pick(rng, {1, 2, 4});
  r.dQk = pick(rng, {8, 16, 20, 64, 128});
  r.dV = chance(rng, 0.7) ? r.dQk : pick(rng, {16, 72});
  switch (uniform(rng, 0, 3)) {
  case 0:
    r.mask = MaskKind::None;
    break;
  case 1:
  case 2:
    r.mask = MaskKind::Causal;
    break;
  default:
    r.mask = MaskKind::SlidingWindow;
    r.windowLeft = pick(rng, {0, 5, 40});
    r.windowRight = pick(rng, {0, 3});
  }
  if (r.mask != MaskKind::None)
    r.alignment = chance(rng, 0.7) ? Alignment::BottomRight : Alignment::TopLeft;
  if (chance(rng, 0.3))
    r.mode = Mode::Decode;
  r.lse = chance(rng, 0.6);
  if (chance(rng, 0.2))
    r.softcap = 20.0;
  if (chance(rng, 0.3)) {
    Schedule &c = r.schedule;
    c.vectorWidth = pick(rng, {8, 16});
    c.microN = c.vectorWidth;
    c.blockN = c.microN * pick(rng, {1, 2, 4});
    c.microM = pick(rng, {1, 2, 4});
    c.blockM = c.microM * pick(rng, {1, 4});
  }
  if (chance(rng, 0.25)) {
    r.elementType = pick(rng, {"bf16", "f16", "f32"});
    r.kvElementType = pick(rng, {"bf16", "f16"});
  }
  r.schedule.threads = pick(rng, {1, 2});
  return r;
}


struct Outcome {
  Comparison c;
  int64_t outside = 0;
  bool lseGuard = true;
};

/// Runs `args` and checks it against the reference; `o` is the output
/// buffer (poisoned: nothing outside the sequences' rows may change).
Outcome runAndCompare(const CpuKernel &kernel, AttentionArgs &args, Buffer &o,
                      int64_t kvSplits, std::string &error) {
  Outcome r;
  Status st = kernel.run(args, 0, kvSplits);
  if (!st.ok()) {
    error = st.message();
    return r;
  }
  r.c = compareWithReference(kernel.spec(), args);
  r.outside = o.touchedOutsideView();
  return r;
}

TEST(Sequences, VarlenSweepMatchesFloat64Reference) {
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed);
  int cases = 0, emptySequences = 0;
  for (int spec = 0; spec < 24; ++spec) {
    KernelRequest request = randomRequest(rng, spec, Layout::Varlen);
    auto kernel = attnc::test::compileRequest(request);
    ASSERT_TRUE(kernel.ok()) << kernel.status().message();
    const KernelSpec &s = (*kernel)->spec();
    for (int shape = 0; shape < 3; ++shape) {
      int64_t batch = uniform(rng, 1, 5);
      std::vector<int64_t> lq, lk;
      double work = 0;
      for (int64_t i = 0; i < batch; ++i) {
        lq.push_back(randomLength(rng));
        lk.push_back(chance(rng, 0.4) ? lq.back() : randomLength(rng));
        work += double(lq.back()) * lk.back();
      }
      while (work * s.qHeads * (s.dQk + s.dV) > 3e7) { // keep it cheap
        work = 0;
        for (int64_t i = 0; i < batch; ++i) {
          lq[i] /= 2, lk[i] = lk[i] / 2;
          work += double(lq[i]) * lk[i];
        }
      }
      for (int64_t i = 0; i < batch; ++i)
        emptySequences += lq[i] == 0 || lk[i] == 0;
      std::vector<int32_t> cuQ = offsetsOf(lq), cuK = offsetsOf(lk);
      const int64_t totalQ = cuQ.back(), totalK = cuK.back();
      // Packed [total, heads, d] (token-major), sometimes padded; a few
      // spare rows past the last sequence must stay untouched.
      bool padded = chance(rng, 0.3);
      int64_t spare = uniform(rng, 0, 3);
      Buffer q(Layout::BSHD, 1, totalQ + spare, s.qHeads, s.dQk, padded, rng);
      Buffer k(Layout::BSHD, 1, totalK + spare, s.kvHeads, s.dQk, padded, rng);
      Buffer v(Layout::BSHD, 1, totalK + spare, s.kvHeads, s.dV, padded, rng);
      Buffer o(Layout::BSHD, 1, totalQ + spare, s.qHeads, s.dV, padded, rng);
      const DType type = dtypeNamed(s.elementType), kvType = dtypeNamed(s.kvType());
      q.convertTo(type);
      k.convertTo(kvType);
      v.convertTo(kvType);
      o.convertTo(type).fill(std::numeric_limits<float>::quiet_NaN());
      std::vector<float> lse(s.qHeads * (totalQ + spare) + 1,
                             std::numeric_limits<float>::quiet_NaN());
      AttentionArgs args{q.view, k.view, v.view, o.view, {}};
      if (s.lse)
        args.lse = lseView(lse.data(), 1, s.qHeads, totalQ + spare);
      args.sequences.cuSeqlensQ = ints(cuQ);
      args.sequences.cuSeqlensK = ints(cuK);
      // Only the sequences' rows are written: check o over them alone.
      Buffer &out = o;
      out.view.sizes[2] = totalQ;
      args.o.sizes[2] = totalQ + spare;
      std::string error;
      int64_t kvSplits = pick(rng, {0, 0, 1, 2, 5});
      Outcome r = runAndCompare(**kernel, args, out, kvSplits, error);
      ASSERT_TRUE(error.empty()) << error;
      ++cases;
      bool spareUntouched = true;
      if (s.lse)
        for (int64_t h = 0; h < s.qHeads; ++h)
          for (int64_t j = totalQ; j < totalQ + spare; ++j)
            spareUntouched &= std::isnan(lse[h * (totalQ + spare) + j]);
      EXPECT_TRUE(r.c.passed() && r.outside == 0 && spareUntouched)
          << fmt::format(
                 "seed {} spec {}: {}\n lengths q [{}] k [{}], splits {}, "
                 "padded {}: error {:.3g} (tol {:.3g}), lse {:.3g} (tol {:.3g}), "
                 "non-finite {}, lse mismatch {}, writes outside {}",
                 seed, spec, attnc::test::irOf(request).text(),
                 fmt::join(lq, ","), fmt::join(lk, ","), kvSplits, padded,
                 r.c.maxError, r.c.tolerance, r.c.lseError, r.c.lseTolerance,
                 r.c.nonFinite, r.c.lseMismatch, r.outside);
    }
  }
  EXPECT_GT(emptySequences, 0) << "seed " << seed;
  std::printf("varlen sweep: %d cases, seed %llu\n", cases,
              static_cast<unsigned long long>(seed));
}


TEST(Sequences, PagedSweepMatchesFloat64Reference) {
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed);
  int cases = 0;
  for (int spec = 0; spec < 24; ++spec) {
    KernelRequest request = randomRequest(rng, spec, Layout::Paged);
    auto kernel = attnc::test::compileRequest(request);
    ASSERT_TRUE(kernel.ok()) << kernel.status().message();
    const KernelSpec &s = (*kernel)->spec();
    for (int shape = 0; shape < 3; ++shape) {
      int64_t batch = uniform(rng, 1, 5);
      const bool raggedQ = chance(rng, 0.4);
      int64_t denseQ = s.mode == Mode::Decode ? pick(rng, {1, 1, 2, 5})
                                              : randomLength(rng);
      std::vector<int64_t> lq, lk;
      for (int64_t i = 0; i < batch; ++i) {
        lq.push_back(raggedQ ? randomLength(rng) : denseQ);
        lk.push_back(chance(rng, 0.2) ? pick(rng, {0, 1}) : randomLength(rng) * pick(rng, {1, 4}));
      }
      shrinkToBudget(lq, lk, denseQ, raggedQ, s.qHeads * (s.dQk + s.dV), 3e7);
      const int64_t pageSize = chance(rng, 0.7) ? pick(rng, {1, 2, 3, 16, 17, 64})
                                                : uniform(rng, 1, 40);
      PagedLayout pages(lk, pageSize, rng);
      const bool flashInfer = chance(rng, 0.5);
      bool padded = chance(rng, 0.3);
      // Pools [num_pages, page_size, kv_heads, d].
      Buffer k(Layout::BSHD, pages.numPages, pageSize, s.kvHeads, s.dQk, padded, rng);
      Buffer v(Layout::BSHD, pages.numPages, pageSize, s.kvHeads, s.dV, padded, rng);
      std::vector<int32_t> cuQ = offsetsOf(lq);
      const int64_t qBatch = raggedQ ? 1 : batch,
                    qSeq = raggedQ ? cuQ.back() : denseQ;
      Buffer q(Layout::BSHD, qBatch, qSeq, s.qHeads, s.dQk, padded, rng);
      Buffer o(Layout::BSHD, qBatch, qSeq, s.qHeads, s.dV, padded, rng);
      const DType type = dtypeNamed(s.elementType), kvType = dtypeNamed(s.kvType());
      q.convertTo(type);
      k.convertTo(kvType);
      v.convertTo(kvType);
      o.convertTo(type).fill(std::numeric_limits<float>::quiet_NaN());
      std::vector<float> lse(qBatch * s.qHeads * qSeq + 1,
                             std::numeric_limits<float>::quiet_NaN());
      AttentionArgs args{q.view, k.view, v.view, o.view, {}};
      if (s.lse)
        args.lse = lseView(lse.data(), qBatch, s.qHeads, qSeq);
      if (raggedQ)
        args.sequences.cuSeqlensQ = ints(cuQ);
      pages.bind(args.sequences, flashInfer);
      std::string error;
      int64_t kvSplits = pick(rng, {0, 0, 1, 3});
      Outcome r = runAndCompare(**kernel, args, o, kvSplits, error);
      ASSERT_TRUE(error.empty()) << error;
      ++cases;
      EXPECT_TRUE(r.c.passed() && r.outside == 0 && std::isnan(lse.back()))
          << fmt::format(
                 "seed {} spec {}: {}\n q [{}] ({}), kv [{}], page size {}, "
                 "{} pages, {}, splits {}, padded {}: error {:.3g} (tol "
                 "{:.3g}), lse {:.3g} (tol {:.3g}), non-finite {}, lse "
                 "mismatch {}, writes outside {}",
                 seed, spec, attnc::test::irOf(request).text(),
                 fmt::join(lq, ","), raggedQ ? "ragged" : "dense",
                 fmt::join(lk, ","), pageSize, pages.numPages,
                 flashInfer ? "kv_indptr" : "block_table", kvSplits, padded,
                 r.c.maxError, r.c.tolerance, r.c.lseError, r.c.lseTolerance,
                 r.c.nonFinite, r.c.lseMismatch, r.outside);
    }
  }
  std::printf("paged sweep: %d cases, seed %llu\n", cases,
              static_cast<unsigned long long>(seed));
}


TEST(Sequences, EqualLengthsMatchTheDenseBatchedKernel) {
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed);
  auto dense = attnc::test::compileText(regionSpec("dense", "bshd"));
  auto varlen = attnc::test::compileText(regionSpec("varlen", "varlen"));
  auto paged = attnc::test::compileText(regionSpec("paged", "paged"));
  ASSERT_TRUE(dense.ok()) << dense.status().message();
  ASSERT_TRUE(varlen.ok()) << varlen.status().message();
  ASSERT_TRUE(paged.ok()) << paged.status().message();
  const int64_t batch = 3, seqQ = 37, seqKv = 83, pageSize = 5;
  const KernelSpec &s = (*dense)->spec();
  // Dense [batch, seq, heads, d] is also the packed layout of equal lengths.
  Buffer q(Layout::BSHD, batch, seqQ, s.qHeads, s.dQk, false, rng);
  Buffer k(Layout::BSHD, batch, seqKv, s.kvHeads, s.dQk, false, rng);
  Buffer v(Layout::BSHD, batch, seqKv, s.kvHeads, s.dV, false, rng);
  std::vector<int32_t> shift = {0, 20, -10}; // differs per sequence
  std::vector<float> bias = {0.f, 0.05f, -0.03f};
  std::vector<InputTensor> inputs(2);
  inputs[0] = ints(shift);
  inputs[0].name = "shift";
  inputs[1].name = "bias";
  inputs[1].data = bias.data();
  inputs[1].sizes = {batch};
  inputs[1].strides = {1};
  auto runOn = [&](const CpuKernel &kernel, AttentionArgs args,
                   std::vector<float> &out, std::vector<float> &lse) {
    out.assign(batch * seqQ * s.qHeads * s.dV, 0.f);
    lse.assign(batch * s.qHeads * seqQ, 0.f);
    args.o = denseView(out.data(), Layout::BSHD, batch, seqQ, s.qHeads, s.dV);
    args.lse = lseView(lse.data(), batch, s.qHeads, seqQ);
    args.inputs = inputs;
    if (args.q.batch() == 1 && batch > 1) { // packed
      args.o = denseView(out.data(), Layout::BSHD, 1, batch * seqQ, s.qHeads, s.dV);
      args.lse = lseView(lse.data(), 1, s.qHeads, batch * seqQ);
    }
    Status st = kernel.run(args, 2, 1);
    EXPECT_TRUE(st.ok()) << st.message();
  };
  std::vector<float> denseOut, denseLse, out, lse;
  AttentionArgs a{q.view, k.view, v.view, {}, {}};
  runOn(**dense, a, denseOut, denseLse);
  Comparison c = compareWithReference(s, [&] {
    AttentionArgs r = a;
    r.o = denseView(denseOut.data(), Layout::BSHD, batch, seqQ, s.qHeads, s.dV);
    r.lse = lseView(denseLse.data(), batch, s.qHeads, seqQ);
    r.inputs = inputs;
    return r;
  }());
  EXPECT_TRUE(c.passed()) << "dense: error " << c.maxError << ", tolerance "
                          << c.tolerance;
  // Varlen: the same buffers packed ([1, heads, batch x seq, d]); LSE is
  // [heads, total] there, so compare it by (b, h, i).
  std::vector<int32_t> cuQ = {0, seqQ, 2 * seqQ, 3 * seqQ},
                       cuK = {0, seqKv, 2 * seqKv, 3 * seqKv};
  AttentionArgs packed{q.view, k.view, v.view, {}, {}};
  for (TensorView *t : {&packed.q, &packed.k, &packed.v}) {
    t->sizes[2] *= t->sizes[0];
    t->sizes[0] = 1;
  }
  packed.sequences.cuSeqlensQ = ints(cuQ);
  packed.sequences.cuSeqlensK = ints(cuK);
  runOn(**varlen, packed, out, lse);
  auto maxDiff = [&](bool packedLse) {
    double d = 0;
    for (size_t i = 0; i < out.size(); ++i)
      d = std::max(d, double(std::abs(out[i] - denseOut[i])));
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t h = 0; h < s.qHeads; ++h)
        for (int64_t i = 0; i < seqQ; ++i) {
          float want = denseLse[(b * s.qHeads + h) * seqQ + i];
          float got = packedLse ? lse[h * batch * seqQ + b * seqQ + i]
                                : lse[(b * s.qHeads + h) * seqQ + i];
          if (!(std::isinf(want) && want == got))
            d = std::max(d, double(std::abs(got - want)));
        }
    return d;
  };
  EXPECT_LE(maxDiff(true), 1e-6) << "varlen vs dense, seed " << seed;
  // Paged, dense queries: every sequence's keys in shuffled pages of 5.
  std::vector<int64_t> lk(batch, seqKv);
  PagedLayout pages(lk, pageSize, rng);
  Buffer kp(Layout::BSHD, pages.numPages, pageSize, s.kvHeads, s.dQk, false, rng);
  Buffer vp(Layout::BSHD, pages.numPages, pageSize, s.kvHeads, s.dV, false, rng);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t j = 0; j < seqKv; ++j) {
      int32_t page = pages.table[b * pages.maxPages + j / pageSize];
      for (int64_t h = 0; h < s.kvHeads; ++h)
        for (int64_t d = 0; d < s.dQk; ++d) {
          kp.view.at(page, h, j % pageSize, d) = k.view.at(b, h, j, d);
          vp.view.at(page, h, j % pageSize, d) = v.view.at(b, h, j, d);
        }
    }
  for (bool flashInfer : {false, true}) {
    AttentionArgs p{q.view, kp.view, vp.view, {}, {}};
    pages.bind(p.sequences, flashInfer);
    runOn(**paged, p, out, lse);
    EXPECT_LE(maxDiff(false), 1e-6)
        << "paged (" << (flashInfer ? "kv_indptr" : "block_table")
        << ") vs dense, seed " << seed;
  }
}

// k_new/v_new: each sequence's new rows land in its pages at the positions
// its table form says (FlashAttention: after cache_seqlens; FlashInfer:
// the last ones its lengths count), bit for bit; nothing else in the
// pools, padding included, changes; attention sees old and new keys.
TEST(Sequences, AppendWritesOnlyTheNewSlots) {
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed);
  for (int n = 0; n < 16; ++n) {
    KernelRequest request = randomRequest(rng, n, Layout::Paged);
    auto kernel = attnc::test::compileRequest(request);
    ASSERT_TRUE(kernel.ok()) << kernel.status().message();
    const KernelSpec &s = (*kernel)->spec();
    const int64_t batch = uniform(rng, 1, 4);
    const bool raggedQ = n % 2, flashInfer = n % 4 >= 2;
    const int64_t denseNew = pick(rng, {1, 1, 3, 16});
    std::vector<int64_t> lq, cached, total;
    for (int64_t i = 0; i < batch; ++i) {
      lq.push_back(raggedQ ? pick(rng, {0, 1, 5, 33}) : denseNew);
      cached.push_back(chance(rng, 0.2) ? 0 : uniform(rng, 1, 150));
      total.push_back(cached.back() + lq.back());
    }
    const int64_t pageSize = pick(rng, {1, 4, 16, 17});
    PagedLayout pages(total, pageSize, rng);
    if (!flashInfer)
      for (int64_t i = 0; i < batch; ++i)
        pages.cacheLens[i] = static_cast<int32_t>(cached[i]);
    bool padded = chance(rng, 0.5);
    Buffer k(Layout::BSHD, pages.numPages, pageSize, s.kvHeads, s.dQk, padded, rng);
    Buffer v(Layout::BSHD, pages.numPages, pageSize, s.kvHeads, s.dV, padded, rng);
    std::vector<int32_t> cuQ = offsetsOf(lq);
    const int64_t qBatch = raggedQ ? 1 : batch, qSeq = raggedQ ? cuQ.back() : denseNew;
    Buffer q(Layout::BSHD, qBatch, qSeq, s.qHeads, s.dQk, padded, rng);
    Buffer o(Layout::BSHD, qBatch, qSeq, s.qHeads, s.dV, padded, rng);
    Buffer kNew(Layout::BSHD, qBatch, qSeq, s.kvHeads, s.dQk, padded, rng);
    Buffer vNew(Layout::BSHD, qBatch, qSeq, s.kvHeads, s.dV, padded, rng);
    const DType type = dtypeNamed(s.elementType), kvType = dtypeNamed(s.kvType());
    for (Buffer *b : {&q, &o})
      b->convertTo(type);
    for (Buffer *b : {&k, &v, &kNew, &vNew})
      b->convertTo(kvType);
    // Every pool element as a float, before the call.
    auto elements = [](const Buffer &b) {
      std::vector<float> x;
      if (b.half.empty())
        return b.storage;
      for (uint16_t h : b.half)
        x.push_back(fromHalfBits(h, halfKindOf(b.view.dtype)));
      return x;
    };
    std::vector<float> kBefore = elements(k), vBefore = elements(v);
    std::vector<float> lse(qBatch * s.qHeads * qSeq + 1); // never empty
    AttentionArgs args{q.view, k.view, v.view, o.view, {}};
    if (s.lse)
      args.lse = lseView(lse.data(), qBatch, s.qHeads, qSeq);
    if (raggedQ)
      args.sequences.cuSeqlensQ = ints(cuQ);
    pages.bind(args.sequences, flashInfer);
    args.sequences.kNew = kNew.view;
    args.sequences.vNew = vNew.view;
    Status st = (*kernel)->run(args);
    ASSERT_TRUE(st.ok()) << st.message();
    // The expected pools: the old ones with each new row written in.
    for (auto [pool, before, rows] :
         {std::tuple{&k, &kBefore, &kNew}, std::tuple{&v, &vBefore, &vNew}}) {
      std::vector<float> want = *before;
      const int64_t offset = pool->half.empty()
                                 ? static_cast<float *>(pool->view.data) - pool->storage.data()
                                 : static_cast<uint16_t *>(pool->view.data) - pool->half.data();
      for (int64_t i = 0; i < batch; ++i)
        for (int64_t j = 0; j < lq[i]; ++j) {
          int64_t key = cached[i] + j;
          int32_t page = pages.table[i * pages.maxPages + key / pageSize];
          for (int64_t h = 0; h < s.kvHeads; ++h)
            for (int64_t d = 0; d < pool->view.dim(); ++d)
              want[offset + page * pool->view.strides[0] + h * pool->view.strides[1] +
                   key % pageSize * pool->view.strides[2] + d] =
                  rows->view.get(raggedQ ? 0 : i, h, raggedQ ? cuQ[i] + j : j, d);
        }
      std::vector<float> got = elements(*pool);
      int64_t differ = 0;
      for (size_t e = 0; e < got.size(); ++e)
        differ += !(got[e] == want[e] || (got[e] != got[e] && want[e] != want[e]));
      EXPECT_EQ(differ, 0) << fmt::format(
          "seed {} case {}: {} pool elements differ from the old pool with the "
          "new rows written ({}, page size {}, {} queries, cached [{}])",
          seed, n, differ, flashInfer ? "kv_indptr" : "block_table", pageSize,
          raggedQ ? "ragged" : "dense", fmt::join(cached, ","));
    }
    Comparison c = compareWithReference(s, args);
    EXPECT_TRUE(c.passed()) << fmt::format(
        "seed {} case {}: error {:.3g} (tol {:.3g}), lse mismatch {}", seed, n,
        c.maxError, c.tolerance, c.lseMismatch);
  }
}

// Pages only read may be shared (a common prefix) while each sequence
// appends into a page of its own; and a call refused after its tables were
// checked (here: a bad kvSplits) writes nothing.
TEST(Sequences, AppendsBesideASharedPrefixAndRefusedCallsChangeNothing) {
  std::mt19937_64 rng(attnc::test::testSeed());
  KernelRequest r;
  r.name = "prefix";
  r.qHeads = 2;
  r.dQk = 16;
  r.layout = Layout::Paged;
  r.mode = Mode::Decode;
  r.mask = MaskKind::Causal;
  r.alignment = Alignment::BottomRight;
  auto kernel = attnc::test::compileRequest(r);
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  const KernelSpec &s = (*kernel)->spec();
  Buffer k(Layout::BSHD, 4, 4, 2, 16, true, rng), v(Layout::BSHD, 4, 4, 2, 16, true, rng);
  Buffer q(Layout::BSHD, 2, 1, 2, 16, false, rng), o(Layout::BSHD, 2, 1, 2, 16, false, rng);
  Buffer kNew(Layout::BSHD, 2, 1, 2, 16, false, rng), vNew(Layout::BSHD, 2, 1, 2, 16, false, rng);
  // Page 0 holds the 4-key prefix of both; sequence 0 goes on in page 1,
  // sequence 1 in page 2; the new keys land at positions 5 and 6.
  std::vector<int32_t> table = {0, 1, 0, 2}, lens = {5, 6};
  AttentionArgs a{q.view, k.view, v.view, o.view, {}};
  a.sequences.blockTable = ints(table, {2, 2});
  a.sequences.cacheSeqlens = ints(lens);
  a.sequences.kNew = kNew.view;
  a.sequences.vNew = vNew.view;
  const std::vector<float> kBefore = k.storage, vBefore = v.storage;
  Status refused = (*kernel)->run(a, 0, kMaxKvSplits + 1);
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(k.storage == kBefore && v.storage == vBefore)
      << "a refused call changed the pools";
  Status st = (*kernel)->run(a);
  ASSERT_TRUE(st.ok()) << st.message();
  for (auto [i, page, slot] : {std::tuple{0, 1, 1}, std::tuple{1, 2, 2}})
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t d = 0; d < 16; ++d)
        EXPECT_EQ(k.view.at(page, h, slot, d), kNew.view.at(i, h, 0, d))
            << "sequence " << i << " head " << h << " dim " << d;
  Comparison c = compareWithReference(s, a);
  EXPECT_TRUE(c.passed()) << "error " << c.maxError << ", tolerance " << c.tolerance;
}

// The check holds each sequence to the rule on its own: an error in a
// short sequence that the long one's larger naive error would excuse is
// still caught, and a call whose tables fail their checks never passes.
TEST(Sequences, EachSequenceIsCheckedOnItsOwn) {
  std::mt19937_64 rng(attnc::test::testSeed());
  KernelRequest r;
  r.name = "own";
  r.qHeads = 2;
  r.dQk = 64;
  r.layout = Layout::Varlen;
  r.elementType = "bf16"; // naive bf16 errors grow with the keys
  auto kernel = attnc::test::compileRequest(r);
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  const KernelSpec &s = (*kernel)->spec();
  std::vector<int32_t> cu = {0, 3, 3 + 1000};
  Buffer q(Layout::BSHD, 1, 1003, 2, 64, false, rng), k(Layout::BSHD, 1, 1003, 2, 64, false, rng),
      v(Layout::BSHD, 1, 1003, 2, 64, false, rng), o(Layout::BSHD, 1, 1003, 2, 64, false, rng);
  for (Buffer *b : {&q, &k, &v, &o})
    b->convertTo(DType::BF16);
  AttentionArgs a{q.view, k.view, v.view, o.view, {}};
  a.sequences.cuSeqlensQ = a.sequences.cuSeqlensK = ints(cu);
  ASSERT_TRUE((*kernel)->run(a).ok());
  Comparison good = compareWithReference(s, a);
  ASSERT_TRUE(good.passed()) << good.maxError << " vs " << good.tolerance;
  // Each sequence alone: the 3-key one's naive bf16 error (and so its
  // tolerance) is far larger than the 1000-key one's.
  std::vector<int32_t> cuShort = {0, 3}, cuLong = {0, 1000};
  auto alone = [&](int64_t first, std::vector<int32_t> &offsets) {
    AttentionArgs one{q.view, k.view, v.view, o.view, {}};
    for (TensorView *t : {&one.q, &one.k, &one.v, &one.o}) {
      t->data = static_cast<uint16_t *>(t->data) + first * t->strides[2];
      t->sizes[2] = offsets.back();
    }
    one.sequences.cuSeqlensQ = one.sequences.cuSeqlensK = ints(offsets);
    return compareWithReference(s, one);
  };
  const double shortTolerance = alone(0, cuShort).tolerance,
               longTolerance = alone(3, cuLong).tolerance;
  ASSERT_GT(shortTolerance, 3 * longTolerance)
      << "the test needs the short sequence's tolerance to dwarf the long one's";
  // Off by 1.5x the long sequence's own tolerance: inside the short one's,
  // so a rule pooled over the call would pass it; each on its own fails.
  o.view.set(0, 1, 500, 5,
             o.view.get(0, 1, 500, 5) + static_cast<float>(1.5 * longTolerance));
  Comparison bad = compareWithReference(s, a);
  EXPECT_FALSE(bad.passed()) << "error " << bad.maxError << ", tolerance "
                             << bad.tolerance << " (the short sequence's "
                             << shortTolerance << ")";
  cu[2] = 5000; // past k's rows: the call is refused, so it cannot pass
  Comparison invalid = compareWithReference(s, a);
  EXPECT_TRUE(invalid.invalidCall && !invalid.passed());
}

// Block-sparse kernels over sequences of different lengths: the block mask
// is sized by the longest ([b or 1, h or 1, q blocks, kv blocks]); each
// sequence uses its own row and the blocks its length reaches.
TEST(Sequences, BlockMasksApplyPerSequence) {
  const uint64_t seed = attnc::test::testSeed();
  std::mt19937_64 rng(seed);
  for (const char *layout : {"varlen", "paged"}) {
    for (int n = 0; n < 4; ++n) {
      std::string text = fmt::format(
          "attn.kernel @sparse attributes {{q_heads = 4, kv_heads = 2, d_qk = "
          "32, element_type = f32, lse = true, layout = #attn.layout<{}>, "
          "block_sparse = #attn.block_sparse<block_q = 32, block_kv = 32>, "
          "mask = #attn.mask<{}>}}",
          layout, n % 2 ? "causal, bottom_right" : "none");
      auto kernel = attnc::test::compileText(text);
      ASSERT_TRUE(kernel.ok()) << kernel.status().message();
      const KernelSpec &s = (*kernel)->spec();
      std::vector<int64_t> lq = {uniform(rng, 0, 90), uniform(rng, 1, 40),
                                 uniform(rng, 1, 130)},
                           lk = {uniform(rng, 1, 150), uniform(rng, 0, 70),
                                 uniform(rng, 1, 160)};
      std::vector<int32_t> cuQ = offsetsOf(lq), cuK = offsetsOf(lk);
      const int64_t maxQ = *std::max_element(lq.begin(), lq.end()),
                    maxK = *std::max_element(lk.begin(), lk.end());
      BlockMask blocks = attnc::test::regions::randomBlockMask(
          rng, s, 3, maxQ, maxK, std::uniform_real_distribution<double>(0.2, 1)(rng));
      Buffer q(Layout::BSHD, 1, cuQ.back(), s.qHeads, s.dQk, false, rng);
      Buffer o(Layout::BSHD, 1, cuQ.back(), s.qHeads, s.dV, false, rng);
      Buffer k(Layout::BSHD, 1, cuK.back(), s.kvHeads, s.dQk, false, rng);
      Buffer v(Layout::BSHD, 1, cuK.back(), s.kvHeads, s.dV, false, rng);
      std::vector<float> lse(s.qHeads * cuQ.back() + 1);
      AttentionArgs args{q.view, k.view, v.view, o.view,
                         lseView(lse.data(), 1, s.qHeads, cuQ.back())};
      args.blockMask = blocks.args();
      args.sequences.cuSeqlensQ = ints(cuQ);
      PagedLayout pages(lk, 7, rng);
      Buffer kp(Layout::BSHD, pages.numPages, 7, s.kvHeads, s.dQk, false, rng);
      Buffer vp(Layout::BSHD, pages.numPages, 7, s.kvHeads, s.dV, false, rng);
      if (std::string(layout) == "varlen") {
        args.sequences.cuSeqlensK = ints(cuK);
      } else {
        args.k = kp.view;
        args.v = vp.view;
        pages.bind(args.sequences, n >= 2);
      }
      if (n == 0) {
        EXPECT_EQ(buildBlockMask(s, args).status().message(),
                  fmt::format("kernel @sparse has layout {}: its mask differs "
                              "per sequence length, so one block mask is not "
                              "built from it; give each sequence's row of the "
                              "block mask ([batch, h, q blocks, kv blocks]) "
                              "yourself",
                              layout));
      }
      Status st = (*kernel)->run(args);
      ASSERT_TRUE(st.ok()) << st.message();
      Comparison c = compareWithReference(s, args);
      EXPECT_TRUE(c.passed()) << fmt::format(
          "seed {} {}: q [{}] kv [{}], block mask batch {} heads {}: error "
          "{:.3g} (tol {:.3g}), lse mismatch {}",
          seed, text, fmt::join(lq, ","), fmt::join(lk, ","), blocks.batch,
          blocks.heads, c.maxError, c.tolerance, c.lseMismatch);
    }
  }
}

TEST(Sequences, BadTablesAreRejectedByName) {
  std::mt19937_64 rng(attnc::test::testSeed());
  KernelRequest vr;
  vr.name = "v";
  vr.qHeads = 2;
  vr.dQk = 16;
  vr.layout = Layout::Varlen;
  KernelSpec varlen = attnc::test::irOf(vr).view();
  KernelRequest pr = vr;
  pr.name = "p";
  pr.layout = Layout::Paged;
  KernelSpec paged = attnc::test::irOf(pr).view();
  Buffer q(Layout::BSHD, 1, 10, 2, 16, false, rng);
  Buffer o(Layout::BSHD, 1, 10, 2, 16, false, rng);
  Buffer k(Layout::BSHD, 1, 12, 2, 16, false, rng);
  Buffer pool(Layout::BSHD, 4, 4, 2, 16, false, rng); // 4 pages of 4
  Buffer qd(Layout::BSHD, 2, 1, 2, 16, false, rng);   // dense q, batch 2
  Buffer q3(Layout::BSHD, 2, 3, 2, 16, false, rng);   // 3 queries each
  Buffer kNew(Layout::BSHD, 2, 1, 2, 16, false, rng); // one new key each
  Buffer kNew3(Layout::BSHD, 2, 3, 2, 16, false, rng);
  Buffer kNew1(Layout::BSHD, 1, 1, 2, 16, false, rng);
  Buffer kNewOneHead(Layout::BSHD, 2, 1, 1, 16, false, rng);
  std::vector<int32_t> cuQ10 = {0, 4, 10};
  std::vector<int32_t> spare = {0, 1, 2};

  // Varlen: q has 10 rows, k 12; each case gives its offsets, then edits
  // the call.
  struct VarlenCase {
    const char *what;
    std::vector<int32_t> cuQ, cuK;
    std::function<void(AttentionArgs &)> edit;
    std::string message;
  };
  auto none = [](AttentionArgs &) {};
  std::vector<VarlenCase> varlenCases = {
      {"no offsets", {0, 4, 10}, {0, 5, 12},
       [](AttentionArgs &a) { a.sequences = {}; },
       "cu_seqlens_q: kernel @v has layout varlen; give cu_seqlens_q and "
       "cu_seqlens_k (batch + 1 offsets each)"},
      {"no k offsets", {0, 4, 10}, {0, 5, 12},
       [](AttentionArgs &a) { a.sequences.cuSeqlensK = {}; },
       "cu_seqlens_k: kernel @v has layout varlen; give it with cu_seqlens_q "
       "(batch + 1 offsets each)"},
      {"decreasing", {0, 7, 5}, {0, 5, 12}, none,
       "cu_seqlens_q must not decrease: cu_seqlens_q[2] = 5 is below "
       "cu_seqlens_q[1] = 7"},
      {"not from 0", {0, 4, 10}, {2, 5, 12}, none,
       "cu_seqlens_k[0] must be 0, got 2"},
      {"past the rows", {0, 4, 11}, {0, 5, 12}, none,
       "cu_seqlens_q[2] = 11 is past q's rows (10)"},
      {"batch mismatch", {0, 4, 10}, {0, 12}, none,
       "cu_seqlens_k: has 2 entries, but the call has 2 sequences (it needs "
       "batch + 1 = 3)"},
      {"not int32", {0, 4, 10}, {0, 5, 12},
       [](AttentionArgs &a) { a.sequences.cuSeqlensK.dtype = DType::F32; },
       "cu_seqlens_k: element type is f32, but it must be i32"},
      {"batch 2 q", {0, 4, 10}, {0, 5, 12},
       [&](AttentionArgs &a) { a.q = qd.view; },
       "q: a varlen call packs its sequences along seq (total_q rows), so "
       "its batch must be 1, got 2"},
      {"k_new", {0, 4, 10}, {0, 5, 12},
       [&](AttentionArgs &a) { a.sequences.kNew = a.sequences.vNew = k.view; },
       "k_new: given, but kernel @v has layout varlen (appending new keys is "
       "for layout paged)"},
      {"rank 2", {0, 4, 10}, {0, 5, 12},
       [](AttentionArgs &a) {
         a.sequences.cuSeqlensQ.sizes = {3, 1};
         a.sequences.cuSeqlensQ.strides = {1, 1};
       },
       "cu_seqlens_q: has 2 sizes and 2 strides, but it must have rank 1"},
      {"no entries", {0, 4, 10}, {0, 5, 12},
       [](AttentionArgs &a) { a.sequences.cuSeqlensQ.sizes = {0}; },
       "cu_seqlens_q: has no entries; it needs batch + 1 (at least 1)"},
      {"o rows", {0, 4, 10}, {0, 5, 12},
       [](AttentionArgs &a) { a.o.sizes[2] = 9; },
       "q and o disagree on total_q (10 vs 9)"},
      {"k batch", {0, 4, 10}, {0, 5, 12},
       [&](AttentionArgs &a) { a.k = qd.view; },
       "k: a varlen call packs its sequences along seq (total_k rows), so "
       "its batch must be 1, got 2"},
      {"v rows", {0, 4, 10}, {0, 5, 12},
       [](AttentionArgs &a) { a.v.sizes[2] = 11; },
       "k and v disagree on total_k (12 vs 11)"},
      {"page table", {0, 4, 10}, {0, 5, 12},
       [&](AttentionArgs &a) { a.sequences.blockTable = ints(spare, {1, 3}); },
       "block_table: given, but kernel @v has layout varlen (page tables are "
       "for layout paged)"},
  };
  for (VarlenCase &c : varlenCases) {
    AttentionArgs a{q.view, k.view, k.view, o.view, {}};
    a.sequences.cuSeqlensQ = ints(c.cuQ);
    a.sequences.cuSeqlensK = ints(c.cuK);
    c.edit(a);
    EXPECT_EQ(validateCall(varlen, a).message(), c.message) << c.what;
  }
  {
    std::vector<int32_t> cuQ = {0, 4, 10}, cuK = {0, 5, 12};
    AttentionArgs a{q.view, k.view, k.view, o.view, {}};
    a.sequences.cuSeqlensQ = ints(cuQ);
    a.sequences.cuSeqlensK = ints(cuK);
    EXPECT_TRUE(validateCall(varlen, a).ok()) << validateCall(varlen, a).message();
  }

  // Paged, dense q of batch 2; tables: block_table [[2, 0], [3, 1]] with
  // cache_seqlens [6, 5]; kv_indptr [0, 2, 4], kv_indices [2, 0, 3, 1],
  // kv_last_page_len [2, 1].
  struct PagedCase {
    const char *what;
    std::function<void(AttentionArgs &, std::vector<int32_t> &table,
                       std::vector<int32_t> &lens, std::vector<int32_t> &indptr,
                       std::vector<int32_t> &indices,
                       std::vector<int32_t> &last)>
        edit;
    bool flashInfer;
    std::string message;
  };
  std::vector<PagedCase> pagedCases = {
      {"page out of range",
       [](AttentionArgs &, auto &table, auto &, auto &, auto &, auto &) {
         table[3] = 4;
       },
       false,
       "block_table[1, 1] = 4 (page 1 of sequence 1) is not a page of the "
       "pools (0 <= id < 4)"},
      {"negative page",
       [](AttentionArgs &, auto &, auto &, auto &, auto &indices, auto &) {
         indices[1] = -1;
       },
       true,
       "kv_indices[1] = -1 (page 1 of sequence 0) is not a page of the pools "
       "(0 <= id < 4)"},
      {"past capacity",
       [](AttentionArgs &, auto &, auto &lens, auto &, auto &, auto &) {
         lens[1] = 9;
       },
       false,
       "cache_seqlens[1] = 9 needs 3 pages of 4, but block_table has "
       "max_pages 2"},
      {"non-monotone indptr",
       [](AttentionArgs &, auto &, auto &, auto &indptr, auto &, auto &) {
         indptr = {0, 3, 2};
       },
       true,
       "kv_indptr must not decrease: kv_indptr[2] = 2 is below kv_indptr[1] "
       "= 3"},
      {"last page len 0",
       [](AttentionArgs &, auto &, auto &, auto &, auto &, auto &last) {
         last[0] = 0;
       },
       true,
       "kv_last_page_len[0] = 0 is outside [1, 4] (the page size); sequence "
       "0 has 2 pages"},
      {"last page len too big",
       [](AttentionArgs &, auto &, auto &, auto &, auto &, auto &last) {
         last[1] = 5;
       },
       true,
       "kv_last_page_len[1] = 5 is outside [1, 4] (the page size); sequence "
       "1 has 2 pages"},
      {"both forms",
       [](AttentionArgs &a, auto &table, auto &lens, auto &, auto &, auto &) {
         a.sequences.blockTable = ints(table, {2, 2});
         a.sequences.cacheSeqlens = ints(lens);
       },
       true,
       "paged call: give either block_table with cache_seqlens "
       "(FlashAttention) or kv_indptr, kv_indices and kv_last_page_len "
       "(FlashInfer), not both"},
      {"half a form",
       [](AttentionArgs &a, auto &, auto &, auto &, auto &, auto &) {
         a.sequences.cacheSeqlens = {};
       },
       false, "cache_seqlens: missing; block_table and cache_seqlens go together"},
      {"batch mismatch",
       [&](AttentionArgs &a, auto &, auto &, auto &, auto &, auto &) {
         a.q = q.view;
         a.o = o.view;
       },
       false,
       "q: batch is 1, but the page table describes 2 sequences (dense "
       "queries: one batch row per sequence)"},
      {"v pool differs",
       [&](AttentionArgs &a, auto &, auto &, auto &, auto &, auto &) {
         a.v.sizes[0] = 3;
       },
       false, "v: the pool has 3 pages of 4 slots, but k's has 4 of 4"},
      {"shared page when appending",
       [&](AttentionArgs &a, auto &table, auto &lens, auto &, auto &, auto &) {
         table[3] = 2; // sequence 1's second page is sequence 0's first
         lens[1] = 4;  // and its new key goes there
         a.sequences.kNew = kNew.view;
         a.sequences.vNew = kNew.view;
       },
       false,
       "page 2 takes new keys of sequence 1 but is also listed for sequence "
       "0; a page that is appended to must belong to one sequence"},
      {"page twice in one sequence",
       [&](AttentionArgs &a, auto &table, auto &lens, auto &, auto &, auto &) {
         table[2] = 1; // sequence 1: pages 1, 1
         lens[1] = 4;
         a.sequences.kNew = kNew.view;
         a.sequences.vNew = kNew.view;
       },
       false,
       "page 1 takes new keys of sequence 1 but is also listed twice for "
       "that sequence; a page that is appended to must belong to one "
       "sequence"},
      {"append past capacity",
       [&](AttentionArgs &a, auto &, auto &lens, auto &, auto &, auto &) {
         lens[0] = 8;
         a.sequences.kNew = kNew.view;
         a.sequences.vNew = kNew.view;
       },
       false,
       "cache_seqlens[0] = 8 plus 1 new keys needs 3 pages of 4, but "
       "block_table has max_pages 2"},
      {"more new keys than FlashInfer's lengths",
       [&](AttentionArgs &a, auto &, auto &, auto &indptr, auto &, auto &) {
         indptr = {0, 1, 3}; // sequence 0: one page of 2 keys
         a.sequences.kNew = kNew3.view;
         a.sequences.vNew = kNew3.view;
         a.q = q3.view;
         a.o = q3.view;
       },
       true,
       "k_new: sequence 0 appends 3 keys, but kv_indptr and kv_last_page_len "
       "give it 2 (FlashInfer's tables count the appended keys)"},
      {"k_new heads",
       [&](AttentionArgs &a, auto &, auto &, auto &, auto &, auto &) {
         a.sequences.kNew = a.sequences.vNew = kNewOneHead.view;
       },
       false,
       "k_new: shape [2, 1, 1, 16] with head-dim stride 1; it must have "
       "kv_heads = 2 heads of 16 with stride 1"},
      {"k_new and v_new disagree",
       [&](AttentionArgs &a, auto &, auto &, auto &, auto &, auto &) {
         a.sequences.kNew = kNew.view;
         a.sequences.vNew = kNew3.view;
       },
       false, "k_new and v_new disagree: batch 2 and 2, seq 1 and 3"},
      {"k_new not packed like q",
       [&](AttentionArgs &a, auto &, auto &, auto &, auto &, auto &) {
         a.q = q.view;
         a.o = o.view;
         a.sequences.cuSeqlensQ = ints(cuQ10);
         a.sequences.kNew = a.sequences.vNew = kNew.view;
       },
       false,
       "k_new: with cu_seqlens_q it is packed like q, [1, kv_heads, total_q "
       "= 10, d] (one new key per query); got batch 2 and seq 1"},
      {"k_new in the pool",
       [&](AttentionArgs &a, auto &, auto &, auto &, auto &, auto &) {
         TensorView inside = kNew.view;
         inside.data = pool.view.data;
         a.sequences.kNew = a.sequences.vNew = inside;
       },
       false,
       "k_new: its memory overlaps the k pool; the new rows must be a buffer "
       "of their own"},
      {"negative cache_seqlens",
       [](AttentionArgs &, auto &, auto &lens, auto &, auto &, auto &) {
         lens[0] = -1;
       },
       false, "cache_seqlens[0] = -1: must be >= 0"},
      {"k_new without v_new",
       [&](AttentionArgs &a, auto &, auto &, auto &, auto &, auto &) {
         a.sequences.kNew = kNew.view;
       },
       false, "v_new: missing; k_new and v_new go together"},
      {"k_new of another type",
       [&](AttentionArgs &a, auto &, auto &, auto &, auto &, auto &) {
         a.sequences.kNew = a.sequences.vNew = kNew.view;
         a.sequences.vNew.dtype = DType::BF16;
       },
       false,
       "v_new: element type is bf16, but the kernel's kv_element_type is f32"},
      {"k_new of another batch",
       [&](AttentionArgs &a, auto &, auto &, auto &, auto &, auto &) {
         a.sequences.kNew = a.sequences.vNew = kNew1.view;
       },
       false, "k_new: batch is 1, but the page table describes 2 sequences"},
      {"page size 0",
       [](AttentionArgs &a, auto &, auto &, auto &, auto &, auto &) {
         a.k.sizes[2] = 0;
       },
       false,
       "k: the page size (dim 2 of the pool view) must be at least 1, got 0"},
      {"no form",
       [](AttentionArgs &a, auto &, auto &, auto &, auto &, auto &) {
         a.sequences = {};
       },
       false,
       "paged call: kernel @p has layout paged; give block_table with "
       "cache_seqlens, or kv_indptr, kv_indices and kv_last_page_len"},
      {"no block_table",
       [](AttentionArgs &a, auto &, auto &, auto &, auto &, auto &) {
         a.sequences.blockTable = {};
       },
       false, "block_table: missing; block_table and cache_seqlens go together"},
      {"cache_seqlens count",
       [](AttentionArgs &a, auto &, auto &, auto &, auto &, auto &) {
         a.sequences.cacheSeqlens.sizes = {1};
       },
       false,
       "cache_seqlens: has 1 entries, but block_table has 2 rows (one per "
       "sequence)"},
      {"cu_seqlens_q count",
       [&](AttentionArgs &a, auto &, auto &, auto &, auto &, auto &) {
         a.q = q.view;
         a.o = o.view;
         a.sequences.cuSeqlensQ = ints(spare);
         a.sequences.cuSeqlensQ.sizes = {2};
       },
       false, "cu_seqlens_q: describes 1 sequences, but block_table has 2"},
      {"indptr past indices",
       [](AttentionArgs &, auto &, auto &, auto &indptr, auto &, auto &) {
         indptr[2] = 5;
       },
       true, "kv_indptr[2] = 5 is past kv_indices' entries (4)"},
      {"last_page_len count",
       [](AttentionArgs &a, auto &, auto &, auto &, auto &, auto &) {
         a.sequences.kvLastPageLen.sizes = {1};
       },
       true,
       "kv_last_page_len: has 1 entries, but the call has 2 sequences"},
      {"last_page_len of an empty sequence",
       [](AttentionArgs &, auto &, auto &, auto &indptr, auto &, auto &) {
         indptr[2] = 2;
       },
       true,
       "kv_last_page_len[1] = 1, but sequence 1 has no pages (it must be 0)"},
      {"2^31 keys",
       [](AttentionArgs &a, auto &, auto &, auto &indptr, auto &, auto &) {
         for (TensorView *t : {&a.k, &a.v}) {
           t->sizes[2] = int64_t(1) << 30;
           t->strides[2] = 0;
         }
         indptr[1] = 3;
       },
       true,
       "kv_indptr: sequence 0 has 3 pages of 1073741824: more than 2^31 - 1 "
       "keys"},
      {"o seq",
       [](AttentionArgs &a, auto &, auto &, auto &, auto &, auto &) {
         a.o.sizes[2] = 0;
       },
       false, "q and o disagree on seq_q (1 vs 0)"},
      {"cu_seqlens_k",
       [](AttentionArgs &a, auto &, auto &, auto &indptr, auto &, auto &) {
         a.sequences.cuSeqlensK = ints(indptr);
       },
       false,
       "cu_seqlens_k: given, but kernel @p has layout paged (its keys are "
       "addressed by pages)"},
  };
  for (PagedCase &c : pagedCases) {
    std::vector<int32_t> table = {2, 0, 3, 1}, lens = {6, 5},
                         indptr = {0, 2, 4}, indices = {2, 0, 3, 1},
                         last = {2, 1};
    AttentionArgs a{qd.view, pool.view, pool.view, qd.view, {}};
    if (c.flashInfer) {
      a.sequences.kvIndptr = ints(indptr);
      a.sequences.kvIndices = ints(indices);
      a.sequences.kvLastPageLen = ints(last);
    } else {
      a.sequences.blockTable = ints(table, {2, 2});
      a.sequences.cacheSeqlens = ints(lens);
    }
    c.edit(a, table, lens, indptr, indices, last);
    EXPECT_EQ(validateCall(paged, a).message(), c.message) << c.what;
  }
  // The good paged call passes, and a dense kernel refuses sequence arrays.
  {
    std::vector<int32_t> table = {2, 0, 3, 1}, lens = {6, 5};
    AttentionArgs a{qd.view, pool.view, pool.view, qd.view, {}};
    a.sequences.blockTable = ints(table, {2, 2});
    a.sequences.cacheSeqlens = ints(lens);
    EXPECT_TRUE(validateCall(paged, a).ok()) << validateCall(paged, a).message();
    KernelRequest dr = vr;
    dr.name = "d";
    dr.layout = Layout::BSHD;
    AttentionArgs d{qd.view, qd.view, qd.view, qd.view, {}};
    d.sequences.cacheSeqlens = ints(lens);
    EXPECT_EQ(validateCall(attnc::test::irOf(dr).view(), d).message(),
              "cache_seqlens: given, but kernel @d has layout bshd (sequence "
              "arrays are for layouts varlen and paged)");
    d.sequences = {};
    d.sequences.kNew = d.sequences.vNew = kNew.view;
    EXPECT_EQ(validateCall(attnc::test::irOf(dr).view(), d).message(),
              "k_new: given, but kernel @d has layout bshd (appending new keys "
              "is for layout paged)");
  }
}

// Prefill kernels keep their K^T cache tags in 2 x 32 bits: a call past
// that is refused by name (an empty one here: no memory is needed).
TEST(Sequences, PrefillTagLimitIsNamed) {
  KernelRequest r;
  r.name = "wide";
  r.qHeads = 2;
  r.dQk = 16;
  auto kernel = attnc::test::compileRequest(r);
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  float x = 0;
  TensorView t;
  t.data = &x;
  t.sizes = {int64_t(1) << 31, 2, 0, 16};
  t.strides = {0, 0, 0, 1};
  AttentionArgs a{t, t, t, t, {}};
  EXPECT_EQ((*kernel)->run(a).message(),
            "prefill kernels on the cpu run at most 2^31 - 1 batch x kv_heads "
            "and 2^31 key tiles a sequence; got batch 2147483648 x kv_heads 2 "
            "and 0 keys (a decode kernel has neither limit)");
}

} // namespace
