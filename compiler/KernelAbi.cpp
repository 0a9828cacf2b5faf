#include "compiler/KernelAbi.h"

namespace mlir::attn::abi {

std::vector<Arg> kernelArgs(ElementType element, bool lse,
                            const std::vector<InputArg> &inputs) {
  std::vector<Arg> args = {{"q", Role::Q, element, 4, false},
                           {"k", Role::K, element, 4, false},
                           {"v", Role::V, element, 4, false},
                           {"o", Role::O, element, 4, true}};
  if (lse)
    args.push_back({"lse", Role::Lse, ElementType::F32, 3, true});
  for (const InputArg &in : inputs)
    args.push_back({in.name, Role::Input, in.type, in.rank, false});
  return args;
}

} // namespace mlir::attn::abi
