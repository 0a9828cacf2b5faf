#include "runtime/cuda/simt/Emulator.h"

#include "runtime/cuda/simt/Cta.h"
#include "runtime/cuda/simt/Reports.h"
#include "runtime/cuda/simt/attnc_simt_abi.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <dlfcn.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace attnc::simt {
namespace {

// The host prelude and its two companions, embedded at build time
// (CMakeLists.txt) so that nothing under the source tree is needed at run
// time. They are written next to the kernel for each compile.
const char kPrelude[] =
#include "runtime/cuda/simt/attnc_target.cuh.inc"
    ;
const char kAbiHeader[] =
#include "runtime/cuda/simt/attnc_simt_abi.h.inc"
    ;
const char kHalfHeader[] =
#include "runtime/cuda/simt/attnc_simt_half.h.inc"
    ;

// Appended to the kernel text: the two functions the emulator looks up.
// `#line` makes an error in it point here rather than past the kernel.
const char kLaunchShim[] = R"(
#line 1 "attnc_simt_launch_shim"
ATTNC_SIMT_EXPORT void attnc_simt_entry(const void *params) {
  KERNEL_NAME(*static_cast<const Params *>(params));
}
ATTNC_SIMT_EXPORT unsigned long attnc_simt_params_bytes(void) { return sizeof(Params); }
)";

std::vector<std::string> compilerCommand(const CompileOptions &options) {
  std::string spec = options.compiler;
  if (spec.empty()) {
    const char *env = std::getenv("ATTNC_SIMT_CXX");
    spec = env && *env ? env : "c++";
  }
  std::vector<std::string> words;
  size_t i = 0;
  while (i < spec.size()) {
    size_t j = spec.find(' ', i);
    if (j == std::string::npos)
      j = spec.size();
    if (j > i)
      words.push_back(spec.substr(i, j - i));
    i = j + 1;
  }
  return words;
}

std::string joined(const std::vector<std::string> &words) {
  std::string s;
  for (const std::string &w : words)
    s += (s.empty() ? "" : " ") + w;
  return s;
}

/// Runs `argv` in `dir` with stdout and stderr into `logPath`; the exit
/// status, or an error if it could not start.
StatusOr<int> runProcess(const std::vector<std::string> &argv,
                         const std::string &dir, const std::string &logPath) {
  std::vector<char *> args;
  for (const std::string &a : argv)
    args.push_back(const_cast<char *>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, logPath.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  if (!dir.empty())
    posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    return Status::error(
        fmt::format("cannot run the host compiler '{}' (set ATTNC_SIMT_CXX "
                    "to choose another): {}",
                    argv[0], std::strerror(rc)));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return Status::error(
          fmt::format("waiting for '{}': {}", argv[0], std::strerror(errno)));
  if (WIFSIGNALED(status))
    return Status::error(fmt::format("the host compiler '{}' died of signal {}",
                                     argv[0], WTERMSIG(status)));
  return WEXITSTATUS(status);
}

Status writeText(const std::string &path, const std::string &text) {
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return Status::error(
        fmt::format("cannot create {}: {}", path, std::strerror(errno)));
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok)
    return Status::error(
        fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  return Status::success();
}

std::string readText(const std::string &path) {
  std::string text;
  if (FILE *f = std::fopen(path.c_str(), "rb")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
      text.append(buf, n);
    std::fclose(f);
  }
  return text;
}

/// The private directory one compile works in; removed with everything in
/// it unless ATTNC_SIMT_KEEP is set (to look at what the compiler saw).
class TempDir {
public:
  static StatusOr<std::unique_ptr<TempDir>> create() {
    const char *tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp && *tmp ? tmp : "/tmp") + "/attnc-simt-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data()))
      return Status::error(fmt::format("cannot create a directory like {}: {}",
                                       pattern, std::strerror(errno)));
    auto dir = std::unique_ptr<TempDir>(new TempDir);
    dir->path_ = buf.data();
    return dir;
  }
  ~TempDir() {
    if (std::getenv("ATTNC_SIMT_KEEP"))
      return;
    for (const std::string &f : files_)
      unlink((path_ + "/" + f).c_str());
    rmdir(path_.c_str());
  }
  const std::string &path() const { return path_; }
  std::string file(const std::string &name) {
    files_.push_back(name);
    return path_ + "/" + name;
  }

private:
  TempDir() = default;
  std::string path_;
  std::vector<std::string> files_;
};

