// Checks at the boundary that are the same for every backend.
#include "runtime/Tensor.h"

#include <fmt/format.h>

#include <algorithm>

namespace attnc {

/// The declared inputs, each bound once, with its type, rank and sizes.
Status validateInputs(const KernelSpec &s, const AttentionArgs &a) {
  std::vector<std::string> declared;
  for (const InputDecl &d : s.inputs)
    declared.push_back(d.name);
  for (const InputTensor &t : a.inputs) {
    int count = 0;
    for (const InputTensor &u : a.inputs)
      count += u.name == t.name;
    if (count > 1)
      return Status::error(fmt::format("input '{}' is given {} times", t.name,
                                       count));
    if (std::find(declared.begin(), declared.end(), t.name) == declared.end())
      return Status::error(fmt::format(
          "input '{}' is not declared by kernel @{} (it declares: {})", t.name,
          s.name, declared.empty() ? "none" : fmt::format("{}", fmt::join(declared, ", "))));
  }
  for (const InputDecl &d : s.inputs) {
    const InputTensor *t = nullptr;
    for (const InputTensor &u : a.inputs)
      if (u.name == d.name)
        t = &u;
    if (!t)
      return Status::error(fmt::format(
          "input '{}': kernel @{} declares it, but the call does not give it",
          d.name, s.name));
    if (!t->data)
      return Status::error(fmt::format("input '{}': data pointer is null", d.name));
    if (t->dtype != d.type)
      return Status::error(fmt::format(
          "input '{}': element type is {}, but the kernel declares {}", d.name,
          toString(t->dtype), toString(d.type)));
    if (t->sizes.size() != d.dims.size() || t->strides.size() != d.dims.size())
      return Status::error(fmt::format(
          "input '{}': has {} sizes and {} strides, but the kernel declares "
          "rank {}",
          d.name, t->sizes.size(), t->strides.size(), d.dims.size()));
    for (size_t i = 0; i < d.dims.size(); ++i) {
      int64_t want = -1;
      switch (d.dims[i]) {
      case InputDim::Batch:
        want = a.q.batch();
        break;
      case InputDim::QHeads:
        want = s.qHeads;
        break;
      case InputDim::KvHeads:
        want = s.kvHeads;
        break;
      case InputDim::SeqQ:
        want = a.q.seq();
        break;
      case InputDim::SeqKv:
        want = a.k.seq();
        break;
      case InputDim::Any:
        break;
      }
      if (want >= 0 && t->sizes[i] != want)
        return Status::error(fmt::format(
            "input '{}': dimension {} ({}) has size {}, but the call has {}",
            d.name, i, toString(d.dims[i]), t->sizes[i], want));
      if (want < 0 && t->sizes[i] < 1)
        return Status::error(fmt::format(
            "input '{}': dimension {} (any) has size {}; it must be at least 1",
            d.name, i, t->sizes[i]));
      if (t->strides[i] < 0)
        return Status::error(fmt::format(
            "input '{}': stride {} is {}; strides must be >= 0", d.name, i,
            t->strides[i]));
    }
  }
  return Status::success();
}


} // namespace attnc
