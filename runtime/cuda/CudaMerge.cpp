#include "runtime/cuda/CudaMerge.h"

#include "compiler/Target/CUDA/AttnToCuda.h"
#include "runtime/cuda/DeviceFunction.h"
#include "runtime/cuda/simt/Emulator.h"
#include "runtime/detail/Checks.h"

#include <fmt/format.h>

#include <limits>
#include <map>
#include <memory>
#include <mutex>

namespace attnc::cuda {

namespace abi = mlir::attn::abi;

std::string mergeEntry(DType type) {
  return mlir::attn::mergeEntryName(toString(type));
}

StatusOr<std::string> mergeSource(DType type) {
  auto source = mlir::attn::mergeKernelToCuda(toString(type));
  if (mlir::failed(source))
    return Status::error(fmt::format(
        "merge: no CUDA merge kernel for {} (f32, f16 or bf16)", toString(type)));
  return *source;
}

Status checkCudaMerge(const MergeArgs &a) {
  if (Status st = validateMerge(a); !st.ok())
    return st;
  if (a.outputs.size() > static_cast<size_t>(abi::kMergeMaxParts))
    return Status::error(fmt::format(
        "merge: {} parts, but the cuda merge takes at most {} a call; merge "
        "them in rounds (a merged result and its LSE are a part)",
        a.outputs.size(), abi::kMergeMaxParts));
  // Parts are read through the read-only data path (__ldg), which an
  // output aliasing them would break; and only lane 0 of a row writes its
  // LSE, after the other lanes read the parts' (no barrier between).
  for (size_t i = 0; i < a.outputs.size(); ++i)
    if (a.outputs[i].data == a.o.data || (a.lse.data && a.lses[i].data == a.lse.data))
      return Status::error(fmt::format(
          "merge: {} is {}; the cuda merge does not merge in place (the cpu's "
          "does): give it outputs of their own",
          a.outputs[i].data == a.o.data ? "o" : "lse",
          a.outputs[i].data == a.o.data ? fmt::format("outputs[{}]", i)
                                        : fmt::format("lses[{}]", i)));
  for (size_t i = 0; i < a.outputs.size(); ++i)
    if (a.outputs[i].dtype != a.o.dtype)
      return Status::error(fmt::format(
          "merge: outputs[{}] is {} but o is {}; the cuda merge takes one "
          "element type for every part and o",
          i, toString(a.outputs[i].dtype), toString(a.o.dtype)));
  const int64_t intMax = std::numeric_limits<int32_t>::max();
  for (int i = 0; i < 4; ++i)
    if (a.o.sizes[i] > intMax)
      return Status::error(fmt::format(
          "merge: o's sizes [{}] must each be at most {} for the cuda merge",
          fmt::join(a.o.sizes, ", "), intMax));
  const int64_t rows = a.o.sizes[0] * a.o.sizes[1] * a.o.sizes[2];
  if ((rows + abi::kMergeWarps - 1) / abi::kMergeWarps > intMax)
    return Status::error(fmt::format(
        "merge: {} rows need more than {} CTAs of {} (grid.x)", rows, intMax,
        abi::kMergeWarps));
  return Status::success();
}

abi::MergeParams packMerge(const MergeArgs &a) {
  abi::MergeParams p{};
  auto address = [](const void *data) {
    return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(data));
  };
  for (size_t i = 0; i < a.outputs.size(); ++i) {
    p.parts[i] = address(a.outputs[i].data);
    p.partLse[i] = address(a.lses[i].data);
    for (int j = 0; j < 3; ++j) {
      p.partStride[i][j] = a.outputs[i].strides[j];
      p.partLseStride[i][j] = a.lses[i].strides[j];
    }
  }
  p.o = address(a.o.data);
  p.lse = address(a.lse.data);
  for (int j = 0; j < 3; ++j) {
    p.oStride[j] = a.o.strides[j];
    p.lseStride[j] = a.lse.data ? a.lse.strides[j] : 0;
  }
  p.count = static_cast<int32_t>(a.outputs.size());
  p.batch = static_cast<int32_t>(a.o.sizes[0]);
  p.heads = static_cast<int32_t>(a.o.sizes[1]);
  p.seq = static_cast<int32_t>(a.o.sizes[2]);
  p.dim = static_cast<int32_t>(a.o.sizes[3]);
  return p;
}

unsigned mergeGrid(const MergeArgs &a) {
  const int64_t rows = a.o.sizes[0] * a.o.sizes[1] * a.o.sizes[2];
  return static_cast<unsigned>((rows + abi::kMergeWarps - 1) / abi::kMergeWarps);
}

namespace {

/// The emulator's merge module for `type`, compiled on first use.
StatusOr<const simt::Module *> simtMergeModule(DType type) {
  static std::mutex mutex;
  static std::map<DType, std::unique_ptr<simt::Module>> modules;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = modules.find(type);
  if (it != modules.end())
    return it->second.get();
  auto source = mergeSource(type);
  if (!source.ok())
    return source.status();
  simt::CompileOptions options;
  options.fileName = mergeEntry(type) + ".cu";
  auto module = simt::Module::compile(*source, options);
  if (!module.ok())
    return module.status();
  return (modules[type] = std::move(*module)).get();
}

} // namespace

Status simtMerge(const MergeArgs &a, unsigned threads) {
  if (Status st = checkCudaMerge(a); !st.ok())
    return st;
  const unsigned grid = mergeGrid(a);
  if (grid == 0)
    return Status::success();
  auto module = simtMergeModule(a.o.dtype);
  if (!module.ok())
    return module.status();
  simt::LaunchChecks checks;
  checks.threads = threads;
  auto add = [&](const std::string &name, const TensorView &t) {
    detail::ByteSpan span = detail::byteSpan(t);
    checks.buffers.push_back({name, t.data, span.end - span.begin});
  };
  for (size_t i = 0; i < a.outputs.size(); ++i) {
    add(fmt::format("outputs[{}]", i), a.outputs[i]);
    add(fmt::format("lses[{}]", i), a.lses[i]);
  }
  add("o", a.o);
  if (a.lse.data)
    add("lse", a.lse);
  const abi::MergeParams params = packMerge(a);
  return (*module)->launch({grid, 1, 1}, {abi::kMergeWarps * 32, 1, 1}, 0,
                           &params, sizeof params, checks);
}

Status deviceMerge(const MergeArgs &a, void *stream) {
  if (Status st = checkCudaMerge(a); !st.ok())
    return st;
  if (mergeGrid(a) == 0)
    return Status::success();
  // GPU 0's merge function per element type, loaded on first use (the text
  // is not made again for every call).
  static std::mutex mutex;
  static std::map<DType, std::shared_ptr<const DeviceFunction>> loaded;
  std::shared_ptr<const DeviceFunction> function;
  {
    std::lock_guard<std::mutex> lock(mutex);
    std::shared_ptr<const DeviceFunction> &slot = loaded[a.o.dtype];
    if (!slot) {
      auto source = mergeSource(a.o.dtype);
      if (!source.ok())
        return source.status();
      auto f = DeviceFunction::load(*source, mergeEntry(a.o.dtype), 0);
      if (!f.ok())
        return f.status();
      slot = *f;
    }
    function = slot;
  }
  const abi::MergeParams params = packMerge(a);
  return function->launch({mergeGrid(a), 1, 1}, abi::kMergeWarps * 32, &params,
                             sizeof params, stream);
}

} // namespace attnc::cuda
