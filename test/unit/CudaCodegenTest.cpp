// The CUDA emitter, checked without a GPU: a sweep of kernels translated to
// CUDA C++ and compiled by NVRTC for sm_80 and sm_90; any compile error or
// any spill at the default schedules fails. (Running them is for a GPU.)
#include "compiler/Pipelines/Pipelines.h"
#include "compiler/Target/CUDA/AttnToCuda.h"
#include "runtime/ThreadPool.h"
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
              "at most %d registers\n",
              jobs.size(), (*nvrtc)->majorVersion(), (*nvrtc)->minorVersion(),
              failures.size(), maxRegisters);
}

} // namespace
