// attnc.hpp: a header-only C++ wrapper over the C API (attnc.h): an owning,
// move-only Kernel; every call returns attnc_status and keeps the message.
#ifndef ATTNC_ATTNC_HPP
#define ATTNC_ATTNC_HPP

#include "attnc/attnc.h"

#include <string>
#include <utility>
#include <vector>

namespace attnc {

class Kernel {
public:
  /// Creates (and checks) a kernel; see ok() and error().
  static Kernel create(const attnc_spec &spec,
                       attnc_target target = ATTNC_TARGET_CPU) {
    Kernel k;
    k.record(attnc_kernel_create(&spec, target, &k.handle_));
    return k;
  }
  static Kernel fromMlir(const std::string &mlir,
                         attnc_target target = ATTNC_TARGET_CPU) {
    Kernel k;
    k.record(attnc_kernel_create_from_mlir(mlir.c_str(), target, &k.handle_));
    return k;
  }

  Kernel(Kernel &&other) noexcept { *this = std::move(other); }
  Kernel &operator=(Kernel &&other) noexcept {
    std::swap(handle_, other.handle_);
    std::swap(status_, other.status_);
    std::swap(error_, other.error_);
    return *this;
  }
  Kernel(const Kernel &) = delete;
  Kernel &operator=(const Kernel &) = delete;
  ~Kernel() { attnc_kernel_destroy(handle_); }

  bool ok() const { return status_ == ATTNC_OK; }
  attnc_status status() const { return status_; }
  /// The message of the last failed call on this object.
  const std::string &error() const { return error_; }

  attnc_status compile() { return record(attnc_kernel_compile(handle_)); }
  attnc_status run(const attnc_tensor &q, const attnc_tensor &k,
                   const attnc_tensor &v, const attnc_tensor &o,
                   const attnc_tensor *lse = nullptr, int threads = 0,
                   void *stream = nullptr) {
    return record(
        attnc_kernel_run(handle_, &q, &k, &v, &o, lse, threads, stream));
  }
  /// run() for kernels that declare inputs (see attnc_input).
  attnc_status run(const attnc_tensor &q, const attnc_tensor &k,
                   const attnc_tensor &v, const attnc_tensor &o,
                   const attnc_tensor *lse,
                   const std::vector<attnc_input> &inputs, int threads = 0,
                   void *stream = nullptr) {
    return record(attnc_kernel_run_with_inputs(
        handle_, &q, &k, &v, &o, lse, inputs.data(),
        static_cast<int64_t>(inputs.size()), threads, stream));
  }

private:
  Kernel() = default;
  attnc_status record(attnc_status status) {
    status_ = status;
    error_ = status == ATTNC_OK ? std::string() : attnc_last_error();
    return status;
  }
  attnc_kernel *handle_ = nullptr;
  attnc_status status_ = ATTNC_ERROR_INTERNAL;
  std::string error_;
};

} // namespace attnc

#endif // ATTNC_ATTNC_HPP
