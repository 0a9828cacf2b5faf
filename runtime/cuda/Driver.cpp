#include "runtime/cuda/Driver.h"

#include <fmt/format.h>

#include <dlfcn.h>
#include <mutex>

namespace attnc::cuda {

StatusOr<const Driver *> Driver::get() {
  static std::once_flag once;
  static StatusOr<const Driver *> loaded = Status::error("not loaded");
  std::call_once(once, [] {
    void *handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      loaded = Status::error("no CUDA driver: libcuda.so.1 was not found (this "
                             "machine has no NVIDIA GPU driver); use the cpu "
                             "target");
      return;
    }
    // CUDA 12+: cuGetProcAddress_v2(symbol, pfn, cudaVersion, flags, status).
    using GetProc = int (*)(const char *, void **, int, unsigned long long,
                            int *);
    auto getProc =
        reinterpret_cast<GetProc>(dlsym(handle, "cuGetProcAddress_v2"));
    if (!getProc) {
      loaded = Status::error("the CUDA driver is too old: it has no "
                             "cuGetProcAddress_v2 (CUDA 12 or newer needed)");
      return;
    }
    auto resolve = [&](const char *name, auto &fn) {
      void *p = nullptr;
      int status = 0;
      if (getProc(name, &p, 12000, 0, &status) || !p)
        return false;
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(p);
      return true;
    };
    int (*init)(unsigned) = nullptr;
    int (*count)(int *) = nullptr;
    int (*deviceGet)(int *, int) = nullptr;
    int (*getName)(char *, int, int) = nullptr;
    int (*getAttribute)(int *, int, int) = nullptr;
    if (!resolve("cuInit", init) || !resolve("cuDeviceGetCount", count) ||
        !resolve("cuDeviceGet", deviceGet) ||
        !resolve("cuDeviceGetName", getName) ||
        !resolve("cuDeviceGetAttribute", getAttribute)) {
      loaded = Status::error("the CUDA driver lacks an expected entry point");
      return;
    }
    if (int rc = init(0)) {
      loaded = Status::error(fmt::format(
          "cuInit failed with CUDA error {} (is a GPU visible?)", rc));
      return;
    }
    int n = 0;
    count(&n);
    auto *driver = new Driver; // lives for the process, like the library
    DriverApi &a = driver->api_;
    bool all = resolve("cuDeviceGet", a.deviceGet) &&
               resolve("cuDevicePrimaryCtxRetain", a.primaryCtxRetain) &&
               resolve("cuCtxSetCurrent", a.ctxSetCurrent) &&
               resolve("cuModuleLoadData", a.moduleLoadData) &&
               resolve("cuModuleGetFunction", a.moduleGetFunction) &&
               resolve("cuModuleUnload", a.moduleUnload) &&
               resolve("cuFuncSetAttribute", a.funcSetAttribute) &&
               resolve("cuLaunchKernel", a.launchKernel) &&
               resolve("cuMemAlloc", a.memAlloc) &&
               resolve("cuMemFree", a.memFree) &&
               resolve("cuMemcpyHtoD", a.memcpyHtoD) &&
               resolve("cuMemcpyDtoH", a.memcpyDtoH) &&
               resolve("cuCtxSynchronize", a.ctxSynchronize) &&
               resolve("cuEventCreate", a.eventCreate) &&
               resolve("cuEventRecord", a.eventRecord) &&
               resolve("cuEventSynchronize", a.eventSynchronize) &&
               resolve("cuEventElapsedTime", a.eventElapsedTime) &&
               resolve("cuEventDestroy", a.eventDestroy) &&
               resolve("cuGetErrorString", a.getErrorString);
    if (!all) {
      loaded = Status::error("the CUDA driver lacks an entry point attnc uses");
      return;
    }
    for (int i = 0; i < n; ++i) {
      Device d;
      int device = 0;
      deviceGet(&device, i);
      char name[256] = {};
      getName(name, sizeof name, device);
      d.ordinal = i;
      d.name = name;
      getAttribute(&d.major, /*COMPUTE_CAPABILITY_MAJOR=*/75, device);
      getAttribute(&d.minor, /*COMPUTE_CAPABILITY_MINOR=*/76, device);
      driver->devices_.push_back(d);
    }
    loaded = static_cast<const Driver *>(driver);
  });
  return loaded;
}

std::string Driver::describe(int result) const {
  const char *text = nullptr;
  if (api_.getErrorString && api_.getErrorString(result, &text) == 0 && text)
    return fmt::format("CUDA error {} ({})", result, text);
  return fmt::format("CUDA error {}", result);
}

Status Driver::use(int ordinal) const {
  if (ordinal < 0 || ordinal >= static_cast<int>(devices_.size()))
    return Status::error(fmt::format("no CUDA device {} (this machine has {})",
                                     ordinal, devices_.size()));
  int device = 0;
  void *context = nullptr;
  if (int rc = api_.deviceGet(&device, ordinal))
    return Status::error("cuDeviceGet: " + describe(rc));
  if (int rc = api_.primaryCtxRetain(&context, device))
    return Status::error("cuDevicePrimaryCtxRetain: " + describe(rc));
  if (int rc = api_.ctxSetCurrent(context))
    return Status::error("cuCtxSetCurrent: " + describe(rc));
  return Status::success();
}

} // namespace attnc::cuda
