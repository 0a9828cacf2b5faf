#include "runtime/KernelCache.h"

#include "runtime/Files.h"

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

namespace attnc {
namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'A', 'T', 'T', 'N', 'C', 'K', 'C', '\n'};
constexpr uint32_t kSchema = 2;
constexpr const char *kSuffix = ".attnc";

std::string sha256Hex(const std::string &data) {
  llvm::SHA256 hasher;
  hasher.update(llvm::StringRef(data));
  return llvm::toHex(hasher.final(), /*LowerCase=*/true);
}

template <typename T> void put(std::string &out, T value) {
  out.append(reinterpret_cast<const char *>(&value), sizeof(value));
}

/// magic, schema, key, about (the target and name, then the resolved op),
/// payload, then a SHA-256 of all of it.
std::string encodeEntry(const std::string &key, const std::string &about,
                        const std::string &object) {
  std::string out(kMagic, sizeof(kMagic));
  put(out, kSchema);
  put(out, static_cast<uint32_t>(key.size()));
  out += key;
  put(out, static_cast<uint32_t>(about.size()));
  out += about;
  put(out, static_cast<uint64_t>(object.size()));
  out += object;
  llvm::SHA256 hasher;
  hasher.update(llvm::StringRef(out));
  auto digest = hasher.final();
  out.append(reinterpret_cast<const char *>(digest.data()), digest.size());
  return out;
}

struct DecodedEntry {
  std::string key, about, object;
};

/// The value of `field=` on its own line in an entry's about text.
std::string aboutField(const std::string &about, const std::string &field) {
  std::string prefix = field + "=";
  size_t pos = 0;
  while (pos < about.size()) {
    size_t end = about.find('\n', pos);
    if (end == std::string::npos)
      end = about.size();
    if (about.compare(pos, prefix.size(), prefix) == 0)
      return about.substr(pos + prefix.size(), end - pos - prefix.size());
    pos = end + 1;
  }
  return "";
}

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
  uint32_t schema = 0, keyLen = 0, aboutLen = 0;
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
  if (Status st = get32(aboutLen, "about length"); !st.ok())
    return st;
  if (Status st = take(aboutLen, "about"); !st.ok())
    return st;
  e.about = bytes.substr(pos, aboutLen), pos += aboutLen;
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

Status KernelCache::verifyEntry(const std::string &bytes) {
  StatusOr<DecodedEntry> entry = decodeEntry(bytes);
  return entry.ok() ? Status::success() : entry.status();
}

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

