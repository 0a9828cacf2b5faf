#ifndef ATTNC_FUZZ_FUZZINPUT_H
#define ATTNC_FUZZ_FUZZINPUT_H

// What every fuzz target shares: libFuzzer's entry point, and a reader that
// takes typed values from the front of the input (running out gives zeros),
// so that one input format serves libFuzzer and the replay driver alike.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace attnc::fuzz {

class FuzzInput {
public:
  FuzzInput(const uint8_t *data, size_t size) : data_(data), size_(size) {}

  template <typename T> T take() {
    T value{};
    size_t n = std::min(sizeof(T), size_);
    std::memcpy(&value, data_, n);
    data_ += n, size_ -= n;
    return value;
  }
  /// An integer in [lo, hi] most of the time, any int64 sometimes: hostile
  /// values are what the boundary must refuse.
  int64_t small(int64_t lo, int64_t hi) {
    uint8_t how = take<uint8_t>();
    int64_t raw = take<int64_t>();
    if (how < 16)
      return raw;
    uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
    return lo + static_cast<int64_t>(static_cast<uint64_t>(raw) % span);
  }
  /// Up to `max` bytes as a string.
  std::string text(size_t max) {
    size_t n = std::min<size_t>(take<uint8_t>(), std::min(max, size_));
    std::string s(reinterpret_cast<const char *>(data_), n);
    data_ += n, size_ -= n;
    return s;
  }
  /// The rest of the input.
  std::string rest() {
    std::string s(reinterpret_cast<const char *>(data_), size_);
    data_ += size_, size_ = 0;
    return s;
  }

private:
  const uint8_t *data_;
  size_t size_;
};

} // namespace attnc::fuzz

#endif
