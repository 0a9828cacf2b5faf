#include "runtime/KernelCache.h"

#include "runtime/AtomicFile.h"
#include "runtime/cuda/Driver.h"
#include "runtime/cuda/Nvrtc.h"
#include "runtime/detail/CpuCompiler.h"

#include "llvm/Support/SHA256.h"
#include "llvm/ADT/StringExtras.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>

#include "runtime/CodegenFingerprint.h" // generated: ATTNC_CODEGEN_FINGERPRINT

#ifndef ATTNC_VERSION
#error "ATTNC_VERSION must be defined by the build"
#endif

namespace attnc {
namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'A', 'T', 'T', 'N', 'C', 'K', 'C', '\n'};
constexpr uint32_t kSchema = 1;
constexpr const char *kSuffix = ".attnc";

std::string sha256Hex(const std::string &data) {
  llvm::SHA256 hasher;
  hasher.update(llvm::StringRef(data));
  return llvm::toHex(hasher.final(), /*LowerCase=*/true);
}

constexpr const char *kCpuKeyPrefix = "attnc-cpu-kernel";
constexpr const char *kCudaKeyPrefix = "attnc-cuda-kernel";

/// Everything the object code depends on, as text; its hash names the file.
std::string keyText(const detail::CpuFrontEnd &frontEnd) {
  return fmt::format("{} schema={} attnc={} codegen={}\n{}\n{}",
                     kCpuKeyPrefix, kSchema, ATTNC_VERSION,
                     ATTNC_CODEGEN_FINGERPRINT, detail::hostTargetId(),
                     frontEnd.canonical());
}

/// Everything a CUBIN depends on: the CUDA C++ (which spells out the
/// resolved spec and schedule), the arch and the NVRTC version.
std::string cudaKeyText(const detail::CudaTranslation &t,
                        const std::string &arch, const cuda::Nvrtc &nvrtc) {
  return fmt::format("{} schema={} attnc={} codegen={}\narch={} nvrtc={}.{}\n{}",
                     kCudaKeyPrefix, kSchema, ATTNC_VERSION,
                     ATTNC_CODEGEN_FINGERPRINT, arch, nvrtc.majorVersion(),
                     nvrtc.minorVersion(), t.source);
}

template <typename T> void put(std::string &out, T value) {
  out.append(reinterpret_cast<const char *>(&value), sizeof(value));
}

/// magic, schema, key, resolved spec, object, then a SHA-256 of all of it.
std::string encodeEntry(const std::string &key, const std::string &spec,
                        const std::string &object) {
  std::string out(kMagic, sizeof(kMagic));
  put(out, kSchema);
  put(out, static_cast<uint32_t>(key.size()));
  out += key;
  put(out, static_cast<uint32_t>(spec.size()));
  out += spec;
  put(out, static_cast<uint64_t>(object.size()));
  out += object;
  llvm::SHA256 hasher;
  hasher.update(llvm::StringRef(out));
  auto digest = hasher.final();
  out.append(reinterpret_cast<const char *>(digest.data()), digest.size());
  return out;
}

struct DecodedEntry {
  std::string key, spec, object;
};

