#ifndef ATTNC_TEST_UNIT_CUDASEQUENCECALLS_H
#define ATTNC_TEST_UNIT_CUDASEQUENCECALLS_H

// Random varlen and paged calls of CUDA kernels, checked against the
// float64 reference: one body for the emulator (SimtSequencesTest) and a
// GPU (CudaNumericsTest), which differ only in how a call runs.

#include "SequenceCases.h"
#include "TestUtil.h"

#include "runtime/BlockMask.h"
#include "runtime/Half.h"
#include "runtime/Reference.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace attnc::test::sequences {

/// A random CUDA kernel of `layout`: f16 or bf16, MHA/GQA/MQA, head dims
/// the emitter takes (multiples of 8, d_v != d_qk sometimes), masks, LSE,
/// softcap, and sometimes an explicit schedule.
inline std::string randomSpec(std::mt19937_64 &rng, int index, const char *layout) {
  const int kv = pick(rng, {1, 2}), q = kv * pick(rng, {1, 2, 4});
  const int dQk = pick(rng, {16, 64, 128, 40});
  const int dV = chance(rng, 0.7) ? dQk : pick(rng, {16, 72});
  const char *mask = pick(rng, {"#attn.mask<none>", "#attn.mask<causal, bottom_right>",
                                "#attn.mask<causal, top_left>",
                                "#attn.mask<sliding_window, left = 40, right = 3, "
                                "bottom_right>"});
  std::string extra;
  if (chance(rng, 0.2))
    extra += ", softcap = 20.0";
  if (chance(rng, 0.3))
    extra += pick(rng, {", schedule = #attn.schedule<warps = 2, block_n = 32, stages = 3>",
                        ", schedule = #attn.schedule<block_n = 16, stages = 4>"});
  return fmt::format(
      "attn.kernel @seq{} attributes {{q_heads = {}, kv_heads = {}, d_qk = {}, "
      "d_v = {}, element_type = {}, mask = {}, lse = {}, layout = "
      "#attn.layout<{}>{}}}",
      index, q, kv, dQk, dV, chance(rng, 0.5) ? "bf16" : "f16", mask,
      chance(rng, 0.6) ? "true" : "false", layout, extra);
}

/// The kernels the random-call tests run: random ones of both layouts,
/// regions reading b through [batch] inputs, and block-sparse ones (the
/// bool: the call gets a random block mask).
inline std::vector<std::pair<std::string, bool>> cudaSequenceSpecs(std::mt19937_64 &rng) {
  std::vector<std::pair<std::string, bool>> specs; // text, block mask
  for (int i = 0; i < 8; ++i)
    specs.push_back({randomSpec(rng, i, i % 2 ? "paged" : "varlen"), false});
  // b in regions is the sequence's index: read through [batch] inputs.
  specs.push_back({regionSpec("regions_varlen", "varlen", "f16"), false});
  specs.push_back({regionSpec("regions_paged", "paged", "bf16"), false});
  // Block masks apply per sequence (b, the sequence's own query blocks).
  for (const char *layout : {"varlen", "paged"})
    specs.push_back({fmt::format("attn.kernel @sparse_{0} attributes {{q_heads = 4, "
                                 "kv_heads = 2, d_qk = 64, element_type = f16, lse = "
                                 "true, layout = #attn.layout<{0}>, block_sparse = "
                                 "#attn.block_sparse<block_q = 64, block_kv = 64>, "
                                 "mask = #attn.mask<causal, bottom_right>}}",
                                 layout),
                     true});
  return specs;
}

/// The kernel under test: a host-run entry point (simtRunFromHost,
/// runFromHost) or a mutant's launch.
using Run = std::function<Status(const AttentionArgs &)>;

