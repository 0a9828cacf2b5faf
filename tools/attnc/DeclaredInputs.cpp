#include "DeclaredInputs.h"

#include "runtime/Npy.h"
#include "runtime/Reference.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace attnc::cli {

StatusOr<DeclaredInputs>
loadDeclaredInputs(const std::vector<std::pair<std::string, std::string>> &files,
                   const KernelSpec &s, int64_t batch, int64_t seqQ,
                   int64_t seqKv, std::mt19937_64 &rng) {
  auto fail = [](std::string m) { return Status::error(std::move(m)); };
  DeclaredInputs out;
  std::vector<std::string> declared;
  for (const InputDecl &d : s.inputs)
    declared.push_back(d.name);
  for (const auto &[name, file] : files)
    if (std::find(declared.begin(), declared.end(), name) == declared.end())
      return fail(fmt::format(
          "--input {}: kernel @{} declares no input '{}' (it declares: {})",
          name, s.name, name,
          declared.empty() ? "none" : fmt::format("{}", fmt::join(declared, ", "))));
  for (const InputDecl &d : s.inputs) {
    std::vector<int64_t> shape;
    for (InputDim dim : d.dims)
      shape.push_back(dim == InputDim::Batch     ? batch
                      : dim == InputDim::QHeads  ? s.qHeads
                      : dim == InputDim::KvHeads ? s.kvHeads
                      : dim == InputDim::SeqQ    ? seqQ
                      : dim == InputDim::SeqKv   ? seqKv
                                                 : -1);
    std::string file;
    for (const auto &[name, path] : files)
      if (name == d.name)
        file = path;
    auto words = std::make_shared<std::vector<int32_t>>();
    if (!file.empty()) {
      StatusOr<NpyArray> a = readNpy(file, /*allowInt32=*/true);
      if (!a.ok())
        return a.status();
      if (a->isInt32 != (d.type == DType::I32))
        return fail(fmt::format("{}: holds {}, but input '{}' is {}", file,
                                a->isInt32 ? "int32" : "float32", d.name,
                                toString(d.type)));
      bool fits = a->shape.size() == shape.size();
      for (size_t i = 0; fits && i < shape.size(); ++i)
        fits = shape[i] < 0 ? a->shape[i] >= 1 : a->shape[i] == shape[i];
      if (!fits) {
        std::vector<std::string> want, names;
        for (size_t i = 0; i < shape.size(); ++i)
          want.push_back(shape[i] < 0 ? "any" : std::to_string(shape[i]));
        for (InputDim dim : d.dims)
          names.push_back(toString(dim));
        return fail(fmt::format(
            "{}: shape ({}) does not match input '{}' [{}] = ({})", file,
            fmt::join(a->shape, ", "), d.name, fmt::join(names, ", "),
            fmt::join(want, ", ")));
      }
      shape = a->shape;
      words->resize(a->isInt32 ? a->ints.size() : a->data.size());
      std::memcpy(words->data(),
                  a->isInt32 ? static_cast<const void *>(a->ints.data())
                             : static_cast<const void *>(a->data.data()),
                  words->size() * 4);
      out.notes.push_back(fmt::format("{} from {}", d.name, file));
    } else {
      int64_t count = 1;
      for (int64_t &size : shape) {
        if (size < 0)
          size = 32;
        if (__builtin_mul_overflow(count, size, &count) ||
            count > (int64_t(1) << 32))
          return fail(fmt::format(
              "input '{}' would have more than 2^32 elements at this shape; "
              "give it with --input {}=FILE.npy or use a smaller shape",
              d.name, d.name));
      }
      words->resize(count);
      if (d.type == DType::I32) {
        std::uniform_int_distribution<int32_t> dist(0, 3);
        for (int32_t &w : *words)
          w = dist(rng);
      } else {
        std::vector<float> values = uniformInputs(count, rng);
        std::memcpy(words->data(), values.data(), count * 4);
      }
      out.notes.push_back(fmt::format("{} random ({})", d.name,
                                      d.type == DType::I32 ? "i32 in [0, 4)"
                                                           : "f32 in [-1, 1)"));
    }
    InputTensor t;
    t.name = d.name;
    t.data = words->data();
    t.dtype = d.type;
    t.sizes = shape;
    t.strides.assign(shape.size(), 1);
    for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i)
      t.strides[i] = t.strides[i + 1] * shape[i + 1];
    out.storage.push_back(std::move(words));
    out.tensors.push_back(std::move(t));
  }
  return out;
}

} // namespace attnc::cli