/// Checks every field of an entry; the error says which check failed.
StatusOr<DecodedEntry> decodeEntry(const std::string &bytes) {
  size_t pos = 0;
  auto take = [&](size_t n, const char *what) -> Status {
    if (bytes.size() - pos < n)
      return Status::error(fmt::format("truncated in {}", what));
    return Status::success();
  };
  auto get32 = [&](uint32_t &v, const char *what) {
    Status st = take(4, what);
    if (st.ok())
      std::memcpy(&v, bytes.data() + pos, 4), pos += 4;
    return st;
  };
  if (bytes.size() < sizeof(kMagic) ||
      std::memcmp(bytes.data(), kMagic, sizeof(kMagic)))
    return Status::error("bad magic");
  pos = sizeof(kMagic);
  uint32_t schema = 0, keyLen = 0, specLen = 0;
  uint64_t objectLen = 0;
  if (Status st = get32(schema, "schema"); !st.ok())
    return st;
  if (schema != kSchema)
    return Status::error(fmt::format("schema {} (expected {})", schema, kSchema));
  DecodedEntry e;
  if (Status st = get32(keyLen, "key length"); !st.ok())
    return st;
  if (Status st = take(keyLen, "key"); !st.ok())
    return st;
  e.key = bytes.substr(pos, keyLen), pos += keyLen;
  if (Status st = get32(specLen, "spec length"); !st.ok())
    return st;
  if (Status st = take(specLen, "spec"); !st.ok())
    return st;
  e.spec = bytes.substr(pos, specLen), pos += specLen;
  if (Status st = take(8, "object length"); !st.ok())
    return st;
  std::memcpy(&objectLen, bytes.data() + pos, 8), pos += 8;
  if (bytes.size() - pos != objectLen + 32)
    return Status::error("length mismatch");
  e.object = bytes.substr(pos, objectLen), pos += objectLen;
  llvm::SHA256 hasher;
  hasher.update(llvm::StringRef(bytes.data(), pos));
  auto digest = hasher.final();
  if (std::memcmp(digest.data(), bytes.data() + pos, digest.size()))
    return Status::error("checksum mismatch");
  return e;
}

} // namespace

const char *toString(CacheSource source) {
  switch (source) {
  case CacheSource::Memory:
    return "memory cache hit";
  case CacheSource::Disk:
    return "disk cache hit";
  case CacheSource::Compiled:
    return "compiled";
  }
  return "?";
}

std::string KernelCache::defaultDirectory() {
  if (const char *dir = std::getenv("ATTNC_CACHE_DIR"); dir && *dir)
    return dir;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return (fs::path(xdg) / "attnc").string();
  if (const char *home = std::getenv("HOME"); home && *home)
    return (fs::path(home) / ".cache" / "attnc").string();
  return "";
}

KernelCache &KernelCache::shared() {
  static KernelCache *cache = new KernelCache(); // outlives static users
  return *cache;
}

KernelCache::KernelCache(CacheOptions options)
    : directory_(options.directory.empty() ? defaultDirectory()
                                           : options.directory),
      disk_(options.disk) {
  if (disk_ && directory_.empty())
    disableDisk("no cache directory: set ATTNC_CACHE_DIR or HOME");
}

void KernelCache::disableDisk(const std::string &why) {
  std::call_once(warned_, [&] {
    fmt::print(stderr, "attnc: warning: {}; caching kernels in memory only\n",
               why);
  });
  disk_ = false;
}

std::string KernelCache::directory() const {
  return disk_ ? directory_ : std::string();
}

CacheStats KernelCache::stats() const {
  return {memoryHits_, diskHits_, compiles_, diskWrites_, diskRejects_};
}

StatusOr<std::shared_ptr<const CpuKernel>>
KernelCache::get(const KernelSpec &spec, const CpuCompileOptions &options,
                 CacheSource *from) {
  return get(toMlir(spec), options, from);
}

template <typename Kernel, typename Load>
StatusOr<std::shared_ptr<const Kernel>> KernelCache::memoize(
    std::unordered_map<std::string,
                       std::shared_future<StatusOr<std::shared_ptr<const Kernel>>>>
        &memory,
    const std::string &key, CacheSource *from, Load load) {
  using Result = StatusOr<std::shared_ptr<const Kernel>>;
  std::promise<Result> promise;
  std::shared_future<Result> future;
  bool owner = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = memory.find(key);
    if (it != memory.end()) {
      future = it->second;
    } else {
      future = promise.get_future().share();
      memory.emplace(key, future);
      owner = true;
    }
  }
  if (!owner) {
    Result result = future.get(); // waits while another thread compiles
    if (result.ok()) {
      ++memoryHits_;
      if (from)
        *from = CacheSource::Memory;
    }
    return result;
  }
  CacheSource origin = CacheSource::Compiled;
  Result result = load(origin);
  promise.set_value(result);
  if (!result.ok()) {
    std::lock_guard<std::mutex> lock(mutex_);
    memory.erase(key); // let a later request try again
  } else if (from) {
    *from = origin;
  }
  return result;
}

