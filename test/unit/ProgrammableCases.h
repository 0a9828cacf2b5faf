#ifndef ATTNC_TEST_UNIT_PROGRAMMABLECASES_H
#define ATTNC_TEST_UNIT_PROGRAMMABLECASES_H

// The programmable-attention cases the CUDA backend is checked on, wherever
// its kernels execute: under the SIMT emulator (SimtProgrammableTest, every
// CI run) and on a GPU (CudaNumericsTest); the CPU runs cases from the same
// generators on 16-bit host tensors (RegionsTest). The examples' kernels in f16 and
// bf16, random mask and score regions over declared inputs, and random
// block masks; each through the kernel cache and the backend's own host
// run (so Params packing and the boundary checks are the runtime's),
// against the float64 reference under FlashAttention's same-dtype rule.

#include "RandomKernels.h"
#include "TestUtil.h"

#include "runtime/BlockMask.h"
#include "runtime/KernelCache.h"
#include "runtime/Reference.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <type_traits>

namespace attnc::test::programmable {

/// examples/<name> with its element type replaced (KernelIr::withElementType,
/// as attnc run --dtype does).
inline std::string example(const std::string &name, const char *elementType) {
  std::ifstream in(sourceDir() + "/examples/" + name);
  std::stringstream text;
  text << in.rdbuf();
  auto ir = KernelIr::parse(text.str(), name);
  EXPECT_TRUE(ir.ok()) << name << ": " << ir.status().message();
  auto typed = ir.ok() ? ir->withElementType(elementType) : ir;
  EXPECT_TRUE(typed.ok()) << name << ": " << typed.status().message();
  return typed.ok() ? typed->text() : std::string();
}

struct Case {
  std::string text;
  int64_t batch, seqQ, seqKv;
  int64_t biasWidth = 40; // `any` dimensions of declared inputs
  double density = 0;     // block-sparse kernels: a random block mask of it
};

/// Declared inputs of rank 0, 3 and 4 (the examples' are rank 1 and 2):
/// a scalar temperature, per-row segment ids and a per-key table.
inline std::string everyRankKernel(const char *elementType) {
  return fmt::format(
      "attn.kernel @every_rank attributes {{q_heads = 4, kv_heads = 2, d_qk = "
      "32, element_type = {}, mask = #attn.mask<custom>, score_mod = "
      "#attn.score_mod<custom>, inputs = [#attn.input<\"temp\", f32, []>, "
      "#attn.input<\"seg\", i32, [batch, q_heads, seq_q]>, "
      "#attn.input<\"table\", f32, [batch, kv_heads, seq_kv, any]>]}} mask "
      "{{\n^bb0(%b: index, %h: index, %q: index, %k: index):\n  %s = "
      "attn.load @seg[%b, %h, %q] : i32\n  %z = arith.constant 0 : i32\n  %a "
      "= arith.cmpi sge, %s, %z : i32\n  %c = arith.cmpi ule, %k, %q : "
      "index\n  %v = arith.ori %a, %c : i1\n  attn.yield %v : i1\n}} score "
      "{{\n^bb0(%x: f32, %b: index, %h: index, %q: index, %k: index):\n  %t "
      "= attn.load @temp[] : f32\n  %one = arith.constant 1 : index\n  %kh = "
      "arith.divui %h, %one : index\n  %w = attn.load @table[%b, %kh, %k, "
      "%q] : f32\n  %y = arith.mulf %x, %t : f32\n  %r = arith.addf %y, %w "
      ": f32\n  attn.yield %r : f32\n}}",
      elementType);
}

/// The examples' kernels (and names that are C++ keywords).
inline std::vector<Case> exampleCases() {
  return {
      {everyRankKernel("f16"), 2, 33, 45, 3},
      {example("document-mask.mlir", "f16"), 1, 113, 113},
      {example("bloom-alibi.mlir", "bf16"), 1, 17, 70},
      {example("t5-relative-bias.mlir", "bf16"), 2, 40, 33},
      {example("transformer-xl.mlir", "f16"), 1, 20, 90},
      // Kernel names are not C identifiers of the kernel text: the entry is
      // attnc_<name>, so a keyword or a name the text defines is fine.
      {"attn.kernel @float attributes {q_heads = 2, d_qk = 16, element_type "
       "= f16}", 1, 17, 17},
      {"attn.kernel @Params attributes {q_heads = 2, d_qk = 16, element_type "
       "= bf16}", 1, 1, 9},
  };
}

/// Random mask and score regions from the sweeps' grammar.
inline std::vector<Case> randomRegionCases(std::mt19937_64 &rng, int count) {
  std::vector<Case> cases;
  for (int n = 0; n < count; ++n) {
    regions::RandomKernel r = regions::randomKernel(
        rng, n, n % 2 ? "bf16" : "f16", /*cudaDims=*/true);
    cases.push_back({r.text, regions::uniform(rng, 1, 2),
                     regions::uniform(rng, 1, 70), regions::uniform(rng, 1, 90),
                     r.biasWidth});
  }
  return cases;
}

/// Block-sparse kernels with none, a built-in or a custom mask, and random
/// block masks of random density.
inline std::vector<Case> randomBlockMaskCases(std::mt19937_64 &rng, int count) {
  const char *masks[] = {
      "mask = #attn.mask<none>}",
      "mask = #attn.mask<causal, bottom_right>}",
      "mask = #attn.mask<custom>} mask {\n^bb0(%b: index, %h: index, %q: "
      "index, %k: index):\n  %d = arith.addi %q, %h : index\n  %c = "
      "arith.cmpi sge, %d, %k : index\n  attn.yield %c : i1\n}"};
  std::vector<Case> cases;
  for (int n = 0; n < count; ++n) {
    int64_t blockQ = 16 * regions::uniform(rng, 1, 4);
    int64_t blockKv = 16 * regions::uniform(rng, 1, 4);
    std::string text = fmt::format(
        "attn.kernel @sparse{} attributes {{q_heads = 4, kv_heads = 2, d_qk = "
        "64, element_type = {}, lse = true, block_sparse = "
        "#attn.block_sparse<block_q = {}, block_kv = {}>, {}",
        n, n % 2 ? "bf16" : "f16", blockQ, blockKv, masks[n % 3]);
    cases.push_back({text, 2, regions::uniform(rng, 1, 130),
                     regions::uniform(rng, 1, 150), 40,
                     std::uniform_real_distribution<double>(0.1, 1)(rng)});
  }
  return cases;
}

/// Runs one case: compiles it through `cache` for `backend`, binds random
/// tensors, declared inputs (ids in [-2, 6), f32 in [-1, 1)) and block mask,
/// runs it with `run` on the host views, and compares. On the CPU backend
/// q, k, v and o are held in the kernel's element types; for CUDA they are
/// f32 host views that the host runs convert themselves.
template <typename Backend>
void runCase(KernelCache &cache, const Backend &backend,
             const std::function<Status(const typename Backend::Kernel &,
                                        const AttentionArgs &)> &run,
             const Case &c, std::mt19937_64 &rng) {
  constexpr bool typed = std::is_same_v<Backend, CpuBackend>;
  auto ir = KernelIr::parse(c.text, "<test>");
  ASSERT_TRUE(ir.ok()) << c.text << "\n" << ir.status().message();
  auto kernel = cache.get(*ir, backend);
  ASSERT_TRUE(kernel.ok()) << c.text << "\n" << kernel.status().message();
  const KernelSpec &s = (*kernel)->spec();
  Buffer q(s.layout, c.batch, c.seqQ, s.qHeads, s.dQk, false, rng);
  Buffer k(s.layout, c.batch, c.seqKv, s.kvHeads, s.dQk, false, rng);
  Buffer v(s.layout, c.batch, c.seqKv, s.kvHeads, s.dV, false, rng);
  Buffer o(s.layout, c.batch, c.seqQ, s.qHeads, s.dV, false, rng);
  if constexpr (typed) {
    q.convertTo(dtypeNamed(s.elementType));
    k.convertTo(dtypeNamed(s.kvType()));
    v.convertTo(dtypeNamed(s.kvType()));
    o.convertTo(dtypeNamed(s.elementType));
  }
  std::vector<float> lse(c.batch * s.qHeads * c.seqQ);
  AttentionArgs args{q.view, k.view, v.view, o.view, {}};
  if (s.lse)
    args.lse = lseView(lse.data(), c.batch, s.qHeads, c.seqQ);
  std::vector<std::vector<int32_t>> storage;
  for (const InputDecl &d : s.inputs) {
    std::vector<int64_t> sizes;
    for (InputDim dim : d.dims)
      sizes.push_back(dim == InputDim::Batch     ? c.batch
                      : dim == InputDim::QHeads  ? s.qHeads
                      : dim == InputDim::KvHeads ? s.kvHeads
                      : dim == InputDim::SeqQ    ? c.seqQ
                      : dim == InputDim::SeqKv   ? c.seqKv
                                                 : c.biasWidth);
    int64_t count = 1;
    for (int64_t n : sizes)
      count *= n;
    std::vector<int32_t> words(count);
    if (d.type == DType::I32) {
      for (int32_t &w : words)
        w = static_cast<int32_t>(regions::uniform(rng, -2, 5));
    } else {
      std::vector<float> f = uniformInputs(count, rng);
      std::memcpy(words.data(), f.data(), count * 4);
    }
    storage.push_back(std::move(words));
    std::vector<int64_t> strides(sizes.size(), 1);
    for (int i = static_cast<int>(sizes.size()) - 2; i >= 0; --i)
      strides[i] = strides[i + 1] * sizes[i + 1];
    args.inputs.push_back({d.name, storage.back().data(), d.type, sizes, strides});
  }
  BlockMask blocks;
  if (s.blockQ > 0) {
    blocks = regions::randomBlockMask(rng, s, c.batch, c.seqQ, c.seqKv, c.density);
    args.blockMask = blocks.args();
  }
  Status st = run(**kernel, args);
  ASSERT_TRUE(st.ok()) << c.text << "\n" << st.message();
  Comparison cmp = compareWithReference(s, args);
  EXPECT_TRUE(cmp.passed()) << fmt::format(
      "{}\n  batch {} seq_q {} seq_kv {}{} (ATTNC_TEST_SEED={}): O error "
      "{:.3g} (tolerance {:.3g}), LSE error {:.3g} (tolerance {:.3g}){}{}",
      c.text, c.batch, c.seqQ, c.seqKv,
      s.blockQ > 0 ? fmt::format(" density {:.2f}", c.density) : "",
      testSeed(), cmp.maxError, cmp.tolerance, cmp.lseError, cmp.lseTolerance,
      cmp.nonFinite ? ", NaN/inf" : "",
      cmp.lseMismatch ? ", LSE -inf mismatch" : "");
}

} // namespace attnc::test::programmable

#endif
