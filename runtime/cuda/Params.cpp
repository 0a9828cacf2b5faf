#include "runtime/cuda/Params.h"

#include <fmt/format.h>

#include <cstring>

namespace attnc::cuda {
namespace {

Status checkTensor(const char *name, const TensorView &t, DType dtype,
                   int64_t heads, int64_t dim) {
  if (!t.data)
    return Status::error(fmt::format("{}: device pointer is null", name));
  if (t.dtype != dtype)
    return Status::error(fmt::format("{}: element type is {}, but the kernel "
                                     "expects {}",
                                     name, toString(t.dtype), toString(dtype)));
  if (t.sizes[1] != heads || t.sizes[3] != dim)
    return Status::error(fmt::format(
        "{}: has {} heads of dim {}, but the kernel expects {} of dim {}", name,
        t.sizes[1], t.sizes[3], heads, dim));
  if (t.strides[3] != 1)
    return Status::error(fmt::format("{}: the head-dim stride must be 1", name));
  // cp.async moves 16-byte chunks: 8 elements of 2 bytes.
  auto address = reinterpret_cast<uintptr_t>(t.data);
  if (address % 16 || t.strides[0] % 8 || t.strides[1] % 8 || t.strides[2] % 8)
    return Status::error(fmt::format(
        "{}: the address must be 16-byte aligned and the batch, head and seq "
        "strides multiples of 8 elements",
        name));
  return Status::success();
}

} // namespace

Status checkCudaArgs(const KernelSpec &s, const AttentionArgs &a) {
  const DType element = s.elementType == "bf16" ? DType::BF16 : DType::F16;
  for (Status st : {checkTensor("q", a.q, element, s.qHeads, s.dQk),
                    checkTensor("k", a.k, element, s.kvHeads, s.dQk),
                    checkTensor("v", a.v, element, s.kvHeads, s.dV),
                    checkTensor("o", a.o, element, s.qHeads, s.dV)})
    if (!st.ok())
      return st;
  if (a.q.sizes[0] != a.k.sizes[0] || a.q.sizes[0] != a.v.sizes[0] ||
      a.q.sizes[0] != a.o.sizes[0] || a.k.sizes[2] != a.v.sizes[2] ||
      a.q.sizes[2] != a.o.sizes[2])
    return Status::error("q, k, v and o disagree on batch or sequence lengths");
  if (s.lse != (a.lse.data != nullptr))
    return Status::error(s.lse ? "lse: the kernel writes LSE; give a buffer"
                               : "lse: the kernel was compiled without LSE");
  if (s.lse && a.lse.dtype != DType::F32)
    return Status::error("lse: element type must be f32");
  if (Status st = validateBlockMask(s, a); !st.ok())
    return st;
  return validateInputs(s, a);
}

/// The bytes of the kernel's `Params`, packed by the layout the emitter
/// printed the struct from (compiler/KernelAbi.h).
std::string packParams(const detail::CudaCodegen &t, const AttentionArgs &a) {
  namespace abi = mlir::attn::abi;
  std::string bytes(t.params.bytes, '\0');
  auto put = [&](int64_t offset, const void *value, size_t size) {
    std::memcpy(&bytes[offset], value, size);
  };
  for (const abi::ParamField &f : t.params.fields) {
    const abi::Arg *arg = f.arg >= 0 ? &t.args[f.arg] : nullptr;
    const TensorView *view = nullptr;
    const InputTensor *input = nullptr;
    const BlockMaskArgs &m = a.blockMask;
    if (arg && arg->role == abi::Role::Input) {
      for (const InputTensor &in : a.inputs)
        if (in.name == arg->name)
          input = &in;
    } else if (arg && arg->role == abi::Role::KvNumBlocks) {
      input = &m.numBlocks;
    } else if (arg && arg->role == abi::Role::KvIndices) {
      input = &m.indices;
    } else if (arg && arg->role == abi::Role::FullKvNumBlocks) {
      input = &m.fullNumBlocks;
    } else if (arg && arg->role == abi::Role::FullKvIndices) {
      input = &m.fullIndices;
    } else if (arg) {
      view = arg->role == abi::Role::Q   ? &a.q
             : arg->role == abi::Role::K ? &a.k
             : arg->role == abi::Role::V ? &a.v
             : arg->role == abi::Role::O ? &a.o
                                         : &a.lse;
    }
    switch (f.kind) {
    case abi::ParamField::Pointer: {
      const void *data = view ? view->data : input->data;
      put(f.offset, &data, sizeof data);
      break;
    }
    case abi::ParamField::Strides:
      for (int64_t i = 0; i < f.count; ++i) {
        long long stride = view ? view->strides[i] : input->strides[i];
        put(f.offset + 8 * i, &stride, 8);
      }
      break;
    case abi::ParamField::Sizes:
      for (int64_t i = 0; i < f.count; ++i) {
        long long size = input->sizes[i];
        put(f.offset + 8 * i, &size, 8);
      }
      break;
    case abi::ParamField::SeqQ: {
      int seq = static_cast<int>(a.q.sizes[2]);
      put(f.offset, &seq, 4);
      break;
    }
    case abi::ParamField::SeqKv: {
      int seq = static_cast<int>(a.k.sizes[2]);
      put(f.offset, &seq, 4);
      break;
    }
    }
  }
  return bytes;
}

size_t inputBytes(const InputTensor &in) {
  int64_t last = 0;
  for (size_t i = 0; i < in.sizes.size(); ++i) {
    if (in.sizes[i] <= 0)
      return 0;
    last += (in.sizes[i] - 1) * in.strides[i];
  }
  return static_cast<size_t>(last + 1) * 4;
}

Status copyInputsAndBlockMask(
    const AttentionArgs &host, AttentionArgs &device,
    const std::function<StatusOr<InputTensor>(const InputTensor &)> &copy) {
  for (const InputTensor &in : host.inputs) {
    auto moved = copy(in);
    if (!moved.ok())
      return moved.status();
    device.inputs.push_back(std::move(*moved));
  }
  if (!host.blockMask.given())
    return Status::success();
  const BlockMaskArgs &m = host.blockMask;
  for (auto [from, to] : {std::pair{&m.numBlocks, &device.blockMask.numBlocks},
                          std::pair{&m.indices, &device.blockMask.indices},
                          std::pair{&m.fullNumBlocks, &device.blockMask.fullNumBlocks},
                          std::pair{&m.fullIndices, &device.blockMask.fullIndices}}) {
    InputTensor named = *from;
    if (named.name.empty())
      named.name = "block mask";
    auto moved = copy(named);
    if (!moved.ok())
      return moved.status();
    *to = std::move(*moved);
  }
  return Status::success();
}

} // namespace attnc::cuda
