#include "runtime/cuda/Nvrtc.h"

#include "compiler/Target/CUDA/TargetHeader.h"

#include <fmt/format.h>

#include <cstdlib>
#include <dlfcn.h>
#include <filesystem>
#include <mutex>
#include <regex>

namespace attnc::cuda {
namespace fs = std::filesystem;

// The NVRTC C ABI, declared here so that no CUDA header is needed to build.
struct Nvrtc::Api {
  using Program = void *;
  int (*version)(int *, int *);
  int (*createProgram)(Program *, const char *, const char *, int,
                       const char *const *, const char *const *);
  int (*destroyProgram)(Program *);
  int (*compileProgram)(Program, int, const char *const *);
  int (*getPTXSize)(Program, size_t *);
  int (*getPTX)(Program, char *);
  int (*getCUBINSize)(Program, size_t *);
  int (*getCUBIN)(Program, char *);
  int (*getProgramLogSize)(Program, size_t *);
  int (*getProgramLog)(Program, char *);
  const char *(*getErrorString)(int);
};

PtxasReport parsePtxasReport(const std::string &log) {
  PtxasReport r;
  std::smatch m;
  if (std::regex_search(log, m, std::regex(R"(Used (\d+) registers)"))) {
    r.found = true;
    r.registers = std::stoi(m[1]);
  }
  if (std::regex_search(log, m,
                        std::regex(R"((\d+) bytes spill stores, (\d+) bytes spill loads)"))) {
    r.spillStoreBytes = std::stoll(m[1]);
    r.spillLoadBytes = std::stoll(m[2]);
  }
  if (std::regex_search(log, m, std::regex(R"((\d+) bytes smem)")))
    r.sharedBytes = std::stoll(m[1]);
  return r;
}

StatusOr<const Nvrtc *> Nvrtc::get() {
  static std::once_flag once;
  static StatusOr<const Nvrtc *> loaded = Status::error("not loaded");
  std::call_once(once, [] {
    std::vector<std::string> candidates;
    if (const char *env = std::getenv("ATTNC_NVRTC_LIBRARY"))
      candidates.push_back(env);
    for (const char *name : {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"})
      candidates.push_back(name);
    std::vector<std::string> homes;
    if (const char *home = std::getenv("CUDA_HOME"))
      homes.push_back(home);
    homes.push_back("/usr/local/cuda");
    for (const std::string &home : homes)
      candidates.push_back(home + "/lib64/libnvrtc.so");
    void *handle = nullptr;
    std::string tried;
    for (const std::string &c : candidates) {
      if ((handle = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL)))
        break;
      tried += "\n  " + c;
    }
    if (!handle) {
      loaded = Status::error("NVRTC not found (install the CUDA toolkit or "
                             "set ATTNC_NVRTC_LIBRARY); tried:" + tried);
      return;
    }
    auto *api = new Api;
    bool ok = true;
    auto sym = [&](auto &fn, const char *name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(handle, name));
      ok &= fn != nullptr;
    };
    sym(api->version, "nvrtcVersion");
    sym(api->createProgram, "nvrtcCreateProgram");
    sym(api->destroyProgram, "nvrtcDestroyProgram");
    sym(api->compileProgram, "nvrtcCompileProgram");
    sym(api->getPTXSize, "nvrtcGetPTXSize");
    sym(api->getPTX, "nvrtcGetPTX");
    sym(api->getCUBINSize, "nvrtcGetCUBINSize");
    sym(api->getCUBIN, "nvrtcGetCUBIN");
    sym(api->getProgramLogSize, "nvrtcGetProgramLogSize");
    sym(api->getProgramLog, "nvrtcGetProgramLog");
    sym(api->getErrorString, "nvrtcGetErrorString");
    if (!ok) {
      loaded = Status::error("the NVRTC library lacks an expected entry point");
      return;
    }
    auto *nvrtc = new Nvrtc; // lives for the process, like the library
    nvrtc->api_ = api;
    api->version(&nvrtc->major_, &nvrtc->minor_);
    // The toolkit's include directory: beside the library's lib64.
    Dl_info info{};
    std::vector<fs::path> includes;
    if (dladdr(reinterpret_cast<void *>(api->version), &info) && info.dli_fname)
      includes.push_back(fs::weakly_canonical(fs::path(info.dli_fname))
                             .parent_path()
                             .parent_path() /
                         "include");
    for (const std::string &home : homes)
      includes.push_back(fs::path(home) / "include");
    for (const fs::path &dir : includes)
      if (fs::exists(dir / "cuda_fp16.h")) {
        nvrtc->includeDir_ = dir.string();
        break;
      }
    loaded = static_cast<const Nvrtc *>(nvrtc);
  });
  return loaded;
}

StatusOr<NvrtcOutput> Nvrtc::compile(const std::string &source,
                                     const std::string &name,
                                     const NvrtcOptions &options) const {
  Api::Program program = nullptr;
  // Generated kernels include their target prelude by name; NVRTC gets the
  // GPU version from memory.
  const char *headers[] = {mlir::attn::cudaGpuTargetHeader()};
  const char *headerNames[] = {mlir::attn::kCudaTargetHeaderName};
  if (int rc = api_->createProgram(&program, source.c_str(), name.c_str(), 1,
                                   headers, headerNames))
    return Status::error(fmt::format("nvrtcCreateProgram failed: {}",
                                     api_->getErrorString(rc)));
  std::vector<std::string> args = {"-arch=" + options.arch, "-Xptxas=-v",
                                   "-std=c++17", "-default-device"};
  if (!includeDir_.empty())
    args.push_back("-I" + includeDir_);
  args.insert(args.end(), options.extra.begin(), options.extra.end());
  std::vector<const char *> argv;
  for (const std::string &a : args)
    argv.push_back(a.c_str());
  int rc = api_->compileProgram(program, static_cast<int>(argv.size()),
                                argv.data());
  NvrtcOutput out;
  size_t size = 0;
  api_->getProgramLogSize(program, &size);
  out.log.resize(size);
  if (size)
    api_->getProgramLog(program, out.log.data());
  while (!out.log.empty() && (out.log.back() == '\0' || out.log.back() == '\n'))
    out.log.pop_back();
  if (rc) {
    api_->destroyProgram(&program);
    return Status::error(fmt::format("NVRTC could not compile {} for {}: {}\n{}",
                                     name, options.arch,
                                     api_->getErrorString(rc), out.log));
  }
  api_->getPTXSize(program, &size);
  out.ptx.resize(size);
  api_->getPTX(program, out.ptx.data());
  api_->getCUBINSize(program, &size);
  out.cubin.resize(size);
  api_->getCUBIN(program, out.cubin.data());
  api_->destroyProgram(&program);
  while (!out.ptx.empty() && out.ptx.back() == '\0')
    out.ptx.pop_back();
  out.ptxas = parsePtxasReport(out.log);
  return out;
}

} // namespace attnc::cuda
