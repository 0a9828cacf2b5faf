#ifndef ATTNC_RUNTIME_STATUS_H
#define ATTNC_RUNTIME_STATUS_H

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace attnc {

/// Success, or an error with a message for the user. No exceptions cross the
/// runtime's API: every failure comes back as a Status.
class [[nodiscard]] Status {
public:
  static Status success() { return Status(); }
  static Status error(std::string message) {
    Status s;
    s.message_ = std::move(message);
    s.ok_ = false;
    return s;
  }
  /// An error of the machine rather than of the input: a full disk, a
  /// failed read or write. The attnc tool exits with its own code for it.
  static Status ioError(std::string message) {
    Status s = error(std::move(message));
    s.io_ = true;
    return s;
  }
  bool ok() const { return ok_; }
  bool isIo() const { return io_; }
  const std::string &message() const { return message_; }

private:
  bool ok_ = true;
  bool io_ = false;
  std::string message_;
};

/// A value or the Status saying why there is none.
template <typename T> class [[nodiscard]] StatusOr {
public:
  StatusOr(T value) : value_(std::move(value)) {}
  StatusOr(Status status) : status_(std::move(status)) {
    assert(!status_.ok() && "StatusOr needs a value or an error");
  }
  bool ok() const { return status_.ok(); }
  const Status &status() const { return status_; }
  T &value() { return *value_; }
  const T &value() const { return *value_; }
  T &operator*() { return *value_; }
  T *operator->() { return &*value_; }

private:
  Status status_;
  std::optional<T> value_;
};

} // namespace attnc

#endif
