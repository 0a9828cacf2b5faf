#include "runtime/cuda/DeviceRun.h"

#include "runtime/Half.h"
#include "runtime/cuda/Driver.h"
#include "runtime/cuda/HostRun.h"
#include "runtime/cuda/Params.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <new>
#include <optional>
#include <utility>

namespace attnc::cuda {

StatusOr<DeviceBuffer> DeviceBuffer::alloc(size_t bytes) {
  auto driver = Driver::get();
  if (!driver.ok())
    return driver.status();
  DeviceBuffer buffer;
  buffer.bytes_ = bytes;
  // A zero-byte request still gets an address (cuMemAlloc refuses 0).
  if (int rc = (*driver)->api().memAlloc(&buffer.ptr_, bytes ? bytes : 16))
    return Status::error(fmt::format("cannot allocate {} bytes on the GPU: {}",
                                     bytes, (*driver)->describe(rc)));
  return buffer;
}

DeviceBuffer::DeviceBuffer(DeviceBuffer &&other) noexcept
    : ptr_(std::exchange(other.ptr_, 0)), bytes_(other.bytes_) {}

DeviceBuffer &DeviceBuffer::operator=(DeviceBuffer &&other) noexcept {
  std::swap(ptr_, other.ptr_);
  std::swap(bytes_, other.bytes_);
  return *this;
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_)
    if (auto driver = Driver::get(); driver.ok())
      (*driver)->api().memFree(ptr_);
}

Status DeviceBuffer::upload(const void *host, size_t bytes) {
  auto driver = Driver::get();
  if (!driver.ok())
    return driver.status();
  if (bytes > bytes_)
    return Status::error("upload larger than the device buffer");
  if (int rc = (*driver)->api().memcpyHtoD(ptr_, host, bytes))
    return Status::error("cuMemcpyHtoD: " + (*driver)->describe(rc));
  return Status::success();
}

Status DeviceBuffer::download(void *host, size_t bytes) const {
  auto driver = Driver::get();
  if (!driver.ok())
    return driver.status();
  if (bytes > bytes_)
    return Status::error("download larger than the device buffer");
  if (int rc = (*driver)->api().memcpyDtoH(host, ptr_, bytes))
    return Status::error("cuMemcpyDtoH: " + (*driver)->describe(rc));
  return Status::success();
}

namespace {

/// A event pair on the default stream, destroyed with the timer.
struct EventTimer {
  const Driver &driver;
  void *start = nullptr, *stop = nullptr;
  explicit EventTimer(const Driver &driver) : driver(driver) {}
  ~EventTimer() {
    if (start)
      driver.api().eventDestroy(start);
    if (stop)
      driver.api().eventDestroy(stop);
  }
  Status create() {
    if (int rc = driver.api().eventCreate(&start, 0))
      return Status::error("cuEventCreate: " + driver.describe(rc));
    if (int rc = driver.api().eventCreate(&stop, 0))
      return Status::error("cuEventCreate: " + driver.describe(rc));
    return Status::success();
  }
};

} // namespace

StatusOr<std::vector<double>> runFromHost(const CudaKernel &kernel,
                                          const AttentionArgs &args, int reps) {
  const KernelSpec &s = kernel.spec();
  HalfKind kind;
  if (!halfKindOf(s.elementType, kind))
    return Status::error("the CUDA backend runs f16 and bf16 kernels only");
  auto driver = Driver::get();
  if (!driver.ok())
    return driver.status();

  // Staged in host memory (rounded, converted, dense), checked there as
  // every backend checks a call (the block mask, inputs and sequence
  // tables are read here; once uploaded, only shapes could be checked).
  std::vector<std::unique_ptr<unsigned char[]>> staging;
  auto staged = StagedCall::stage(
      s, "runFromHost", args,
      [&](const std::string &name, size_t bytes) -> StatusOr<void *> {
        unsigned char *data =
            new (std::nothrow) unsigned char[std::max<size_t>(bytes, 16)]();
        if (!data)
          return Status::error(fmt::format(
              "runFromHost: cannot allocate {} bytes of host memory to stage "
              "{}", bytes, name));
        staging.emplace_back(data);
        return static_cast<void *>(data);
      });
  if (!staged.ok())
    return staged.status();
  std::vector<Sequence> sequences;
  if (Status st = checkCudaArgs(s, staged->args(), Memory::Host, &sequences);
      !st.ok())
    return st;
  std::optional<SequenceTable> table;
  if (takesSequences(s.layout)) {
    appendNewKeys(sequences); // into the staged pools, uploaded below
    table = sequenceTable(sequences);
  }

  std::vector<DeviceBuffer> device;
  std::vector<void *> addresses;
  auto upload = [&](const void *data, size_t bytes) -> StatusOr<void *> {
    auto buffer = DeviceBuffer::alloc(std::max<size_t>(bytes, 4));
    if (!buffer.ok())
      return buffer.status();
    if (bytes)
      if (Status st = buffer->upload(data, bytes); !st.ok())
        return st;
    device.push_back(std::move(*buffer));
    return reinterpret_cast<void *>(static_cast<uintptr_t>(device.back().ptr()));
  };
  for (const StagedBuffer &b : staged->buffers()) {
    auto to = upload(b.data, b.bytes);
    if (!to.ok())
      return to.status();
    addresses.push_back(*to);
  }
  if (table) {
    auto rows = upload(table->rowData.data(), table->rowData.size() * 4);
    if (!rows.ok())
      return rows.status();
    auto pages = upload(table->pageData.data(), table->pageData.size() * 4);
    if (!pages.ok())
      return pages.status();
    table->rows = static_cast<const int32_t *>(*rows);
    table->pages = static_cast<const int32_t *>(*pages);
  }
  const AttentionArgs on = staged->movedTo(addresses);

  EventTimer timer(**driver);
  if (Status st = timer.create(); !st.ok())
    return st;
  const DriverApi &api = (*driver)->api();
  std::vector<double> millis;
  for (int r = -1; r < reps; ++r) { // r = -1: warm-up, untimed
    api.eventRecord(timer.start, nullptr);
    Status st = table ? kernel.launchChecked(on, *table, nullptr)
                      : kernel.launch(on, {});
    if (!st.ok())
      return st;
    api.eventRecord(timer.stop, nullptr);
    if (int rc = api.eventSynchronize(timer.stop))
      return Status::error("the kernel failed: " + (*driver)->describe(rc));
    float ms = 0;
    api.eventElapsedTime(&ms, timer.start, timer.stop);
    if (r >= 0)
      millis.push_back(ms);
  }

  // What the run wrote, back into the staged buffers, then into `args`.
  for (size_t i : staged->written())
    if (Status st = device[i].download(staged->buffers()[i].data,
                                       staged->buffers()[i].bytes);
        !st.ok())
      return st;
  if (Status st = staged->unstage(args); !st.ok())
    return st;
  return millis;
}

} // namespace attnc::cuda
