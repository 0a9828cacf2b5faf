#include "runtime/cuda/DeviceFunction.h"

#include "runtime/cuda/Driver.h"
#include "runtime/cuda/Nvrtc.h"

#include <fmt/format.h>

#include <string>

namespace attnc::cuda {

namespace {
constexpr int kMaxDynamicSharedMemoryAttribute = 8; // CU_FUNC_ATTRIBUTE_...
} // namespace

StatusOr<std::shared_ptr<const DeviceFunction>>
DeviceFunction::load(const std::string &source, const std::string &entry,
                     int64_t sharedBytes, int ordinal) {
  auto driver = Driver::get();
  if (!driver.ok())
    return driver.status();
  // Checks the ordinal ("no CUDA device N ...") and makes its context current.
  if (Status st = (*driver)->use(ordinal); !st.ok())
    return st;
  auto nvrtc = Nvrtc::get();
  if (!nvrtc.ok())
    return nvrtc.status();
  const std::string arch = (*driver)->devices()[ordinal].arch();
  auto out = (*nvrtc)->compile(source, entry + ".cu", {arch, {}});
  if (!out.ok())
    return out.status();
  const DriverApi &api = (*driver)->api();
  std::shared_ptr<DeviceFunction> f(new DeviceFunction);
  f->ordinal_ = ordinal;
  f->sharedBytes_ = sharedBytes;
  if (int rc = api.moduleLoadData(&f->module_, out->cubin.data()))
    return Status::error("cuModuleLoadData: " + (*driver)->describe(rc));
  if (int rc = api.moduleGetFunction(&f->function_, f->module_, entry.c_str()))
    return Status::error("cuModuleGetFunction: " + (*driver)->describe(rc));
  if (int rc = api.funcSetAttribute(f->function_, kMaxDynamicSharedMemoryAttribute,
                                    static_cast<int>(sharedBytes)))
    return Status::error(fmt::format("cannot opt in to {} bytes of shared memory: {}",
                                     sharedBytes, (*driver)->describe(rc)));
  return std::shared_ptr<const DeviceFunction>(f);
}

Status DeviceFunction::launch(const std::array<unsigned, 3> &grid, unsigned threads,
                              const void *params, size_t bytes, void *stream) const {
  if (grid[0] == 0 || grid[1] == 0 || grid[2] == 0)
    return Status::success();
  auto driver = Driver::get();
  if (!driver.ok())
    return driver.status();
  if (Status st = (*driver)->use(ordinal_); !st.ok())
    return st;
  std::string copy(static_cast<const char *>(params), bytes);
  void *args[] = {copy.data()};
  if (int rc = (*driver)->api().launchKernel(function_, grid[0], grid[1], grid[2],
                                             threads, 1, 1,
                                             static_cast<unsigned>(sharedBytes_),
                                             stream, args, nullptr))
    return Status::error("cuLaunchKernel: " + (*driver)->describe(rc));
  return Status::success();
}

DeviceFunction::~DeviceFunction() {
  if (!module_)
    return;
  if (auto driver = Driver::get(); driver.ok())
    (void)(*driver)->api().moduleUnload(module_);
}

} // namespace attnc::cuda
