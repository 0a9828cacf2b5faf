#include "runtime/cuda/simt/Emulator.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace attnc::simt {
namespace {

constexpr size_t kAlign = 256; // what cudaMalloc guarantees
constexpr unsigned char kGuardByte = 0xa5;
// Fresh "device" memory holds all-ones bytes: NaN in f16, bf16 and f32, so
// an element the kernel forgot to write shows in any comparison.
constexpr unsigned char kFreshByte = 0xff;

size_t roundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

} // namespace

StatusOr<GuardedBuffer> GuardedBuffer::allocate(std::string name, size_t bytes,
                                                size_t guardBytes) {
  constexpr size_t kLimit = size_t(1) << 46; // far beyond any test tensor
  if (bytes > kLimit || guardBytes > kLimit)
    return Status::error(
        fmt::format("'{}': {} bytes with guards of {} is too large", name,
                    bytes, guardBytes));
  GuardedBuffer b;
  b.name_ = std::move(name);
  b.bytes_ = bytes;
  b.guard_ = std::max(kAlign, roundUp(guardBytes, kAlign));
  b.blockBytes_ = b.guard_ + roundUp(bytes, kAlign) + b.guard_;
  void *block = nullptr;
  if (posix_memalign(&block, kAlign, b.blockBytes_) != 0)
    return Status::error(fmt::format("cannot allocate {} bytes for '{}'",
                                     b.blockBytes_, b.name_));
  b.block_ = static_cast<unsigned char *>(block);
  b.data_ = b.block_ + b.guard_;
  std::memset(b.block_, kGuardByte, b.blockBytes_);
  std::memset(b.data_, kFreshByte, b.bytes_);
  return b;
}

GuardedBuffer::~GuardedBuffer() { std::free(block_); }

GuardedBuffer::GuardedBuffer(GuardedBuffer &&other) noexcept
    : name_(std::move(other.name_)),
      block_(std::exchange(other.block_, nullptr)),
      data_(std::exchange(other.data_, nullptr)), bytes_(other.bytes_),
      guard_(other.guard_), blockBytes_(other.blockBytes_) {}

GuardedBuffer &GuardedBuffer::operator=(GuardedBuffer &&other) noexcept {
  std::swap(name_, other.name_);
  std::swap(block_, other.block_);
  std::swap(data_, other.data_);
  std::swap(bytes_, other.bytes_);
  std::swap(guard_, other.guard_);
  std::swap(blockBytes_, other.blockBytes_);
  return *this;
}

Status GuardedBuffer::checkGuards() const {
  // Offsets relative to the buffer's start: negative before it, >= bytes_
  // after it (the alignment slack counts as guard).
  long long first = 0, last = 0, changed = 0;
  for (size_t i = 0; i < blockBytes_; ++i) {
    if (i >= guard_ && i < guard_ + bytes_)
      continue;
    if (block_[i] == kGuardByte)
      continue;
    long long offset =
        static_cast<long long>(i) - static_cast<long long>(guard_);
    if (!changed)
      first = offset;
    last = offset;
    ++changed;
  }
  if (!changed)
    return Status::success();
  return Status::error(fmt::format(
      "'{}' ({} bytes): {} guard byte{} changed, at offsets {} to {} from its "
      "start (negative: "
      "before it; {} or more: past its end)",
      name_, bytes_, changed, changed == 1 ? "" : "s", first, last, bytes_));
}

} // namespace attnc::simt