StatusOr<std::shared_ptr<const CpuKernel>>
KernelCache::get(const std::string &source, const CpuCompileOptions &options,
                 CacheSource *from) {
  // In memory the key is the request itself: no parsing on this path.
  return memoize(memory_, std::to_string(options.vectorWidth) + '\n' + source,
                 from, [&](CacheSource &origin) {
                   return load(source, options, origin);
                 });
}

std::string KernelCache::entryPath(const std::string &name,
                                   const std::string &key) const {
  // <kernel name>-<sha256 of the key>.attnc: readable, and still unique.
  return (fs::path(directory_) / (name + "-" + sha256Hex(key) + kSuffix))
      .string();
}

std::optional<std::pair<KernelSpec, std::string>>
KernelCache::readEntry(const std::string &path, const std::string &key) {
  std::string bytes;
  if (!disk_ || !readFile(path, bytes))
    return std::nullopt;
  StatusOr<DecodedEntry> entry = decodeEntry(bytes);
  if (entry.ok() && entry->key == key)
    if (StatusOr<KernelSpec> spec = parseSerializedSpec(entry->spec); spec.ok())
      return std::make_pair(std::move(*spec), std::move(entry->object));
  ++diskRejects_; // corrupt, foreign or stale: the caller recompiles
  return std::nullopt;
}

void KernelCache::writeEntry(const std::string &path, const std::string &key,
                             const KernelSpec &spec, const std::string &object) {
  if (!disk_)
    return;
  std::error_code ec;
  fs::create_directories(directory_, ec);
  Status written =
      ec ? Status::error(fmt::format("cannot create '{}': {}", directory_,
                                     ec.message()))
         : writeFileAtomically(path, encodeEntry(key, serializeSpec(spec), object));
  if (written.ok())
    ++diskWrites_;
  else
    disableDisk("kernel cache directory is not writable (" + written.message() +
                ")");
}

KernelCache::Result KernelCache::load(const std::string &source,
                                      const CpuCompileOptions &options,
                                      CacheSource &from) {
  auto frontEnd = detail::CpuFrontEnd::run(source, options);
  if (!frontEnd.ok())
    return frontEnd.status();
  std::string key = keyText(**frontEnd);
  std::string path = entryPath((*frontEnd)->spec().name, key);
  if (auto entry = readEntry(path, key)) {
    auto kernel = CpuKernel::load(entry->second, entry->first);
    if (kernel.ok()) {
      ++diskHits_;
      from = CacheSource::Disk;
      return std::shared_ptr<const CpuKernel>(std::move(*kernel));
    }
    ++diskRejects_; // checksummed, yet the loader refused it: recompile
  }
  StatusOr<std::string> object = (*frontEnd)->emitObject();
  if (!object.ok())
    return object.status();
  auto kernel = CpuKernel::load(*object, (*frontEnd)->spec());
  if (!kernel.ok())
    return kernel.status();
  ++compiles_;
  from = CacheSource::Compiled;
  writeEntry(path, key, (*frontEnd)->spec(), *object);
  return std::shared_ptr<const CpuKernel>(std::move(*kernel));
}

StatusOr<cuda::CudaBinary> KernelCache::cudaBinary(const std::string &source,
                                                   const std::string &arch,
                                                   CacheSource *from,
                                                   bool skipDisk) {
  auto translation = detail::translateToCuda(source, arch);
  if (!translation.ok())
    return translation.status();
  auto nvrtc = cuda::Nvrtc::get();
  if (!nvrtc.ok())
    return nvrtc.status();
  cuda::CudaBinary binary;
  binary.arch = arch;
  std::string key = cudaKeyText(*translation, arch, **nvrtc);
  std::string path = entryPath(translation->spec.name, key);
  binary.translation = std::move(*translation);
  if (!skipDisk)
    if (auto entry = readEntry(path, key)) {
      ++diskHits_;
      if (from)
        *from = CacheSource::Disk;
      binary.cubin = std::move(entry->second);
      return binary;
    }
  auto compiled = (*nvrtc)->compile(binary.translation.source,
                                    binary.translation.spec.name + ".cu",
                                    {arch, {}});
  if (!compiled.ok())
    return compiled.status();
  ++compiles_;
  if (from)
    *from = CacheSource::Compiled;
  binary.cubin = std::move(compiled->cubin);
  writeEntry(path, key, binary.translation.spec, binary.cubin);
  return binary;
}