/// A file name that is safe to use as given: letters, digits, '.', '_',
/// '-', not starting with '.' or '-'.
bool plainFileName(const std::string &name) {
  if (name.empty() || name[0] == '.' || name[0] == '-' || name.size() > 128)
    return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
          c == '-'))
      return false;
  return true;
}

std::string dimText(Dim3 d) { return fmt::format("({},{},{})", d.x, d.y, d.z); }

} // namespace

const char *hostPrelude() { return kPrelude; }

struct Module::Impl {
  void *handle = nullptr;
  detail::KernelEntry kernel;
  size_t paramBytes = 0;
  std::string log;
  ~Impl() {
    if (handle)
      dlclose(handle);
  }
};

Module::Module(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Module::~Module() = default;
size_t Module::paramBytes() const { return impl_->paramBytes; }
const std::string &Module::compilerOutput() const { return impl_->log; }

Status hostCompilerAvailable(const CompileOptions &options) {
  std::vector<std::string> argv = compilerCommand(options);
  if (argv.empty())
    return Status::error("the host compiler command is empty");
  argv.push_back("--version");
  auto rc = runProcess(argv, "", "/dev/null");
  if (!rc.ok())
    return rc.status();
  if (*rc != 0)
    return Status::error(
        fmt::format("'{}' exits with status {}", joined(argv), *rc));
  return Status::success();
}

StatusOr<std::unique_ptr<Module>>
Module::compile(const std::string &kernelText, const CompileOptions &options) {
  if (!plainFileName(options.fileName))
    return Status::error(
        fmt::format("the kernel file name '{}' must be letters, digits, "
                    "'.', '_' and '-', not starting with '.' or '-'",
                    options.fileName));
  if (kernelText.find("attnc_target.cuh") == std::string::npos)
    return Status::error(
        "the kernel text does not include \"attnc_target.cuh\"");
  if (kernelText.find("KERNEL_NAME") == std::string::npos)
    return Status::error(
        "the kernel text does not define KERNEL_NAME, the entry the "
        "emulator launches");
  std::vector<std::string> argv = compilerCommand(options);
  if (argv.empty())
    return Status::error("the host compiler command is empty");

  auto dir = TempDir::create();
  if (!dir.ok())
    return dir.status();
  TempDir &d = **dir;
  for (auto [name, text] :
       {std::pair<const char *, const char *>{"attnc_target.cuh", kPrelude},
        {"attnc_simt_abi.h", kAbiHeader},
        {"attnc_simt_half.h", kHalfHeader}})
    if (Status st = writeText(d.file(name), text); !st.ok())
      return st;
  if (Status st = writeText(d.file(options.fileName), kernelText + kLaunchShim);
      !st.ok())
    return st;
  const std::string object = d.file("kernel.so"), log = d.file("compile.log");

  // Relative names in the kernel's directory, so __FILE__ in reports is
  // just the kernel's file name.
  for (const char *flag :
       {"-std=c++17", "-fPIC", "-shared", "-fvisibility=hidden", "-g0",
        // Kernels reinterpret packed halves as unsigned (pack2).
        "-fno-strict-aliasing", "-fno-math-errno", "-Wno-unknown-pragmas",
        "-I."})
    argv.push_back(flag);
  argv.push_back(options.optimization);
  for (const std::string &flag : options.extraFlags)
    argv.push_back(flag);
  for (const char *arg : {"-x", "c++"})
    argv.push_back(arg);
  argv.push_back(options.fileName);
  argv.push_back("-o");
  argv.push_back("kernel.so");
  auto rc = runProcess(argv, d.path(), log);
  if (!rc.ok())
    return rc.status();
  std::string output = readText(log);
  if (std::getenv("ATTNC_SIMT_KEEP"))
    output += fmt::format("(kept in {})\n", d.path());
  if (*rc != 0)
    return Status::error(
        fmt::format("the host compiler failed (exit status {}) on the "
                    "kernel text:\n$ {}\n{}",
                    *rc, joined(argv), output));

  auto impl = std::make_unique<Impl>();
  impl->log = output;
  impl->handle = dlopen(object.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!impl->handle)
    return Status::error(
        fmt::format("cannot load the compiled kernel: {}", dlerror()));
  auto bind = reinterpret_cast<int (*)(const attnc_simt_abi *)>(
      dlsym(impl->handle, "attnc_simt_bind"));
  auto entry = reinterpret_cast<void (*)(const void *)>(
      dlsym(impl->handle, "attnc_simt_entry"));
  auto shared = reinterpret_cast<unsigned char *(*)()>(
      dlsym(impl->handle, "attnc_simt_shared"));
  auto paramBytes = reinterpret_cast<unsigned long (*)()>(
      dlsym(impl->handle, "attnc_simt_params_bytes"));
  if (!bind || !entry || !shared || !paramBytes)
    return Status::error(
        "the compiled kernel lacks the emulator's entry points: was it built "
        "against the host attnc_target.cuh?");
  if (int version = bind(&detail::abiTable());
      version != ATTNC_SIMT_ABI_VERSION)
    return Status::error(
        fmt::format("the compiled kernel speaks emulator ABI {}, this "
                    "emulator {}",
                    version, ATTNC_SIMT_ABI_VERSION));
  impl->kernel = {entry, shared};
  impl->paramBytes = paramBytes();
  return std::unique_ptr<Module>(new Module(std::move(impl)));
}

Status Module::launch(Dim3 grid, Dim3 block, size_t dynamicSharedBytes,
                      const void *params, size_t paramBytes,
                      const LaunchChecks &checks, LaunchReport *report) const {
  if (report)
    *report = LaunchReport{};
  if (!grid.x || !grid.y || !grid.z)
    return Status::error(fmt::format(
        "grid {}: every dimension must be at least 1", dimText(grid)));
  uint64_t threads = uint64_t(block.x) * block.y * block.z;
  if (!block.x || !block.y || !block.z || threads > 1024)
    return Status::error(
        fmt::format("block {} has {} threads; a CTA has 1 to 1024",
                    dimText(block), threads));
  if (dynamicSharedBytes > ATTNC_SIMT_SHARED_CAPACITY)
    return Status::error(
        fmt::format("{} bytes of dynamic shared memory: the emulator "
                    "provides at most {}",
                    dynamicSharedBytes, ATTNC_SIMT_SHARED_CAPACITY));
  if (!params)
    return Status::error("the parameter struct is null");
  if (paramBytes != impl_->paramBytes)
    return Status::error(
        fmt::format("the parameter struct has {} bytes, but the kernel's "
                    "Params has {}",
                    paramBytes, impl_->paramBytes));
  if (checks.maxReports == 0)
    return Status::error("LaunchChecks::maxReports must be at least 1");
  for (const GlobalBuffer &b : checks.buffers)
    if (!b.base && b.bytes)
      return Status::error(fmt::format(
          "global buffer '{}' has {} bytes but no address", b.name, b.bytes));

  detail::Launch launch;
  launch.kernel = impl_->kernel;
  launch.grid = grid;
  launch.block = block;
  launch.sharedBytes = dynamicSharedBytes;
  launch.params = params;
  launch.checks = checks;
  launch.buffers = checks.buffers;
  std::sort(launch.buffers.begin(), launch.buffers.end(),
            [](const GlobalBuffer &a, const GlobalBuffer &b) {
              return a.base < b.base;
            });

  const uint64_t ctas = uint64_t(grid.x) * grid.y * grid.z;
  unsigned workers =
      checks.threads ? checks.threads : std::thread::hardware_concurrency();
  workers = static_cast<unsigned>(
      std::max<uint64_t>(1, std::min<uint64_t>(workers, ctas)));
  std::vector<std::unique_ptr<detail::CtaRunner>> runners;
  for (unsigned w = 0; w < workers; ++w) {
    runners.push_back(std::make_unique<detail::CtaRunner>(launch));
    if (Status st = runners.back()->init(); !st.ok())
      return st;
  }
  std::atomic<uint64_t> next{0}, ran{0};
  auto work = [&](detail::CtaRunner *runner) {
    while (!launch.stop.load()) {
      uint64_t i = next.fetch_add(1);
      if (i >= ctas)
        return;
      Dim3 b{static_cast<unsigned>(i % grid.x),
             static_cast<unsigned>(i / grid.x % grid.y),
             static_cast<unsigned>(i / (uint64_t(grid.x) * grid.y))};
      runner->run(b);
      ran.fetch_add(1);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned w = 1; w < workers; ++w)
    pool.emplace_back(work, runners[w].get());
  work(runners[0].get());
  for (std::thread &t : pool)
    t.join();

  detail::ReportSink all(checks.maxReports);
  for (const auto &r : runners)
    all.merge(r->reports());
  LaunchReport result;
  all.exportTo(result);
  result.ctasRun = ran.load();
  Status status = detail::summarize(result);
  if (report)
    *report = std::move(result);
  return status;
}

} // namespace attnc::simt
