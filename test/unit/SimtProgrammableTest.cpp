// Programmable attention on the CUDA backend, executed by the SIMT
// emulator: custom mask and score regions over declared inputs, ALiBi and
// softcap, compiled from the same kernel text NVRTC gets, through the
// runtime's cuda-sim backend and the kernel cache (so the Params packing
// and the input checks are the runtime's), against the float64 reference
// under FlashAttention's same-dtype rule.
#include "ProgrammableCases.h"
#include "RandomKernels.h"
#include "SimtTestUtil.h"
#include "TestUtil.h"

#include "runtime/BlockMask.h"
#include "runtime/KernelCache.h"
#include "runtime/Reference.h"
#include "runtime/cuda/SimtKernel.h"
#include "runtime/cuda/simt/Emulator.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <tuple>

using namespace attnc;
using attnc::test::Buffer;

namespace {

#define SKIP_WITHOUT_HOST_COMPILER() ATTNC_SKIP_WITHOUT_HOST_COMPILER()

using test::programmable::Case;
using test::programmable::example;

/// Runs a case under the emulator; any finding of its checks fails it.
void runCase(KernelCache &cache, const Case &c, std::mt19937_64 &rng) {
  test::programmable::runCase<cuda::SimtBackend>(
      cache, cuda::SimtBackend(),
      [](const cuda::SimtKernel &kernel, const AttentionArgs &args) {
        return cuda::simtRunFromHost(kernel, args);
      },
      c, rng);
}

TEST(SimtProgrammable, ExamplesRunUnderTheEmulator) {
  SKIP_WITHOUT_HOST_COMPILER();
  std::mt19937_64 rng(attnc::test::testSeed());
  KernelCache cache({"", /*disk=*/false});
  for (const Case &c : test::programmable::exampleCases())
    runCase(cache, c, rng);
}

TEST(SimtProgrammable, RandomRegionsMatchFloat64Reference) {
  SKIP_WITHOUT_HOST_COMPILER();
  std::mt19937_64 rng(attnc::test::testSeed() ^ 0xc0da);
  KernelCache cache({"", /*disk=*/false});
  for (const Case &c : test::programmable::randomRegionCases(rng, 4))
    runCase(cache, c, rng);
}

/// Block-sparse kernels under the emulator: random block masks of random
/// density, with none, a built-in or a custom mask, f16 and bf16.
TEST(SimtProgrammable, RandomBlockMasksMatchFloat64Reference) {
  SKIP_WITHOUT_HOST_COMPILER();
  std::mt19937_64 rng(attnc::test::testSeed() ^ 0xb10c);
  KernelCache cache({"", /*disk=*/false});
  for (const Case &c : test::programmable::randomBlockMaskCases(rng, 3))
    runCase(cache, c, rng);
}

/// The mask function the emulated kernel calls is the printed region:
/// negating it in the kernel text (and only there) must fail the check.
TEST(SimtProgrammable, AMutatedMaskFunctionFailsTheCheck) {
  SKIP_WITHOUT_HOST_COMPILER();
  auto ir = KernelIr::parse(example("document-mask.mlir", "f16"));
  ASSERT_TRUE(ir.ok());
  auto codegen = detail::translateForCuda(*ir, "sm_80");
  ASSERT_TRUE(codegen.ok()) << codegen.status().message();
  std::string text = codegen->source;
  size_t fn = text.find("bool attnc_mask(const Params &p");
  ASSERT_NE(fn, std::string::npos);
  size_t ret = text.find(" != 0;\n}", fn);
  ASSERT_NE(ret, std::string::npos);
  text.replace(ret, 5, " == 0");
  auto module = simt::Module::compile(text);
  ASSERT_TRUE(module.ok()) << module.status().message();
  cuda::SimtKernel kernel(*codegen, std::move(*module));
  std::mt19937_64 rng(attnc::test::testSeed());
  const KernelSpec &s = kernel.spec();
  Buffer q(s.layout, 1, 40, s.qHeads, s.dQk, false, rng);
  Buffer k(s.layout, 1, 40, s.kvHeads, s.dQk, false, rng);
  Buffer v(s.layout, 1, 40, s.kvHeads, s.dV, false, rng);
  Buffer o(s.layout, 1, 40, s.qHeads, s.dV, false, rng);
  std::vector<int32_t> doc(40);
  for (int i = 0; i < 40; ++i)
    doc[i] = i / 10;
  AttentionArgs args{q.view, k.view, v.view, o.view, {}};
  args.inputs.push_back({"doc", doc.data(), DType::I32, {40}, {1}});
  ASSERT_TRUE(cuda::simtRunFromHost(kernel, args).ok());
  Comparison c = compareWithReference(s, args);
  EXPECT_FALSE(c.passed()) << "error " << c.maxError << " <= " << c.tolerance;
}

/// A block mask in GPU memory is not read at the boundary (only its shape
/// is checked), so the kernel clamps what it reads: negative indices and
/// counts past the kv blocks give wrong numbers, never an access outside
/// the tensors or the block-mask arrays. Launched straight from Params,
/// as the driver would, with every buffer bounds-checked.
TEST(SimtProgrammable, ABadBlockMaskInDeviceMemoryStaysInBounds) {
  SKIP_WITHOUT_HOST_COMPILER();
  const auto &kernel = test::simt::compiledKernel(
      "attn.kernel @bad_blocks attributes {q_heads = 2, d_qk = 64, "
      "element_type = f16, block_sparse = #attn.block_sparse<block_q = 64, "
      "block_kv = 64>}");
  ASSERT_TRUE(kernel.module);
  const detail::CudaCodegen &t = kernel.translation;
  std::mt19937_64 rng(attnc::test::testSeed());
  const int64_t seq = 100, blocks = 2; // 2 query blocks, 2 kv blocks
  test::simt::HalfTensor q("q", Layout::BSHD, 1, seq, 2, 64, 0),
      k("k", Layout::BSHD, 1, seq, 2, 64, 0), v("v", Layout::BSHD, 1, seq, 2, 64, 0),
      o("o", Layout::BSHD, 1, seq, 2, 64, 0);
  for (auto *x : {&q, &k, &v})
    x->fillRandom(HalfKind::F16, rng);
  // Counts of 1000 and -5, indices of -7 and 1 << 20.
  const int32_t counts[] = {1000, -5}, indices[] = {-7, 1 << 20, 0, 1};
  std::vector<simt::GuardedBuffer> arrays;
  for (auto [name, data, bytes] :
       {std::tuple{"kv_num_blocks", (const void *)counts, sizeof counts},
        std::tuple{"kv_indices", (const void *)indices, sizeof indices},
        std::tuple{"full_kv_num_blocks", (const void *)counts, sizeof counts},
        std::tuple{"full_kv_indices", (const void *)indices, sizeof indices}}) {
    auto b = simt::GuardedBuffer::allocate(name, bytes);
    ASSERT_TRUE(b.ok());
    std::memcpy(b->data(), data, bytes);
    arrays.push_back(std::move(*b));
  }
  auto list = [&](int i, std::vector<int64_t> sizes) {
    InputTensor in{arrays[i].name(), arrays[i].data(), DType::I32, sizes,
                   std::vector<int64_t>(sizes.size(), 1)};
    for (int d = static_cast<int>(sizes.size()) - 2; d >= 0; --d)
      in.strides[d] = in.strides[d + 1] * sizes[d + 1];
    return in;
  };
  AttentionArgs device{q.deviceView(DType::F16), k.deviceView(DType::F16),
                       v.deviceView(DType::F16), o.deviceView(DType::F16), {}};
  device.blockMask.numBlocks = list(0, {1, 1, blocks});
  device.blockMask.indices = list(1, {1, 1, blocks, blocks});
  device.blockMask.fullNumBlocks = list(2, {1, 1, blocks});
  device.blockMask.fullIndices = list(3, {1, 1, blocks, blocks});
  // The shapes pass the device-memory check; the contents would not pass
  // the host one.
  EXPECT_TRUE(cuda::checkCudaArgs(t.spec, device, Memory::Device).ok());
  EXPECT_FALSE(cuda::checkCudaArgs(t.spec, device, Memory::Host).ok());
  std::string params = cuda::packParams(t, device);
  simt::LaunchChecks checks;
  for (const auto *x : {&q, &k, &v, &o})
    checks.buffers.push_back(x->device->global());
  for (const simt::GuardedBuffer &b : arrays)
    checks.buffers.push_back(b.global());
  const cuda::LaunchGrid g = cuda::launchGrid(t, device);
  simt::LaunchReport report;
  Status st = kernel.module->launch({g.x, g.y, g.z}, {g.threads, 1, 1},
                                    static_cast<size_t>(t.sharedBytes),
                                    params.data(), params.size(), checks, &report);
  EXPECT_TRUE(st.ok()) << st.message();
  for (const simt::GuardedBuffer &b : arrays)
    EXPECT_TRUE(b.checkGuards().ok());
}

/// The emulated target checks what it is given like the GPU target.
TEST(SimtProgrammable, BadArgumentsAreErrorsNotReports) {
  SKIP_WITHOUT_HOST_COMPILER();
  KernelCache cache({"", false});
  auto ir = KernelIr::parse(example("document-mask.mlir", "f16"));
  ASSERT_TRUE(ir.ok());
  auto kernel = cache.get(*ir, cuda::SimtBackend());
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  std::vector<uint16_t> q(16 * 64 * 8, 0), kv(4 * 64 * 8, 0), o(16 * 64 * 8);
  auto view = [](void *data, int64_t seq, int64_t heads, DType type) {
    TensorView t = denseView(static_cast<float *>(data), Layout::BSHD, 1, seq,
                             heads, 64);
    t.dtype = type;
    return t;
  };
  AttentionArgs args{view(q.data(), 8, 16, DType::F16),
                     view(kv.data(), 8, 4, DType::F16),
                     view(kv.data(), 8, 4, DType::F16),
                     view(o.data(), 8, 16, DType::F16), {}};
  EXPECT_EQ((*kernel)->launch(args, {}).message(),
            "input 'doc': kernel @document_mask declares it, but the call does "
            "not give it");
  args.q.dtype = DType::BF16;
  EXPECT_EQ((*kernel)->launch(args, {}).message(),
            "q: element type is bf16, but the kernel's element_type is f16");
  args.q.dtype = DType::F16;
  // Running from the host converts f32 host tensors itself: 16-bit ones
  // would be misread, so they are refused by name.
  auto *simt = dynamic_cast<const cuda::SimtKernel *>(kernel->get());
  ASSERT_NE(simt, nullptr);
  EXPECT_EQ(cuda::simtRunFromHost(*simt, args, 1, nullptr).message(),
            "simtRunFromHost runs from f32 host tensors (it rounds and "
            "converts them); got a f16 tensor for q");
  std::vector<int32_t> doc(64, 0);
  args.inputs.push_back({"doc", doc.data(), DType::I32, {8}, {1}});
  // Sizes the grid could not hold, or that would wrap, are refused before
  // anything is launched (a negative batch once became 2^32 - 1 CTAs).
  for (TensorView *t : {&args.q, &args.k, &args.v, &args.o})
    t->sizes[0] = -1;
  EXPECT_EQ((*kernel)->launch(args, {}).message(),
            "q: sizes must be >= 0, got [-1, 16, 8, 64]");
  for (TensorView *t : {&args.q, &args.k, &args.v, &args.o})
    t->sizes[0] = 70000;
  EXPECT_EQ((*kernel)->launch(args, {}).message(),
            "batch (70000) must be at most 65535 for the cuda backend (grid.z)");
  for (TensorView *t : {&args.q, &args.k, &args.v, &args.o})
    t->sizes[0] = 1;
  args.q.sizes[2] = args.o.sizes[2] = int64_t(1) << 31;
  EXPECT_EQ((*kernel)->launch(args, {}).message(),
            "seq_q (2147483648) and seq_kv (8) must be at most 2147483647 for "
            "the cuda backend");
  args.q.sizes[2] = args.o.sizes[2] = 8;
  std::vector<float> lse(16 * 8);
  args.lse = lseView(lse.data(), 1, 16, 8);
  EXPECT_EQ((*kernel)->launch(args, {}).message(),
            "lse: a buffer was given, but the kernel was compiled with lse = "
            "false");
  args.lse = {};
  LaunchOptions withStream;
  withStream.stream = &args;
  EXPECT_EQ((*kernel)->launch(args, withStream).message(),
            "stream must be null for the cuda-sim target");
}

} // namespace
