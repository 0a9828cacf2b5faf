#include "runtime/cuda/DeviceRun.h"

#include "runtime/Half.h"
#include "runtime/cuda/Driver.h"
#include "runtime/cuda/Params.h"

#include <fmt/format.h>

#include <algorithm>
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

/// The strides of `t`'s elements stored densely in `layout` order (the data
/// pointer is unused).
TensorView denseLike(const TensorView &t, Layout layout) {
  return denseView(nullptr, layout, t.batch(), t.seq(), t.heads(), t.dim());
}

/// The position of element (b, h, s, d) in a dense buffer with `dense`'s
/// strides.
int64_t offsetIn(const TensorView &dense, int64_t b, int64_t h, int64_t s,
                 int64_t d) {
  return b * dense.strides[0] + h * dense.strides[1] + s * dense.strides[2] + d;
}

template <typename F> void forEach(const TensorView &t, F f) {
  for (int64_t b = 0; b < t.batch(); ++b)
    for (int64_t h = 0; h < t.heads(); ++h)
      for (int64_t s = 0; s < t.seq(); ++s)
        for (int64_t d = 0; d < t.dim(); ++d)
          f(b, h, s, d);
}

int64_t elements(const TensorView &t) {
  return t.batch() * t.heads() * t.seq() * t.dim();
}

/// A view of device memory with `dense`'s sizes and strides.
TensorView deviceTensor(const DeviceBuffer &buffer, const TensorView &dense,
                        DType dtype) {
  TensorView d = dense;
  d.data = reinterpret_cast<void *>(static_cast<uintptr_t>(buffer.ptr()));
  d.dtype = dtype;
  return d;
}

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
  if (Status st = checkF32HostViews("runFromHost", args); !st.ok())
    return st;
  // The block mask is read here, in host memory; once uploaded, the launch
  // can check only its shape.
  if (Status st = validateBlockMask(s, args); !st.ok())
    return st;
  auto driver = Driver::get();
  if (!driver.ok())
    return driver.status();

  // Inputs: rounded in place, packed densely, converted, uploaded.
  auto upload = [&](const TensorView &host) -> StatusOr<DeviceBuffer> {
    std::vector<uint16_t> bits(elements(host));
    TensorView dense = denseLike(host, s.layout);
    forEach(host, [&](int64_t b, int64_t h, int64_t q, int64_t d) {
      float &x = host.at(b, h, q, d);
      x = roundToHalf(x, kind);
      bits[offsetIn(dense, b, h, q, d)] = toHalfBits(x, kind);
    });
    auto buffer = DeviceBuffer::alloc(bits.size() * 2);
    if (!buffer.ok())
      return buffer.status();
    if (Status st = buffer->upload(bits.data(), bits.size() * 2); !st.ok())
      return st;
    return buffer;
  };
  auto q = upload(args.q), k = upload(args.k), v = upload(args.v);
  for (auto *b : {&q, &k, &v})
    if (!b->ok())
      return b->status();
  auto o = DeviceBuffer::alloc(elements(args.o) * 2);
  if (!o.ok())
    return o.status();
  const int64_t lseCount = s.lse ? args.o.batch() * args.o.heads() * args.o.seq() : 0;
  auto lse = DeviceBuffer::alloc(lseCount * 4);
  if (!lse.ok())
    return lse.status();
  const DType element = kind == HalfKind::BF16 ? DType::BF16 : DType::F16;
  auto dense = [&](const DeviceBuffer &buffer, const TensorView &t) {
    return deviceTensor(buffer, denseLike(t, s.layout), element);
  };
  AttentionArgs device{dense(*q, args.q), dense(*k, args.k), dense(*v, args.v),
                       dense(*o, args.o), {}};
  TensorView lseDense = lseView(nullptr, args.o.batch(), args.o.heads(), args.o.seq());
  if (s.lse)
    device.lse = deviceTensor(*lse, lseDense, DType::F32);
  // Declared inputs and the block mask: uploaded as they are (4-byte
  // elements, their own strides).
  std::vector<DeviceBuffer> extras;
  auto uploadAsIs = [&](const InputTensor &in) -> StatusOr<InputTensor> {
    size_t bytes = std::max<size_t>(inputBytes(in), 4);
    auto buffer = DeviceBuffer::alloc(bytes);
    if (!buffer.ok())
      return buffer.status();
    if (size_t used = inputBytes(in))
      if (Status st = buffer->upload(in.data, used); !st.ok())
        return st;
    InputTensor copy = in;
    copy.data = reinterpret_cast<void *>(static_cast<uintptr_t>(buffer->ptr()));
    extras.push_back(std::move(*buffer));
    return copy;
  };
  if (Status st = copyInputsAndBlockMask(args, device, uploadAsIs); !st.ok())
    return st;

  EventTimer timer(**driver);
  if (Status st = timer.create(); !st.ok())
    return st;
  const DriverApi &api = (*driver)->api();
  std::vector<double> millis;
  for (int r = -1; r < reps; ++r) { // r = -1: warm-up, untimed
    api.eventRecord(timer.start, nullptr);
    if (Status st = kernel.launch(device, {}); !st.ok())
      return st;
    api.eventRecord(timer.stop, nullptr);
    if (int rc = api.eventSynchronize(timer.stop))
      return Status::error("the kernel failed: " + (*driver)->describe(rc));
    float ms = 0;
    api.eventElapsedTime(&ms, timer.start, timer.stop);
    if (r >= 0)
      millis.push_back(ms);
  }

  // Outputs back into the caller's views.
  std::vector<uint16_t> outBits(elements(args.o));
  if (Status st = o->download(outBits.data(), outBits.size() * 2); !st.ok())
    return st;
  TensorView oDense = denseLike(args.o, s.layout);
  forEach(args.o, [&](int64_t b, int64_t h, int64_t q, int64_t d) {
    args.o.at(b, h, q, d) = fromHalfBits(outBits[offsetIn(oDense, b, h, q, d)], kind);
  });
  if (s.lse) {
    std::vector<float> lseHost(lseCount);
    if (Status st = lse->download(lseHost.data(), lseHost.size() * 4); !st.ok())
      return st;
    forEach(args.lse, [&](int64_t b, int64_t h, int64_t q, int64_t d) {
      args.lse.at(b, h, q, d) = lseHost[offsetIn(lseDense, b, h, q, d)];
    });
  }
  return millis;
}

} // namespace attnc::cuda