/// One random varlen or paged call of `s`: runs it, compares it with the
/// reference, checks that o and lse rows outside the sequences stay
/// untouched. Returns a description of what failed ("" when it passed).
inline std::string runRandomCall(const KernelSpec &s, const Run &run, std::mt19937_64 &rng,
                          bool blockMask = false) {
  const bool paged = s.layout == Layout::Paged;
  const int64_t batch = uniform(rng, 1, 5);
  const bool raggedQ = !paged || chance(rng, 0.4);
  int64_t denseQ = chance(rng, 0.5) ? pick(rng, {1, 1, 2, 5}) : randomLength(rng);
  std::vector<int64_t> lq, lk;
  for (int64_t i = 0; i < batch; ++i) {
    lq.push_back(raggedQ ? randomLength(rng) : denseQ);
    lk.push_back(chance(rng, 0.2) ? pick(rng, {0, 1}) : randomLength(rng));
  }
  // The emulator is slow.
  shrinkToBudget(lq, lk, denseQ, raggedQ, s.qHeads * (s.dQk + s.dV), 4e6);
  std::vector<int32_t> cuQ = offsetsOf(lq), cuK = offsetsOf(lk);
  const int64_t pageSize = chance(rng, 0.7) ? pick(rng, {1, 3, 16, 17, 64})
                                            : uniform(rng, 1, 40);
  PagedLayout pages(lk, pageSize, rng);
  const bool flashInfer = chance(rng, 0.5), padded = chance(rng, 0.3);
  // Rows past the last sequence (ragged queries and varlen keys only: a
  // dense q's rows all belong to every sequence).
  const int64_t spare = raggedQ ? uniform(rng, 0, 3) : 0;
  const int64_t qBatch = raggedQ ? 1 : batch,
                qSeq = raggedQ ? cuQ.back() : denseQ;
  Buffer q(Layout::BSHD, qBatch, qSeq + spare, s.qHeads, s.dQk, padded, rng);
  Buffer o(Layout::BSHD, qBatch, qSeq + spare, s.qHeads, s.dV, padded, rng);
  Buffer k = paged ? Buffer(Layout::BSHD, pages.numPages, pageSize, s.kvHeads, s.dQk, padded, rng)
                   : Buffer(Layout::BSHD, 1, cuK.back() + spare, s.kvHeads, s.dQk, padded, rng);
  Buffer v = paged ? Buffer(Layout::BSHD, pages.numPages, pageSize, s.kvHeads, s.dV, padded, rng)
                   : Buffer(Layout::BSHD, 1, cuK.back() + spare, s.kvHeads, s.dV, padded, rng);
  o.fill(std::numeric_limits<float>::quiet_NaN());
  std::vector<float> lse(qBatch * s.qHeads * (qSeq + spare) + 1,
                         std::numeric_limits<float>::quiet_NaN());
  AttentionArgs args{q.view, k.view, v.view, o.view, {}};
  if (s.lse)
    args.lse = lseView(lse.data(), qBatch, s.qHeads, qSeq + spare);
  if (raggedQ)
    args.sequences.cuSeqlensQ = ints(cuQ);
  if (paged)
    pages.bind(args.sequences, flashInfer);
  else
    args.sequences.cuSeqlensK = ints(cuK);
  BlockMask blocks;
  if (blockMask) {
    blocks = attnc::test::regions::randomBlockMask(
        rng, s, batch, *std::max_element(lq.begin(), lq.end()),
        *std::max_element(lk.begin(), lk.end()),
        std::uniform_real_distribution<double>(0.2, 1)(rng));
    args.blockMask = blocks.args();
  }
  // Declared [batch] inputs (the region kernels').
  std::vector<int32_t> shift;
  std::vector<float> bias;
  for (const InputDecl &d : s.inputs) {
    if (d.type == DType::I32) {
      for (int64_t i = 0; i < batch; ++i)
        shift.push_back(static_cast<int32_t>(uniform(rng, -3, 40)));
      args.inputs.push_back(int32Array(shift.data(), {batch}));
    } else {
      for (int64_t i = 0; i < batch; ++i)
        bias.push_back(std::uniform_real_distribution<float>(-0.05f, 0.05f)(rng));
      args.inputs.push_back({"", bias.data(), DType::F32, {batch}, {1}});
    }
    args.inputs.back().name = d.name;
  }
  std::string what = fmt::format(
      "q [{}] ({}), kv [{}], {}page size {}, {} pages, {}, padded {}, spare {}",
      fmt::join(lq, ","), raggedQ ? "ragged" : "dense", fmt::join(lk, ","),
      paged ? "" : "varlen; ", pageSize, pages.numPages,
      flashInfer ? "kv_indptr" : "block_table", padded, spare);
  Status st = run(args);
  if (!st.ok())
    return what + ": " + st.message();
  Comparison c = compareWithReference(s, args);
  // Only the sequences' rows may be written.
  o.view.sizes[2] = qSeq;
  const int64_t outside = o.touchedOutsideView();
  int64_t lseOutside = !std::isnan(lse.back());
  if (s.lse)
    for (int64_t b = 0; b < qBatch; ++b)
      for (int64_t h = 0; h < s.qHeads; ++h)
        for (int64_t j = qSeq; j < qSeq + spare; ++j)
          lseOutside += !std::isnan(args.lse.at(b, h, j, 0));
  if (c.passed() && outside == 0 && lseOutside == 0)
    return "";
  return fmt::format("{}: error {:.3g} (tol {:.3g}), lse {:.3g} (tol {:.3g}), "
                     "non-finite {}, lse mismatch {}, writes outside {} / {}",
                     what, c.maxError, c.tolerance, c.lseError, c.lseTolerance,
                     c.nonFinite, c.lseMismatch, outside, lseOutside);
}

/// The kernel AppendsReachTheCallersPools runs.
inline constexpr const char *kAppendSpec =
    "attn.kernel @append attributes {q_heads = 4, kv_heads = 2, d_qk = 64, "
    "element_type = bf16, lse = true, layout = #attn.layout<paged>, mask = "
    "#attn.mask<causal, bottom_right>}";