StatusOr<std::shared_ptr<const cuda::CudaKernel>>
KernelCache::getCuda(const std::string &source, int ordinal, CacheSource *from) {
  return memoize(
      cudaMemory_, std::to_string(ordinal) + '\n' + source, from,
      [&](CacheSource &origin)
          -> StatusOr<std::shared_ptr<const cuda::CudaKernel>> {
        auto driver = cuda::Driver::get();
        if (!driver.ok())
          return driver.status();
        if (ordinal < 0 || ordinal >= static_cast<int>((*driver)->devices().size()))
          return Status::error(fmt::format(
              "no CUDA device {} (this machine has {})", ordinal,
              (*driver)->devices().size()));
        const std::string arch = (*driver)->devices()[ordinal].arch();
        auto binary = cudaBinary(source, arch, &origin);
        if (!binary.ok())
          return binary.status();
        auto kernel = cuda::CudaKernel::load(*binary, ordinal);
        if (!kernel.ok() && origin == CacheSource::Disk) {
          // The checksum held, yet the driver refused the CUBIN: recompile.
          ++diskRejects_;
          binary = cudaBinary(source, arch, &origin, /*skipDisk=*/true);
          if (!binary.ok())
            return binary.status();
          kernel = cuda::CudaKernel::load(*binary, ordinal);
        }
        if (!kernel.ok())
          return kernel.status();
        return std::shared_ptr<const cuda::CudaKernel>(std::move(*kernel));
      });
}

StatusOr<std::vector<KernelCache::Entry>> KernelCache::list() const {
  std::vector<Entry> entries;
  std::error_code ec;
  if (!fs::exists(directory_, ec))
    return entries;
  for (const auto &file : fs::directory_iterator(directory_, ec)) {
    if (file.path().extension() != kSuffix)
      continue;
    Entry e;
    e.file = file.path().string();
    std::string bytes;
    if (!readFile(e.file, bytes))
      continue; // removed meanwhile
    e.bytes = bytes.size();
    StatusOr<DecodedEntry> decoded = decodeEntry(bytes);
    StatusOr<KernelSpec> spec =
        decoded.ok() ? parseSerializedSpec(decoded->spec)
                     : StatusOr<KernelSpec>(decoded.status());
    e.valid = spec.ok();
    e.name = spec.ok() ? spec->name : "(invalid: " + spec.status().message() + ")";
    if (e.valid)
      e.target = decoded->key.rfind(kCudaKeyPrefix, 0) == 0 ? "cuda" : "cpu";
    entries.push_back(std::move(e));
  }
  if (ec)
    return Status::error(fmt::format("cannot list '{}': {}", directory_,
                                     ec.message()));
  std::sort(entries.begin(), entries.end(),
            [](const Entry &a, const Entry &b) { return a.file < b.file; });
  return entries;
}

Status KernelCache::clear() {
  std::error_code ec;
  if (!fs::exists(directory_, ec))
    return Status::success();
  std::vector<fs::path> doomed;
  for (const auto &file : fs::directory_iterator(directory_, ec)) {
    std::string name = file.path().filename().string();
    // Entries, and temporary files a killed writer left behind.
    if (file.path().extension() == kSuffix ||
        name.find(std::string(kSuffix) + ".tmp-") != std::string::npos)
      doomed.push_back(file.path());
  }
  for (const fs::path &p : doomed)
    fs::remove(p, ec);
  if (ec)
    return Status::error(fmt::format("cannot clear '{}': {}", directory_,
                                     ec.message()));
  std::lock_guard<std::mutex> lock(mutex_);
  memory_.clear();
  cudaMemory_.clear();
  return Status::success();
}

} // namespace attnc
