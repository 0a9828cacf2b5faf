#include "compiler/KernelAbi.h"

#include "dialect/AttnAttrs.h"

namespace mlir::attn::abi {

ElementType elementTypeOf(Type type) {
  if (type.isF32())
    return ElementType::F32;
  if (type.isF16())
    return ElementType::F16;
  if (type.isBF16())
    return ElementType::BF16;
  return ElementType::I32;
}

std::vector<InputArg> inputArgs(ArrayAttr decls) {
  std::vector<InputArg> inputs;
  if (decls)
    for (Attribute a : decls) {
      auto in = cast<InputAttr>(a);
      inputs.push_back({in.getName().str(), elementTypeOf(in.getElementType()),
                        static_cast<int64_t>(in.getDims().size())});
    }
  return inputs;
}

std::vector<Arg> kernelArgs(ElementType element, ElementType kvElement,
                            bool lse, bool probs, bool paged, bool blockSparse,
                            const std::vector<InputArg> &inputs) {
  std::vector<Arg> args = {{"q", Role::Q, element, 4, false},
                           {"k", Role::K, kvElement, 4, false},
                           {"v", Role::V, kvElement, 4, false},
                           {"o", Role::O, element, 4, true}};
  if (lse)
    args.push_back({"lse", Role::Lse, ElementType::F32, 3, true});
  if (probs)
    args.push_back({"probs", Role::Probs, ElementType::F32, 4, true});
  if (paged) {
    args.push_back({"page_table", Role::PageTable, ElementType::I32, 2, false});
    args.push_back({"kv_seqlens", Role::KvSeqlens, ElementType::I32, 1, false});
  }
  if (blockSparse) {
    args.push_back({"kv_num_blocks", Role::KvNumBlocks, ElementType::I32, 3, false});
    args.push_back({"kv_indices", Role::KvIndices, ElementType::I32, 4, false});
    args.push_back({"full_kv_num_blocks", Role::FullKvNumBlocks, ElementType::I32, 3, false});
    args.push_back({"full_kv_indices", Role::FullKvIndices, ElementType::I32, 4, false});
  }
  for (const InputArg &in : inputs)
    args.push_back({in.name, Role::Input, in.type, in.rank, false});
  return args;
}

std::vector<Arg> cudaKernelArgs(ElementType element, bool lse, bool probs,
                                Sequences sequences, bool blockSparse,
                                const std::vector<InputArg> &inputs) {
  std::vector<Arg> args =
      kernelArgs(element, element, lse, probs, /*paged=*/false, blockSparse, inputs);
  std::vector<Arg> tables;
  if (sequences != Sequences::None)
    tables.push_back({"sequences", Role::SequenceTable, ElementType::I32, 2, false});
  if (sequences == Sequences::Paged)
    tables.push_back({"page_table", Role::PageTable, ElementType::I32, 1, false});
  args.insert(args.begin() + 4 + lse + probs, tables.begin(), tables.end());
  return args;
}

ParamsLayout cudaParamsLayout(const std::vector<Arg> &args) {
  ParamsLayout layout;
  auto add = [&](ParamField::Kind kind, int64_t arg, std::string name,
                 std::string type, int64_t count, int64_t size) {
    // Natural alignment: every member here is 4 or 8 bytes.
    layout.bytes = (layout.bytes + size - 1) / size * size;
    layout.fields.push_back({kind, arg, std::move(name), std::move(type), count,
                             layout.bytes, size * count});
    layout.bytes += size * count;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const Arg &a = args[i];
    int64_t n = static_cast<int64_t>(i);
    if (a.role != Role::Q && a.role != Role::K && a.role != Role::V &&
        a.role != Role::O && a.role != Role::Lse && a.role != Role::Probs) {
      std::string base = a.role == Role::Input ? "in_" + a.name : a.name;
      add(ParamField::Pointer, n, base,
          a.type == ElementType::I32 ? "const int *" : "const float *", 1, 8);
      if (a.rank > 0) {
        add(ParamField::Sizes, n, base + "_size", "long long", a.rank, 8);
        add(ParamField::Strides, n, base + "_stride", "long long", a.rank, 8);
      }
      continue;
    }
    // [b, h, s] strides (the last is 1); probs [b, h, q, k] likewise.
    std::string pointer = a.role == Role::Lse || a.role == Role::Probs ? "float *"
                          : a.written                                  ? "T *"
                                                                       : "const T *";
    add(ParamField::Pointer, n, a.name, pointer, 1, 8);
    add(ParamField::Strides, n, a.name + "_stride", "long long", 3, 8);
  }
  add(ParamField::SeqQ, -1, "seq_q", "int", 1, 4);
  add(ParamField::SeqKv, -1, "seq_kv", "int", 1, 4);
  for (const Arg &a : args)
    if (a.role == Role::PageTable)
      add(ParamField::PageSize, -1, "page_size", "int", 1, 4);
  layout.bytes = (layout.bytes + 7) / 8 * 8;
  return layout;
}

} // namespace mlir::attn::abi