/// k_new/v_new through a host-run entry point (`s` is kAppendSpec's
/// kernel): the caller's pools get the new rows (rounded to the element
/// type), nothing else in them changes, and attention sees them.
inline void checkAppends(const KernelSpec &s, const Run &run, uint64_t seed,
                         std::mt19937_64 &rng) {
  for (int n = 0; n < 4; ++n) {
    const bool raggedQ = n % 2, flashInfer = n >= 2;
    const int64_t batch = 3, pageSize = pick(rng, {1, 5, 16});
    std::vector<int64_t> lq, cached, total;
    for (int64_t i = 0; i < batch; ++i) {
      lq.push_back(raggedQ ? pick(rng, {0, 1, 7, 33}) : 2);
      cached.push_back(uniform(rng, 0, 90));
      total.push_back(cached.back() + lq.back());
    }
    PagedLayout pages(total, pageSize, rng);
    if (!flashInfer)
      for (int64_t i = 0; i < batch; ++i)
        pages.cacheLens[i] = static_cast<int32_t>(cached[i]);
    Buffer k(Layout::BSHD, pages.numPages, pageSize, s.kvHeads, s.dQk, false, rng);
    Buffer v(Layout::BSHD, pages.numPages, pageSize, s.kvHeads, s.dV, false, rng);
    std::vector<int32_t> cuQ = offsetsOf(lq);
    const int64_t qBatch = raggedQ ? 1 : batch, qSeq = raggedQ ? cuQ.back() : 2;
    Buffer q(Layout::BSHD, qBatch, qSeq, s.qHeads, s.dQk, false, rng);
    Buffer o(Layout::BSHD, qBatch, qSeq, s.qHeads, s.dV, false, rng);
    Buffer kNew(Layout::BSHD, qBatch, qSeq, s.kvHeads, s.dQk, false, rng);
    Buffer vNew(Layout::BSHD, qBatch, qSeq, s.kvHeads, s.dV, false, rng);
    // What the pools must hold after the call: their views rounded, with
    // each new row (rounded) written into its slot.
    const HalfKind kind = HalfKind::BF16;
    std::vector<float> wantK, wantV;
    for (auto [pool, rows, want] : {std::tuple{&k, &kNew, &wantK},
                                    std::tuple{&v, &vNew, &wantV}}) {
      for (float x : pool->storage)
        want->push_back(roundToHalf(x, kind));
      want->back() = pool->storage.back(); // one spare element past the view
      for (int64_t i = 0; i < batch; ++i)
        for (int64_t j = 0; j < lq[i]; ++j) {
          const int64_t key = cached[i] + j;
          const int32_t page = pages.table[i * pages.maxPages + key / pageSize];
          for (int64_t h = 0; h < s.kvHeads; ++h)
            for (int64_t d = 0; d < pool->view.dim(); ++d)
              (*want)[page * pool->view.strides[0] + h * pool->view.strides[1] +
                      key % pageSize * pool->view.strides[2] + d] =
                  roundToHalf(rows->view.at(raggedQ ? 0 : i, h, raggedQ ? cuQ[i] + j : j, d),
                              kind);
        }
    }
    std::vector<float> lse(qBatch * s.qHeads * qSeq + 1);
    AttentionArgs args{q.view, k.view, v.view, o.view,
                       lseView(lse.data(), qBatch, s.qHeads, qSeq)};
    if (raggedQ)
      args.sequences.cuSeqlensQ = ints(cuQ);
    pages.bind(args.sequences, flashInfer);
    args.sequences.kNew = kNew.view;
    args.sequences.vNew = vNew.view;
    Status st = run(args);
    ASSERT_TRUE(st.ok()) << st.message();
    for (auto [got, want, name] : {std::tuple{&k.storage, &wantK, "k"},
                                   std::tuple{&v.storage, &wantV, "v"}}) {
      int64_t differ = 0, first = -1;
      for (size_t e = 0; e < got->size(); ++e)
        if ((*got)[e] != (*want)[e] && differ++ == 0)
          first = static_cast<int64_t>(e);
      EXPECT_EQ(differ, 0) << fmt::format(
          "seed {} case {}: {} of {}'s pool elements differ from the old pool "
          "with the new rows written (the first at {}); page size {}, {}, {} "
          "queries, cached [{}]",
          seed, n, differ, name, first, pageSize,
          flashInfer ? "kv_indptr" : "block_table", raggedQ ? "ragged" : "dense",
          fmt::join(cached, ","));
    }
    // The reference reads the pools as they are now: the new keys counted,
    // not appended again.
    args.sequences.kNew = args.sequences.vNew = TensorView();
    if (!flashInfer)
      for (int64_t i = 0; i < batch; ++i)
        pages.cacheLens[i] = static_cast<int32_t>(total[i]);
    Comparison c = compareWithReference(s, args);
    EXPECT_TRUE(c.passed()) << fmt::format(
        "seed {} case {}: error {:.3g} (tol {:.3g}), lse mismatch {}", seed, n,
        c.maxError, c.tolerance, c.lseMismatch);
  }
}

} // namespace attnc::test::sequences

#endif
