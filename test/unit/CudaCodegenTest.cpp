// The CUDA emitter, checked without a GPU: a sweep of kernels translated to
// CUDA C++ and compiled by NVRTC for sm_80 and sm_90; any compile error or
// any spill at the default schedules fails. (Running them is for a GPU, or
// the SIMT emulator.)
#include "LinearDefinition.h"
#include "ProgrammableCases.h"
#include "RandomKernels.h"
#include "SequenceCases.h"
#include "TestUtil.h"

#include "compiler/Pipelines/Pipelines.h"
#include "compiler/Target/CUDA/AttnToCuda.h"
#include "runtime/ThreadPool.h"
#include "runtime/cuda/CudaLinear.h"
#include "runtime/cuda/CudaMerge.h"
#include "runtime/cuda/Nvrtc.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <mutex>

using namespace attnc;

namespace {

std::vector<std::string> sweepSpecs() {
  const std::pair<int, int> dims[] = {{64, 64},  {128, 128}, {256, 256}, {96, 96},
                                      {40, 72},  {8, 8},     {128, 64},  {80, 80},
                                      {32, 32},  {160, 160}, {192, 128}, {256, 128}};
  const char *masks[] = {"#attn.mask<none>", "#attn.mask<causal, top_left>",
                         "#attn.mask<causal, bottom_right>",
                         "#attn.mask<sliding_window, left = 256, right = 0, "
                         "bottom_right>"};
  const int kvHeads[] = {8, 2, 1};
  std::vector<std::string> specs;
  int i = 0;
  for (auto [dQk, dV] : dims)
    for (const char *mask : masks)
      for (int kv : kvHeads) { // MHA, GQA, MQA
        specs.push_back(fmt::format(
            "attn.kernel @sweep{} attributes {{q_heads = 8, kv_heads = {}, "
            "d_qk = {}, d_v = {}, element_type = {}, mask = {}, lse = {}, "
            "layout = #attn.layout<{}>{}}}",
            i, kv, dQk, dV, i % 2 ? "bf16" : "f16", mask,
            i % 3 ? "true" : "false", i % 4 == 1 ? "bhsd" : "bshd",
            i % 5 == 0 ? ", softcap = 30.0" : ""));
        ++i;
      }
  // Programmable variants: custom masks and score regions over declared
  // inputs (the examples' regions), ALiBi, softcap with a custom score.
  const char *regions[] = {
      // document mask (i32 input, gathers per key)
      "mask = #attn.mask<custom>, inputs = [#attn.input<\"doc\", i32, "
      "[seq_kv]>]}} mask {{\n^bb0(%b: index, %h: index, %q: index, %k: "
      "index):\n  %dq = attn.load @doc[%q] : i32\n  %dk = attn.load "
      "@doc[%k] : i32\n  %s = arith.cmpi eq, %dq, %dk : i32\n  %c = "
      "arith.cmpi ule, %k, %q : index\n  %v = arith.andi %s, %c : i1\n  "
      "attn.yield %v : i1\n}}",
      // a relative bias table (f32 input, rank 2)
      "score_mod = #attn.score_mod<custom>, inputs = [#attn.input<\"bias\", "
      "f32, [q_heads, any]>], mask = #attn.mask<causal, bottom_right>}} score "
      "{{\n^bb0(%s: f32, %b: index, %h: index, %q: index, %k: index):\n  "
      "%r = arith.subi %q, %k : index\n  %t = attn.load @bias[%h, %r] : "
      "f32\n  %y = arith.addf %s, %t : f32\n  attn.yield %y : f32\n}}",
      // ALiBi, built in
      "score_mod = #attn.score_mod<alibi>, mask = #attn.mask<causal, "
      "top_left>}}",
      // block-sparse, alone and with a built-in mask
      "block_sparse = #attn.block_sparse<block_q = 128, block_kv = 64>}}",
      "block_sparse = #attn.block_sparse<block_q = 64, block_kv = 128>, mask "
      "= #attn.mask<causal, bottom_right>}}",
      // integer-heavy custom mask (strided pattern) and a softcap
      "softcap = 20.0, mask = #attn.mask<custom>}} mask {{\n^bb0(%b: index, "
      "%h: index, %q: index, %k: index):\n  %c64 = arith.constant 64 : "
      "index\n  %d = arith.subi %q, %k : index\n  %m = arith.remsi %d, %c64 "
      ": index\n  %z = arith.constant 0 : index\n  %a = arith.cmpi eq, %m, "
      "%z : index\n  %w = arith.cmpi ult, %d, %c64 : index\n  %v = "
      "arith.ori %a, %w : i1\n  attn.yield %v : i1\n}}",
  };
  int r = 0;
  for (const char *region : regions)
    for (auto [dQk, dV] : {std::pair{64, 64}, {128, 128}, {256, 256}})
      for (bool bf16 : {false, true}) {
        specs.push_back(fmt::format(
            "attn.kernel @region{} attributes {{q_heads = 8, kv_heads = 2, "
            "d_qk = {}, d_v = {}, element_type = {}, lse = {}, {}",
            r, dQk, dV, bf16 ? "bf16" : "f16", r % 2 ? "true" : "false",
            fmt::format(fmt::runtime(region))));
        ++r;
      }
  // Serving layouts: varlen and paged (the page gather in every K/V load),
  // GQA and MQA, with a mask, a block mask or a region reading b.
  int l = 0;
  for (const char *layout : {"varlen", "paged"})
    for (auto [dQk, dV] : {std::pair{64, 64}, {128, 128}, {256, 256}, {40, 72}})
      for (const char *extra :
           {", mask = #attn.mask<causal, bottom_right>",
            ", block_sparse = #attn.block_sparse<block_q = 128, block_kv = 64>",
            ", mask = #attn.mask<custom>, inputs = [#attn.input<\"shift\", i32, "
            "[batch]>]}} mask {{\n^bb0(%b: index, %h: index, %q: index, %k: "
            "index):\n  %s = attn.load @shift[%b] : i32\n  %si = "
            "arith.index_cast %s : i32 to index\n  %qs = arith.addi %q, %si : "
            "index\n  %v = arith.cmpi ule, %k, %qs : index\n  attn.yield %v : "
            "i1\n}}"}) {
        std::string tail = fmt::format(fmt::runtime(extra));
        bool region = tail.find("^bb0") != std::string::npos;
        specs.push_back(fmt::format(
            "attn.kernel @serving{} attributes {{q_heads = 8, kv_heads = {}, "
            "d_qk = {}, d_v = {}, element_type = {}, lse = {}, layout = "
            "#attn.layout<{}>{}{}",
            l, l % 2 ? 1 : 2, dQk, dV, l % 2 ? "bf16" : "f16",
            l % 3 ? "true" : "false", layout, tail, region ? "" : "}"));
        ++l;
      }
  // Random mask and score regions from the sweeps' grammar (every region
  // op), so that what the emulator runs also compiles with NVRTC.
  std::mt19937_64 rng(attnc::test::testSeed() ^ 0xc0da);
  for (int n = 0; n < 8; ++n)
    specs.push_back(test::regions::randomKernel(rng, n, n % 2 ? "bf16" : "f16",
                                                /*cudaDims=*/true)
                        .text);
  // Declared inputs of rank 0, 3 and 4.
  specs.push_back(test::programmable::everyRankKernel("bf16"));
  // The probs output's second pass: head dims up to 256, both types, a
  // block mask, a custom region and GQA.
  for (int d : {64, 128, 256})
    for (const char *type : {"f16", "bf16"})
      specs.push_back(fmt::format(
          "attn.kernel @probs_{0}_{1} attributes {{q_heads = 8, kv_heads = 2, d_qk = {0}, "
          "element_type = {1}, lse = true, probs = true, mask = #attn.mask<causal, "
          "bottom_right>}}",
          d, type));
  specs.push_back("attn.kernel @probs_sparse attributes {q_heads = 4, d_qk = 128, "
                  "element_type = f16, probs = true, block_sparse = "
                  "#attn.block_sparse<block_q = 128, block_kv = 128>}");
  std::string probsRegions = attnc::test::sequences::regionSpec("probs_regions", "bshd", "bf16");
  probsRegions.replace(probsRegions.find("lse = true"), 10, "lse = true, probs = true");
  specs.push_back(probsRegions);
  // Kernel names that are C++ keywords or names of the kernel text: the
  // entry is attnc_<name>, so they compile like any other.
  specs.push_back("attn.kernel @float attributes {q_heads = 2, d_qk = 64, "
                  "element_type = f16}");
  specs.push_back("attn.kernel @Params attributes {q_heads = 2, d_qk = 64, "
                  "element_type = bf16}");
  return specs;
}

TEST(CudaCodegen, SweepCompilesForSm80AndSm90WithoutSpills) {
  auto nvrtc = cuda::Nvrtc::get();
  if (!nvrtc.ok())
    GTEST_SKIP() << "skipped: " << nvrtc.status().message();
  mlir::DialectRegistry registry;
  mlir::attn::registerAttnDialects(registry);
  mlir::MLIRContext context(registry, mlir::MLIRContext::Threading::DISABLED);
  struct Job {
    std::string name, arch, source;
  };
  std::vector<Job> jobs;
  for (const std::string &spec : sweepSpecs()) {
    auto module = mlir::parseSourceString<mlir::ModuleOp>(spec, &context);
    ASSERT_TRUE(module) << spec;
    auto kernel = *module->getOps<mlir::attn::KernelOp>().begin();
    for (const char *arch : {"sm_80", "sm_90"}) {
      auto source = mlir::attn::translateKernelToCuda(kernel, arch);
      ASSERT_TRUE(mlir::succeeded(source)) << spec;
      jobs.push_back({kernel.getSymName().str(), arch, *source});
    }
  }
  std::mutex mutex;
  std::vector<std::string> failures;
  int maxRegisters = 0;
  ThreadPool::shared().parallelFor(jobs.size(), 2, [&](int64_t i) {
    const Job &job = jobs[i];
    auto out = (*nvrtc)->compile(job.source, job.name + ".cu", {job.arch, {}});
    std::lock_guard<std::mutex> lock(mutex);
    if (!out.ok()) {
      failures.push_back(out.status().message().substr(0, 2000));
      return;
    }
    maxRegisters = std::max(maxRegisters, out->ptxas.registers);
    if (!out->ptxas.found || out->ptxas.spillStoreBytes || out->ptxas.spillLoadBytes)
      failures.push_back(fmt::format("{} {}: spills {} / {} bytes\n{}", job.name,
                                     job.arch, out->ptxas.spillStoreBytes,
                                     out->ptxas.spillLoadBytes, out->log));
    if (out->cubin.compare(0, 4, "\x7f" "ELF"))
      failures.push_back(job.name + " " + job.arch + ": no CUBIN");
  });
  for (const std::string &f : failures)
    ADD_FAILURE() << f;
  std::printf("cuda sweep: %zu kernels compiled by NVRTC %d.%d, %zu failures, "
              "at most %d registers (random regions: ATTNC_TEST_SEED=%llu)\n",
              jobs.size(), (*nvrtc)->majorVersion(), (*nvrtc)->minorVersion(),
              failures.size(), maxRegisters,
              static_cast<unsigned long long>(attnc::test::testSeed()));
}

/// The merge kernel (docs/merge.md) for each element type: NVRTC compiles
/// it for sm_80 and sm_90 with no spill and to a CUBIN.
TEST(CudaCodegen, MergeCompilesForSm80AndSm90WithoutSpills) {
  auto nvrtc = cuda::Nvrtc::get();
  if (!nvrtc.ok())
    GTEST_SKIP() << "skipped: " << nvrtc.status().message();
  int registers = 0;
  for (DType type : {DType::F32, DType::F16, DType::BF16})
    for (const char *arch : {"sm_80", "sm_90"}) {
      auto source = cuda::mergeSource(type);
      ASSERT_TRUE(source.ok()) << source.status().message();
      auto out = (*nvrtc)->compile(*source, cuda::mergeEntry(type) + ".cu", {arch, {}});
      ASSERT_TRUE(out.ok()) << out.status().message().substr(0, 2000);
      EXPECT_TRUE(out->ptxas.found) << out->log;
      EXPECT_EQ(out->ptxas.spillStoreBytes + out->ptxas.spillLoadBytes, 0)
          << toString(type) << " " << arch << "\n" << out->log;
      EXPECT_EQ(out->cubin.compare(0, 4, "\x7f" "ELF"), 0) << toString(type) << " " << arch;
      registers = std::max(registers, out->ptxas.registers);
    }
  std::printf("cuda merge: 6 kernels compiled, at most %d registers\n", registers);
}

/// The linear-attention kernel (docs/linear.md): each feature map (a
/// custom region included), causal and not, at the head dims the CUDA
/// kernel takes; NVRTC compiles it for sm_80 and sm_90 with no spill.
TEST(CudaCodegen, LinearCompilesForSm80AndSm90WithoutSpills) {
  auto nvrtc = cuda::Nvrtc::get();
  if (!nvrtc.ok())
    GTEST_SKIP() << "skipped: " << nvrtc.status().message();
  const char *custom = attnc::test::kSoftplusFeature;
  int kernels = 0, registers = 0;
  for (const char *map : {"elu1", "relu", "identity", "custom"})
    for (const char *mask : {"none", "causal, bottom_right"})
      for (int64_t d : {32, 64, 128}) {
        const std::string text = fmt::format(
            "attn.kernel @lin attributes {{q_heads = 8, kv_heads = 2, d_qk = {0}, "
            "element_type = f32, variant = #attn.variant<linear>, feature_map = "
            "#attn.feature_map<{1}>, mask = #attn.mask<{2}>}}{3}",
            d, map, mask, std::string(map) == "custom" ? custom : "");
        auto ir = KernelIr::parse(text, "<linear>");
        ASSERT_TRUE(ir.ok()) << ir.status().message();
        auto kernel = cuda::CudaLinear::create(*ir);
        ASSERT_TRUE(kernel.ok()) << text << "\n" << kernel.status().message();
        for (const char *arch : {"sm_80", "sm_90"}) {
          auto out = (*nvrtc)->compile(kernel->source(), kernel->entry() + ".cu", {arch, {}});
          ASSERT_TRUE(out.ok()) << text << "\n" << out.status().message().substr(0, 2000);
          EXPECT_TRUE(out->ptxas.found) << out->log;
          EXPECT_EQ(out->ptxas.spillStoreBytes + out->ptxas.spillLoadBytes, 0)
              << text << " " << arch << "\n" << out->log;
          registers = std::max(registers, out->ptxas.registers);
          ++kernels;
        }
      }
  std::printf("cuda linear: %d kernels compiled, at most %d registers\n", kernels,
              registers);
}

/// linearKernelToCuda's own rules, for callers that reach it without
/// LinearKernel's checks (CudaLinear::create makes those first): each
/// refusal names the rule.
TEST(CudaCodegen, LinearEmitterRefusesByName) {
  mlir::DialectRegistry registry;
  mlir::attn::registerAttnDialects(registry);
  mlir::MLIRContext context(registry, mlir::MLIRContext::Threading::DISABLED);
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    diagnostics += d.str() + "\n";
    return mlir::success();
  });
  const std::pair<const char *, const char *> cases[] = {
      {"attn.kernel @half attributes {q_heads = 2, d_qk = 8, element_type = f16, "
       "variant = #attn.variant<linear>}",
       "the cuda backend runs linear attention on f32 tensors for now, got "
       "element_type 'f16' and kv_element_type 'f16'"},
      {"attn.kernel @paged attributes {q_heads = 2, d_qk = 8, element_type = f32, "
       "variant = #attn.variant<linear>, layout = #attn.layout<paged>}",
       "the cuda backend runs linear attention on layout bshd or bhsd for now, "
       "got paged"},
      {"attn.kernel @soft attributes {q_heads = 2, d_qk = 8, element_type = f32}",
       "is softmax attention; the cuda linear kernel runs variant = linear"},
  };
  for (auto [spec, message] : cases) {
    diagnostics.clear();
    auto module = mlir::parseSourceString<mlir::ModuleOp>(spec, &context);
    ASSERT_TRUE(module) << spec << "\n" << diagnostics;
    auto kernel = *module->getOps<mlir::attn::KernelOp>().begin();
    EXPECT_TRUE(mlir::failed(mlir::attn::linearKernelToCuda(kernel))) << spec;
    EXPECT_NE(diagnostics.find(message), std::string::npos) << spec << "\n" << diagnostics;
  }
}

