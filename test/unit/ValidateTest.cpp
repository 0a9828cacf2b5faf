// The checks at the boundary that every backend shares (runtime/Validate.cpp,
// validateCall): one wrong thing at a time, each with its message. No kernel
// is compiled: the checks run on the kernel's view.
#include "runtime/BlockMask.h"
#include "runtime/KernelIr.h"
#include "runtime/Tensor.h"

#include <gtest/gtest.h>

#include <functional>

using namespace attnc;

namespace {

KernelSpec viewOf(const std::string &text) {
  auto ir = KernelIr::parse(text, "<test>");
  EXPECT_TRUE(ir.ok()) << ir.status().message();
  return ir->view();
}

/// A call for `s` at batch 2, seq_q 5, seq_kv 7 over real (zero) buffers.
struct Call {
  explicit Call(const KernelSpec &s)
      : q(2 * 5 * s.qHeads * s.dQk), k(2 * 7 * s.kvHeads * s.dQk),
        v(2 * 7 * s.kvHeads * s.dV), o(2 * 5 * s.qHeads * s.dV),
        lse(2 * s.qHeads * 5) {
    args.q = denseView(q.data(), s.layout, 2, 5, s.qHeads, s.dQk);
    args.k = denseView(k.data(), s.layout, 2, 7, s.kvHeads, s.dQk);
    args.v = denseView(v.data(), s.layout, 2, 7, s.kvHeads, s.dV);
    args.o = denseView(o.data(), s.layout, 2, 5, s.qHeads, s.dV);
    if (s.lse)
      args.lse = lseView(lse.data(), 2, s.qHeads, 5);
  }
  std::vector<float> q, k, v, o, lse;
  std::vector<int32_t> ids = std::vector<int32_t>(7, 0);
  std::vector<float> bias = std::vector<float>(4 * 3, 0.f);
  AttentionArgs args;
};

void expectRejected(const KernelSpec &s, const Call &base,
                    const std::function<void(AttentionArgs &)> &change,
                    const std::string &message) {
  AttentionArgs a = base.args;
  change(a);
  EXPECT_EQ(validateCall(s, a).message(), message);
}

TEST(Validate, EveryInputRuleHasItsMessage) {
  KernelSpec s = viewOf(
      "attn.kernel @k attributes {q_heads = 4, kv_heads = 2, d_qk = 8, "
      "element_type = f32, lse = true, mask = #attn.mask<custom>, inputs = "
      "[#attn.input<\"ids\", i32, [seq_kv]>, #attn.input<\"bias\", f32, "
      "[q_heads, any]>]} mask {\n^bb0(%b: index, %h: index, %q: index, %k: "
      "index):\n  %i = attn.load @ids[%k] : i32\n  %t = attn.load @bias[%h, "
      "%q] : f32\n  %z = arith.constant 0 : i32\n  %c = arith.cmpi sge, %i, "
      "%z : i32\n  attn.yield %c : i1\n}");
  Call call(s);
  InputTensor ids{"ids", call.ids.data(), DType::I32, {7}, {1}};
  InputTensor bias{"bias", call.bias.data(), DType::F32, {4, 3}, {3, 1}};
  call.args.inputs = {ids, bias};
  ASSERT_TRUE(validateCall(s, call.args).ok())
      << validateCall(s, call.args).message();

  expectRejected(s, call, [&](AttentionArgs &a) { a.inputs.push_back(ids); },
                 "input 'ids' is given 2 times");
  expectRejected(s, call, [&](AttentionArgs &a) { a.inputs.pop_back(); },
                 "input 'bias': kernel @k declares it, but the call does not "
                 "give it");
  expectRejected(s, call, [&](AttentionArgs &a) { a.inputs[0].data = nullptr; },
                 "input 'ids': data pointer is null");
  expectRejected(s, call, [&](AttentionArgs &a) { a.inputs[0].dtype = DType::F32; },
                 "input 'ids': element type is f32, but the kernel declares i32");
  expectRejected(s, call, [&](AttentionArgs &a) { a.inputs[1].strides = {3}; },
                 "input 'bias': has 2 sizes and 1 strides, but the kernel "
                 "declares rank 2");
  expectRejected(s, call, [&](AttentionArgs &a) { a.inputs[0].sizes = {6}; },
                 "input 'ids': dimension 0 (seq_kv) has size 6, but the call "
                 "has 7");
  expectRejected(s, call, [&](AttentionArgs &a) { a.inputs[1].sizes = {4, 0}; },
                 "input 'bias': dimension 1 (any) has size 0; it must be at "
                 "least 1");
  expectRejected(s, call, [&](AttentionArgs &a) { a.inputs[1].strides = {-3, 1}; },
                 "input 'bias': stride 0 is -3; strides must be >= 0");
  expectRejected(s, call,
                 [&](AttentionArgs &a) { a.inputs[1].name = "table"; },
                 "input 'table' is not declared by kernel @k (it declares: "
                 "ids, bias)");
  // And the tensors and LSE, which every call has.
  expectRejected(s, call, [&](AttentionArgs &a) { a.lse.dtype = DType::F16; },
                 "lse: element type is f16, but LSE is f32");
  expectRejected(s, call, [&](AttentionArgs &a) { a.lse.sizes[2] = 4; },
                 "lse: shape [2, 4, 4] must be [batch, q_heads, seq_q] = [2, "
                 "4, 5]");
  expectRejected(s, call, [&](AttentionArgs &a) { a.v.sizes[2] = 6; },
                 "k and v disagree on seq_kv (7 vs 6)");
  expectRejected(s, call, [&](AttentionArgs &a) { a.o.dtype = DType::BF16; },
                 "o: element type is bf16, but the kernel's element_type is f32");
}

TEST(Validate, EveryBlockMaskRuleHasItsMessage) {
  KernelSpec s = viewOf(
      "attn.kernel @b attributes {q_heads = 4, kv_heads = 2, d_qk = 8, "
      "element_type = f32, block_sparse = #attn.block_sparse<block_q = 16, "
      "block_kv = 16>}");
  Call call(s);
  // One query block, one kv block: full.
  std::vector<int32_t> zero(1, 0), one(1, 1);
  BlockMaskArgs m;
  auto array = [](std::vector<int32_t> &data, std::vector<int64_t> sizes,
                  const char *name) {
    InputTensor t{name, data.data(), DType::I32, sizes,
                  std::vector<int64_t>(sizes.size(), 1)};
    return t;
  };
  m.numBlocks = array(zero, {1, 1, 1}, "kv_num_blocks");
  m.indices = array(zero, {1, 1, 1, 1}, "kv_indices");
  m.fullNumBlocks = array(one, {1, 1, 1}, "full_kv_num_blocks");
  m.fullIndices = array(zero, {1, 1, 1, 1}, "full_kv_indices");
  call.args.blockMask = m;
  ASSERT_TRUE(validateCall(s, call.args).ok())
      << validateCall(s, call.args).message();
  expectRejected(s, call,
                 [&](AttentionArgs &a) { a.blockMask.indices.dtype = DType::F32; },
                 "block mask: kv_indices must be i32, got f32");
  expectRejected(s, call,
                 [&](AttentionArgs &a) {
                   a.blockMask.fullNumBlocks.sizes = {1, 1};
                   a.blockMask.fullNumBlocks.strides = {1, 1};
                 },
                 "block mask: full_kv_num_blocks must have rank 3 ([b, h, q "
                 "blocks])");
  expectRejected(s, call,
                 [&](AttentionArgs &a) { a.blockMask.fullIndices.data = nullptr; },
                 "block mask: full_kv_indices is missing");
  one[0] = 2;
  expectRejected(s, call, [](AttentionArgs &) {},
                 "block mask: full_kv_num_blocks[0, 0, 0] = 2 is outside [0, "
                 "1] (the kv blocks of seq_kv 7)");
}

// Sizes and strides from a hostile caller: negative, or spanning more than
// any offset can address (they would wrap in the kernel's index math).
TEST(Validate, ViewsThatCannotBeAddressedAreRejected) {
  KernelSpec s = viewOf("attn.kernel @k attributes {q_heads = 4, kv_heads = "
                        "2, d_qk = 8, element_type = f32, inputs = "
                        "[#attn.input<\"t\", f32, [any, any]>]}");
  Call call(s);
  std::vector<float> table(6, 0.f);
  call.args.inputs = {{"t", table.data(), DType::F32, {2, 3}, {3, 1}}};
  ASSERT_TRUE(validateCall(s, call.args).ok())
      << validateCall(s, call.args).message();
  expectRejected(s, call, [](AttentionArgs &a) { a.q.strides[2] = -32; },
                 "q: strides must be >= 0, got [160, 8, -32, 1]");
  expectRejected(s, call, [](AttentionArgs &a) { a.k.sizes[2] = -1; },
                 "k: sizes must be >= 0, got [2, 2, -1, 8]");
  expectRejected(s, call,
                 [](AttentionArgs &a) {
                   a.v.sizes[2] = int64_t(1) << 40;
                   a.v.strides[2] = int64_t(1) << 40; // wraps: 2^80
                 },
                 "v: sizes [2, 2, 1099511627776, 8] with strides [112, 8, "
                 "1099511627776, 1] span more than 2^56 elements");
  expectRejected(s, call,
                 [](AttentionArgs &a) {
                   a.o.sizes[0] = int64_t(1) << 62; // stride 0: a count limit
                   a.o.strides[0] = 0;
                 },
                 "o: sizes [4611686018427387904, 4, 5, 8] with strides [0, 8, "
                 "32, 1] span more than 2^56 elements");
  expectRejected(s, call,
                 [](AttentionArgs &a) {
                   a.inputs[0].sizes = {int64_t(1) << 50, 3};
                   a.inputs[0].strides = {int64_t(1) << 20, 1};
                 },
                 "input 't': sizes [1125899906842624, 3] with strides "
                 "[1048576, 1] span more than 2^56 elements");
}

} // namespace
