#include "runtime/cuda/CudaLinear.h"

#include "runtime/cuda/DeviceFunction.h"
#include "runtime/cuda/simt/Emulator.h"
#include "runtime/detail/Checks.h"
#include "runtime/detail/Compiler.h"

#include <fmt/format.h>

#include <limits>
#include <mutex>
#include <vector>

namespace attnc::cuda {

namespace abi = mlir::attn::abi;

/// What the kernel's text becomes, each made on first use: the emulator's
/// module and GPU 0's loaded function.
struct CudaLinear::Module {
  std::once_flag once, deviceOnce;
  StatusOr<std::unique_ptr<simt::Module>> compiled =
      Status::error("internal error: the linear kernel's module was not compiled");
  StatusOr<std::shared_ptr<const DeviceFunction>> device =
      Status::error("internal error: the linear kernel was not loaded");
};

StatusOr<CudaLinear> CudaLinear::create(const KernelIr &ir) {
  auto cpu = LinearKernel::create(ir);
  if (!cpu.ok())
    return cpu.status();
  auto codegen = detail::translateLinearForCuda(ir);
  if (!codegen.ok())
    return codegen.status();
  CudaLinear k;
  k.cpu_ = std::move(*cpu);
  k.source_ = std::move(codegen->source);
  k.entry_ = std::move(codegen->entry);
  k.chunk_ = codegen->chunk;
  k.sharedBytes_ = codegen->sharedBytes;
  k.module_ = std::make_shared<Module>();
  return k;
}

Status CudaLinear::check(const AttentionArgs &a, const LinearState *state) const {
  if (Status st = cpu_.check(a); !st.ok())
    return st;
  if (state)
    if (Status st = cpu_.checkState(a, *state); !st.ok())
      return st;
  const int64_t intMax = std::numeric_limits<int32_t>::max();
  const KernelSpec &s = spec();
  if (a.q.batch() > intMax || a.q.seq() > intMax || a.k.seq() > intMax)
    return Status::error(fmt::format(
        "batch ({}), seq_q ({}) and seq_kv ({}) must each be at most {} for the "
        "cuda linear kernel",
        a.q.batch(), a.q.seq(), a.k.seq(), intMax));
  if (a.q.batch() * s.kvHeads > intMax)
    return Status::error(fmt::format(
        "batch x kv_heads ({} x {}) CTAs exceed the grid's {} (grid.x)", a.q.batch(),
        s.kvHeads, intMax));
  return Status::success();
}

abi::LinearParams CudaLinear::pack(const AttentionArgs &a, const LinearState *state) const {
  const KernelSpec &s = spec();
  abi::LinearParams p{};
  auto address = [](const void *data) {
    return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(data));
  };
  p.q = address(a.q.data);
  p.k = address(a.k.data);
  p.v = address(a.v.data);
  p.o = address(a.o.data);
  for (int j = 0; j < 3; ++j) {
    p.qStride[j] = a.q.strides[j];
    p.kStride[j] = a.k.strides[j];
    p.vStride[j] = a.v.strides[j];
    p.oStride[j] = a.o.strides[j];
  }
  p.batch = static_cast<int32_t>(a.q.batch());
  p.seqQ = static_cast<int32_t>(a.q.seq());
  p.seqKv = static_cast<int32_t>(a.k.seq());
  // The causal diagonal (the kernel reads it only when causal), as
  // LinearKernel::run takes it; seq_kv - seq_q fits: both are int32.
  p.off = s.mask == MaskKind::Causal && s.alignment == Alignment::BottomRight
              ? static_cast<int32_t>(a.k.seq() - a.q.seq())
              : 0;
  if (state) {
    p.stateS = address(state->s.data);
    p.stateZ = address(state->z.data);
    for (int j = 0; j < 3; ++j)
      p.sStride[j] = state->s.strides[j];
    for (int j = 0; j < 2; ++j)
      p.zStride[j] = state->z.strides[j];
  }
  return p;
}

std::array<unsigned, 3> CudaLinear::grid(const AttentionArgs &a,
                                         const LinearState *state) const {
  const KernelSpec &s = spec();
  const int64_t slices = (s.dV + abi::kLinearColumns - 1) / abi::kLinearColumns;
  return {static_cast<unsigned>(a.q.batch() * s.kvHeads),
          state ? 1u : static_cast<unsigned>(slices), 1};
}

Status CudaLinear::runSimt(const AttentionArgs &a, const LinearState *state,
                           unsigned threads) const {
  if (Status st = check(a, state); !st.ok())
    return st;
  const std::array<unsigned, 3> g = grid(a, state);
  if (g[0] == 0)
    return Status::success();
  std::call_once(module_->once, [&] {
    simt::CompileOptions options;
    options.fileName = entry_ + ".cu";
    module_->compiled = simt::Module::compile(source_, options);
  });
  if (!module_->compiled.ok())
    return module_->compiled.status();
  simt::LaunchChecks checks;
  checks.threads = threads;
  std::vector<std::pair<const char *, const TensorView *>> tensors = {
      {"q", &a.q}, {"k", &a.k}, {"v", &a.v}, {"o", &a.o}};
  if (state)
    tensors.insert(tensors.end(), {{"state s", &state->s}, {"state z", &state->z}});
  for (auto [name, t] : tensors) {
    detail::ByteSpan span = detail::byteSpan(*t);
    checks.buffers.push_back({name, t->data, span.end - span.begin});
  }
  const abi::LinearParams params = pack(a, state);
  return (*module_->compiled)
      ->launch({g[0], g[1], g[2]}, {abi::kLinearWarps * 32, 1, 1},
               static_cast<size_t>(sharedBytes_), &params, sizeof params, checks);
}

Status CudaLinear::launch(const AttentionArgs &a, const LinearState *state,
                          void *stream) const {
  // The checks read no tensor data: device addresses are only compared.
  if (Status st = check(a, state); !st.ok())
    return st;
  if (grid(a, state)[0] == 0)
    return Status::success();
  std::call_once(module_->deviceOnce, [&] {
    module_->device = DeviceFunction::load(source_, entry_, sharedBytes_);
  });
  if (!module_->device.ok())
    return module_->device.status();
  const abi::LinearParams params = pack(a, state);
  return (*module_->device)->launch(grid(a, state), abi::kLinearWarps * 32, &params,
                                    sizeof params, stream);
}

} // namespace attnc::cuda