StatusOr<std::shared_ptr<const CompiledKernel>>
KernelCache::get(const KernelIr &ir, const Backend &backend, CacheSource *from) {
  // In memory the key is the request itself: no parsing on this path.
  const std::string key = backend.id() + '\n' + ir.text();
  std::promise<Result> promise;
  std::shared_future<Result> future;
  bool owner = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = memory_.find(key);
    if (it != memory_.end()) {
      future = it->second;
    } else {
      future = promise.get_future().share();
      memory_.emplace(key, future);
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
  Result result = load(ir, backend, origin);
  promise.set_value(result);
  if (!result.ok()) {
    std::lock_guard<std::mutex> lock(mutex_);
    memory_.erase(key); // let a later request try again
  } else if (from) {
    *from = origin;
  }
  return result;
}

std::string KernelCache::entryPath(const std::string &name,
                                   const std::string &key) const {
  // <kernel name>-<sha256 of the key>.attnc: readable, and still unique.
  return (fs::path(directory_) / (name + "-" + sha256Hex(key) + kSuffix))
      .string();
}

std::optional<std::string> KernelCache::readEntry(const std::string &path,
                                                  const std::string &key) {
  if (!disk_ || !pathExists(path))
    return std::nullopt;
  StatusOr<std::string> bytes = readRegularFile(path, kMaxCacheEntryBytes);
  StatusOr<DecodedEntry> entry =
      bytes.ok() ? decodeEntry(*bytes) : StatusOr<DecodedEntry>(bytes.status());
  if (entry.ok() && entry->key == key)
    return std::move(entry->object);
  ++diskRejects_; // corrupt, foreign or stale: the caller recompiles
  return std::nullopt;
}

void KernelCache::writeEntry(const std::string &path,
                             const Translation &translation, const char *target,
                             const std::string &object) {
  if (!disk_)
    return;
  std::error_code ec;
  fs::create_directories(directory_, ec);
  std::string about = fmt::format("target={}\nname={}\n{}", target,
                                  translation.spec().name,
                                  translation.resolvedText());
  Status written =
      ec ? Status::error(fmt::format("cannot create '{}': {}", directory_,
                                     ec.message()))
         : replaceFileAtomically(path, encodeEntry(translation.key(), about, object));
  if (written.ok())
    ++diskWrites_;
  else
    disableDisk("kernel cache directory is not writable (" + written.message() +
                ")");
}

StatusOr<std::string> KernelCache::bytes(Translation &translation,
                                         const Backend &backend,
                                         CacheSource *from, bool skipDisk) {
  const bool disk = backend.storesOnDisk();
  // The entry's name hashes the whole key: only for backends that store.
  const std::string path =
      disk ? entryPath(translation.spec().name, translation.key()) : "";
  if (!skipDisk && disk)
    if (auto entry = readEntry(path, translation.key())) {
      ++diskHits_;
      if (from)
        *from = CacheSource::Disk;
      return std::move(*entry);
    }
  StatusOr<std::string> compiled = translation.compile();
  if (!compiled.ok())
    return compiled.status();
  ++compiles_;
  if (from)
    *from = CacheSource::Compiled;
  if (disk)
    writeEntry(path, translation, backend.target(), *compiled);
  return compiled;
}

KernelCache::Result KernelCache::load(const KernelIr &ir, const Backend &backend,
                                      CacheSource &from) {
  auto translation = backend.translate(ir);
  if (!translation.ok())
    return translation.status();
  StatusOr<std::string> code = bytes(**translation, backend, &from);
  if (!code.ok())
    return code.status();
  Result kernel = backend.load(**translation, *code);
  if (!kernel.ok() && from == CacheSource::Disk) {
    // The checksum held, yet the backend refused the bytes: recompile.
    ++diskRejects_;
    code = bytes(**translation, backend, &from, /*skipDisk=*/true);
    if (!code.ok())
      return code.status();
    kernel = backend.load(**translation, *code);
  }
  return kernel;
}

StatusOr<std::vector<KernelCache::Entry>> KernelCache::list() const {
  std::vector<Entry> entries;
  std::error_code ec;
  if (!fs::exists(directory_, ec))
    return entries;
  // increment(ec), not a range-for: a failing step must not throw.
  for (fs::directory_iterator it(directory_, ec), end; !ec && it != end;
       it.increment(ec)) {
    const fs::path &file = it->path();
    if (file.extension() != kSuffix)
      continue;
    Entry e;
    e.file = file.string();
    if (!pathExists(e.file))
      continue; // removed meanwhile
    StatusOr<std::string> bytes = readRegularFile(e.file, kMaxCacheEntryBytes);
    e.bytes = bytes.ok() ? bytes->size() : 0;
    StatusOr<DecodedEntry> decoded =
        bytes.ok() ? decodeEntry(*bytes) : StatusOr<DecodedEntry>(bytes.status());
    e.valid = decoded.ok();
    e.name = decoded.ok() ? aboutField(decoded->about, "name")
                          : "(invalid: " + decoded.status().message() + ")";
    if (e.valid)
      e.target = aboutField(decoded->about, "target");
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
  for (fs::directory_iterator it(directory_, ec), end; !ec && it != end;
       it.increment(ec)) {
    const fs::path &file = it->path();
    std::string name = file.filename().string();
    // Entries, and temporary files a killed writer left behind; only
    // regular files and links (a directory of that name is not ours).
    std::error_code typeEc;
    fs::file_status status = fs::symlink_status(file, typeEc);
    bool ours = fs::is_regular_file(status) || fs::is_symlink(status);
    if (ours && (file.extension() == kSuffix ||
                 name.find(std::string(kSuffix) + ".tmp-") != std::string::npos))
      doomed.push_back(file);
  }
  for (const fs::path &p : doomed)
    fs::remove(p, ec);
  if (ec)
    return Status::error(fmt::format("cannot clear '{}': {}", directory_,
                                     ec.message()));
  std::lock_guard<std::mutex> lock(mutex_);
  memory_.clear();
  return Status::success();
}

} // namespace attnc
