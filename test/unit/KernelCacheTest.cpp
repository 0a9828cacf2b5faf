// The kernel cache never serves a stale or corrupt kernel: every damaged,
// foreign or outdated entry is a miss that recompiles and rewrites; a
// kernel is compiled once however many threads ask; processes share a
// directory safely; an unwritable directory degrades to memory only.
#include "TestUtil.h"

#include "runtime/KernelCache.h"
#include "runtime/Reference.h"
#include "runtime/cuda/CudaKernel.h"
#include "runtime/cuda/Driver.h"
#include "runtime/cuda/Nvrtc.h"

#include <gtest/gtest.h>
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SHA256.h"

#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace attnc;
using attnc::test::Buffer;
namespace fs = std::filesystem;

namespace {

KernelIr cacheSpec(int variant = 0) {
  KernelRequest s;
  s.name = "cached" + std::to_string(variant);
  s.qHeads = 4;
  s.kvHeads = 2;
  s.dQk = 32 + 8 * variant;
  s.mask = MaskKind::Causal;
  s.alignment = Alignment::BottomRight;
  s.schedule.threads = 1;
  return attnc::test::irOf(s);
}

const CpuBackend kCpu;

/// `entry` with the key byte at `at` changed to `c` and the checksum
/// recomputed: a well-formed entry whose only fault is being for another
/// key (as after a hash collision, or a directory copied between machines).
std::string resealed(const std::string &entry, size_t at, char c) {
  std::string out = entry.substr(0, entry.size() - 32);
  out[at] = c;
  llvm::SHA256 hasher;
  hasher.update(llvm::StringRef(out));
  auto digest = hasher.final();
  out.append(reinterpret_cast<const char *>(digest.data()), digest.size());
  return out;
}

/// A fresh, empty cache directory per test.
class KernelCacheTest : public testing::Test {
protected:
  void SetUp() override {
    dir = fs::path(testing::TempDir()) /
          ("attnc-cache-" + std::to_string(getpid()) + "-" +
           testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  KernelCache makeCache() const { return KernelCache({dir.string(), true}); }
  fs::path onlyEntry() const {
    std::vector<fs::path> files;
    for (const auto &f : fs::directory_iterator(dir))
      files.push_back(f.path());
    EXPECT_EQ(files.size(), 1u);
    return files.empty() ? fs::path() : files.front();
  }
  fs::path dir;
};

/// Runs `kernel` on fresh inputs and checks it against the reference.
::testing::AssertionResult computesCorrectly(const CpuKernel &kernel) {
  std::mt19937_64 rng(attnc::test::testSeed());
  const KernelSpec &s = kernel.spec();
  Buffer q(s.layout, 1, 37, s.qHeads, s.dQk, false, rng);
  Buffer k(s.layout, 1, 50, s.kvHeads, s.dQk, false, rng);
  Buffer v(s.layout, 1, 50, s.kvHeads, s.dV, false, rng);
  Buffer o(s.layout, 1, 37, s.qHeads, s.dV, false, rng);
  AttentionArgs args{q.view, k.view, v.view, o.view, {}};
  if (Status st = kernel.run(args); !st.ok())
    return ::testing::AssertionFailure() << st.message();
  Comparison c = compareWithReference(s, args);
  if (!c.passed())
    return ::testing::AssertionFailure() << "error " << c.maxError;
  return ::testing::AssertionSuccess();
}

TEST_F(KernelCacheTest, ColdCompileThenMemoryThenDiskInAFreshCache) {
  KernelCache first = makeCache();
  CacheSource from;
  auto a = first.get(cacheSpec(), kCpu, &from);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(from, CacheSource::Compiled);
  auto b = first.get(cacheSpec(), kCpu, &from);
  EXPECT_EQ(from, CacheSource::Memory);
  EXPECT_EQ(a->get(), b->get()); // the same kernel object
  EXPECT_EQ(first.stats().compiles, 1u);
  EXPECT_EQ(first.stats().diskWrites, 1u);

  KernelCache second = makeCache(); // as a new process would
  auto c = second.get(cacheSpec(), kCpu, &from);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(from, CacheSource::Disk);
  EXPECT_EQ(second.stats().compiles, 0u);
  EXPECT_EQ((*c)->object(), (*a)->object());
  EXPECT_EQ((*c)->spec().name, (*a)->spec().name);
  EXPECT_EQ((*c)->spec().blockN, (*a)->spec().blockN);
  EXPECT_TRUE(computesCorrectly(**c));

  // A different spec is a different entry.
  ASSERT_TRUE(second.get(cacheSpec(1), kCpu, &from).ok());
  EXPECT_EQ(from, CacheSource::Compiled);
  auto entries = second.list();
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_TRUE((*entries)[0].valid && (*entries)[1].valid);
}

TEST_F(KernelCacheTest, DamagedOrForeignEntriesAreMisses) {
  std::string good;
  {
    KernelCache cache = makeCache();
    ASSERT_TRUE(cache.get(cacheSpec(), kCpu).ok());
    std::ifstream in(onlyEntry(), std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(good.size(), 1000u);
  // The key names the code generator's build, not just the version.
  size_t fp = good.find(" codegen=");
  ASSERT_NE(fp, std::string::npos) << "no code generator fingerprint in the key";
  EXPECT_EQ(good.substr(fp + 9, 64).find_first_not_of("0123456789abcdef"),
            std::string::npos);
  auto flip = [&](size_t at) {
    std::string s = good;
    s[at] ^= 0x10;
    return s;
  };
  // A well-formed entry with a valid checksum, written for another CPU: only
  // the echoed key tells it apart (as after a hash collision or a cache
  // directory copied between machines).
  size_t keyAt = good.find("cpu=");
  ASSERT_NE(keyAt, std::string::npos);
  std::string otherKey = resealed(good, keyAt + 4, good[keyAt + 4] ^ 1);
  std::string otherBuild =
      resealed(good, fp + 9, good[fp + 9] == 'a' ? 'b' : 'a');
  std::string wrongSchema = good;
  wrongSchema[8] = 7; // schema field
  const std::pair<const char *, std::string> cases[] = {
      {"empty", ""},
      {"truncated header", good.substr(0, 20)},
      {"truncated object", good.substr(0, good.size() / 2)},
      {"missing checksum", good.substr(0, good.size() - 32)},
      {"bit flip in the object", flip(good.size() - 100)},
      {"bit flip in the key", flip(keyAt + 10)},
      {"bit flip in the checksum", flip(good.size() - 1)},
      {"wrong schema version", wrongSchema},
      {"another machine's key", otherKey},
      {"another build's code generator", otherBuild},
      {"not an entry", "hello, world"},
  };
  for (const auto &[what, bytes] : cases) {
    std::ofstream(onlyEntry(), std::ios::binary | std::ios::trunc) << bytes;
    KernelCache cache = makeCache();
    CacheSource from;
    auto kernel = cache.get(cacheSpec(), kCpu, &from);
    ASSERT_TRUE(kernel.ok()) << what << ": " << kernel.status().message();
    EXPECT_EQ(from, CacheSource::Compiled) << what;
    EXPECT_EQ(cache.stats().diskRejects, 1u) << what;
    EXPECT_TRUE(computesCorrectly(**kernel)) << what;
    // The entry was rewritten whole: a new cache now hits it.
    KernelCache after = makeCache();
    ASSERT_TRUE(after.get(cacheSpec(), kCpu, &from).ok());
    EXPECT_EQ(from, CacheSource::Disk) << what;
  }
}

TEST_F(KernelCacheTest, SixtyFourThreadsCompileOnce) {
  KernelCache cache = makeCache();
  std::vector<std::shared_ptr<const CpuKernel>> kernels(64);
  std::vector<std::thread> threads;
  for (int t = 0; t < 64; ++t)
    threads.emplace_back([&, t] {
      auto k = cache.get(cacheSpec(), kCpu);
      if (k.ok())
        kernels[t] = *k;
    });
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(cache.stats().compiles, 1u);
  EXPECT_EQ(cache.stats().memoryHits, 63u);
  for (const auto &k : kernels)
    ASSERT_EQ(k.get(), kernels[0].get());
  EXPECT_TRUE(computesCorrectly(*kernels[0]));
}

TEST_F(KernelCacheTest, TwoProcessesShareOneDirectory) {
  // Each process repeatedly opens a fresh cache on the shared directory,
  // gets one of three kernels, checks it, and sometimes deletes entries
  // under the other's feet.
  auto hammer = [&](int seed) {
    for (int i = 0; i < 12; ++i) {
      KernelCache cache = makeCache();
      auto kernel = cache.get(cacheSpec((i + seed) % 3), kCpu);
      if (!kernel.ok() || !computesCorrectly(**kernel))
        return 1;
      if ((i + seed) % 5 == 0) {
        std::error_code ec;
        for (const auto &f : fs::directory_iterator(dir, ec))
          fs::remove(f.path(), ec);
      }
    }
    return 0;
  };
  pid_t children[2];
  for (int c = 0; c < 2; ++c) {
    children[c] = fork();
    ASSERT_GE(children[c], 0);
    if (children[c] == 0)
      _exit(hammer(c));
  }
  for (pid_t child : children) {
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto entries = makeCache().list();
  ASSERT_TRUE(entries.ok());
  for (const KernelCache::Entry &e : *entries)
    EXPECT_TRUE(e.valid) << e.file; // never a partial entry
}

TEST_F(KernelCacheTest, UnwritableDirectoryFallsBackToMemory) {
  testing::internal::CaptureStderr();
  KernelCache cache({"/dev/null/attnc-cache", true});
  CacheSource from;
  auto a = cache.get(cacheSpec(), kCpu, &from);
  auto b = cache.get(cacheSpec(1), kCpu, &from);
  std::string err = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(computesCorrectly(**a));
  EXPECT_EQ(cache.directory(), "");
  EXPECT_NE(err.find("attnc: warning: kernel cache directory is not writable "
                     "(cannot create '/dev/null/attnc-cache'"),
            std::string::npos)
      << err;
  EXPECT_EQ(err.find("warning", err.find("warning") + 1), std::string::npos)
      << "warns once: " << err;
  ASSERT_TRUE(cache.get(cacheSpec(), kCpu, &from).ok());
  EXPECT_EQ(from, CacheSource::Memory);
}

TEST_F(KernelCacheTest, InvalidSpecsAreErrorsNotEntries) {
  KernelCache cache = makeCache();
  // A rule the CPU backend adds (the op alone is valid).
  auto ir = KernelIr::parse("attn.kernel @k attributes {q_heads = 6, "
                            "d_qk = 64, element_type = f32, "
                            "variant = #attn.variant<linear>}");
  ASSERT_TRUE(ir.ok()) << ir.status().message();
  auto bad = cache.get(*ir, kCpu);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(
                "is variant linear: the cpu backend compiles softmax attention; run linear attention with LinearKernel"),
            std::string::npos)
      << bad.status().message();
  EXPECT_FALSE(fs::exists(dir) && !fs::is_empty(dir));
}

TEST(KernelCacheDefaults, DirectoryFollowsTheEnvironment) {
  std::string saved = std::getenv("ATTNC_CACHE_DIR") ? std::getenv("ATTNC_CACHE_DIR") : "";
  setenv("ATTNC_CACHE_DIR", "/tmp/attnc-x", 1);
  EXPECT_EQ(KernelCache::defaultDirectory(), "/tmp/attnc-x");
  unsetenv("ATTNC_CACHE_DIR");
  setenv("XDG_CACHE_HOME", "/tmp/xdg", 1);
  EXPECT_EQ(KernelCache::defaultDirectory(), "/tmp/xdg/attnc");
  unsetenv("XDG_CACHE_HOME");
  if (!saved.empty())
    setenv("ATTNC_CACHE_DIR", saved.c_str(), 1);
}

} // namespace

// CUDA entries: the CUBIN NVRTC made, keyed by the generated CUDA C++, the
// arch and the NVRTC version. These need NVRTC, not a GPU.
constexpr const char *kCudaSpec =
    "attn.kernel @cuda_cached attributes {q_heads = 4, kv_heads = 2, d_qk = "
    "64, d_v = 64, element_type = bf16, mask = #attn.mask<causal, "
    "bottom_right>}";

/// The CUBIN of kCudaSpec for `arch`, through `cache` (NVRTC, no GPU).
struct Cubin {
  std::string bytes;
  int64_t sharedBytes = 0;
  std::string name;
};
StatusOr<Cubin> cubinFor(KernelCache &cache, const std::string &arch,
                         CacheSource *from = nullptr) {
  auto ir = KernelIr::parse(kCudaSpec);
  if (!ir.ok())
    return ir.status();
  cuda::CudaBackend backend(arch, /*ordinal=*/-1);
  auto translation = backend.translate(*ir);
  if (!translation.ok())
    return translation.status();
  auto bytes = cache.bytes(**translation, backend, from);
  if (!bytes.ok())
    return bytes.status();
  auto &t = static_cast<const cuda::CudaTranslation &>(**translation);
  return Cubin{*bytes, t.codegen().sharedBytes, t.spec().name};
}

#define SKIP_WITHOUT_NVRTC()                                                   \
  if (auto nvrtc = cuda::Nvrtc::get(); !nvrtc.ok())                            \
  GTEST_SKIP() << "skipped (needs NVRTC): " << nvrtc.status().message()

TEST_F(KernelCacheTest, CubinEntriesAreWrittenReadAndKeptPerArch) {
  SKIP_WITHOUT_NVRTC();
  std::string cubin;
  {
    KernelCache cache = makeCache();
    CacheSource from;
    auto binary = cubinFor(cache, "sm_90", &from);
    ASSERT_TRUE(binary.ok()) << binary.status().message();
    EXPECT_EQ(from, CacheSource::Compiled);
    ASSERT_EQ(binary->bytes.compare(0, 4, "\x7f" "ELF"), 0) << "not a CUBIN";
    EXPECT_EQ(binary->name, "cuda_cached");
    EXPECT_GT(binary->sharedBytes, 0);
    cubin = binary->bytes;
  }
  fs::path entry = onlyEntry();
  EXPECT_EQ(entry.filename().string().rfind("cuda_cached-", 0), 0u) << entry;

  KernelCache second = makeCache();
  CacheSource from;
  auto again = cubinFor(second, "sm_90", &from);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(from, CacheSource::Disk);
  EXPECT_EQ(again->bytes, cubin);
  EXPECT_GT(again->sharedBytes, 0);

  // Another arch is another entry, never the sm_90 binary.
  auto other = cubinFor(second, "sm_80", &from);
  ASSERT_TRUE(other.ok()) << other.status().message();
  EXPECT_EQ(from, CacheSource::Compiled);
  EXPECT_NE(other->bytes, cubin);
  auto entries = second.list();
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  for (const KernelCache::Entry &e : *entries) {
    EXPECT_TRUE(e.valid) << e.file;
    EXPECT_EQ(e.target, "cuda") << e.file;
  }
}

TEST_F(KernelCacheTest, DamagedCubinEntriesAreMisses) {
  SKIP_WITHOUT_NVRTC();
  std::string good;
  {
    KernelCache cache = makeCache();
    ASSERT_TRUE(cubinFor(cache, "sm_90").ok());
    std::ifstream in(onlyEntry(), std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  // The key names the NVRTC version: an entry from another NVRTC (valid
  // checksum) must not be served.
  size_t at = good.find("nvrtc=");
  ASSERT_NE(at, std::string::npos);
  std::string otherNvrtc = resealed(good, at + 6, good[at + 6] ^ 1);
  std::string flipped = good;
  flipped[good.size() - 200] ^= 0x04; // inside the CUBIN
  for (const auto &[what, bytes] :
       {std::pair<const char *, std::string>{"bit flip in the CUBIN", flipped},
        {"another NVRTC's entry", otherNvrtc},
        {"truncated", good.substr(0, good.size() / 3)}}) {
    std::ofstream(onlyEntry(), std::ios::binary | std::ios::trunc) << bytes;
    KernelCache cache = makeCache();
    CacheSource from;
    auto binary = cubinFor(cache, "sm_90", &from);
    ASSERT_TRUE(binary.ok()) << what << ": " << binary.status().message();
    EXPECT_EQ(from, CacheSource::Compiled) << what;
    EXPECT_EQ(cache.stats().diskRejects, 1u) << what;
    std::ifstream in(onlyEntry(), std::ios::binary);
    std::string rewritten(std::istreambuf_iterator<char>(in), {});
    EXPECT_EQ(rewritten, good) << what << ": the entry was not rewritten whole";
  }
}

TEST_F(KernelCacheTest, CudaKernelsWithoutAGpuAreAClearError) {
  if (cuda::Driver::get().ok())
    GTEST_SKIP() << "skipped: this machine has a CUDA driver "
                    "(CudaNumerics.SweepMatchesFloat64Reference loads kernels "
                    "through the cache there)";
  auto backend = cuda::CudaBackend::forDevice(0);
  ASSERT_FALSE(backend.ok());
  EXPECT_NE(backend.status().message().find("no CUDA driver"), std::string::npos)
      << backend.status().message();
  // A compile-only backend compiles (and caches the CUBIN) but cannot load.
  SKIP_WITHOUT_NVRTC();
  KernelCache cache = makeCache();
  auto ir = KernelIr::parse(kCudaSpec);
  ASSERT_TRUE(ir.ok());
  auto kernel = cache.get(*ir, cuda::CudaBackend("sm_90", -1));
  ASSERT_FALSE(kernel.ok());
  EXPECT_NE(kernel.status().message().find(
                "this cuda backend compiles for sm_90 only; it has no device "
                "to load kernels on"),
            std::string::npos)
      << kernel.status().message();
}