/// The Params struct's static_asserts catch a layout that drifted from
/// compiler/KernelAbi.h (the runtime packs by it): swapping two members
/// must not compile.
TEST(CudaCodegen, ParamsThatDriftFromTheAbiDoNotCompile) {
  auto nvrtc = cuda::Nvrtc::get();
  if (!nvrtc.ok())
    GTEST_SKIP() << "skipped: " << nvrtc.status().message();
  mlir::DialectRegistry registry;
  mlir::attn::registerAttnDialects(registry);
  mlir::MLIRContext context(registry, mlir::MLIRContext::Threading::DISABLED);
  auto module = mlir::parseSourceString<mlir::ModuleOp>(
      "attn.kernel @drift attributes {q_heads = 4, d_qk = 64, element_type = "
      "f16, lse = true}",
      &context);
  ASSERT_TRUE(module);
  auto source = mlir::attn::translateKernelToCuda(
      *module->getOps<mlir::attn::KernelOp>().begin(), "sm_90");
  ASSERT_TRUE(mlir::succeeded(source));
  ASSERT_TRUE((*nvrtc)->compile(*source, "drift.cu", {"sm_90", {}}).ok());
  std::string drifted = *source;
  size_t q = drifted.find("  const T *q;\n"), k = drifted.find("  const T *k;\n");
  ASSERT_NE(q, std::string::npos);
  ASSERT_NE(k, std::string::npos);
  drifted.replace(k, 14, "  const T *q;\n");
  drifted.replace(q, 14, "  const T *k;\n");
  auto out = (*nvrtc)->compile(drifted, "drift.cu", {"sm_90", {}});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("Params.q drifted from KernelAbi.h"),
            std::string::npos)
      << out.status().message();
}

} // namespace

