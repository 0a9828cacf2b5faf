#ifndef ATTNC_RUNTIME_CUDA_SIMT_EMULATOR_H
#define ATTNC_RUNTIME_CUDA_SIMT_EMULATOR_H

// The SIMT emulator: runs attnc's generated CUDA C++ on the CPU.
//
// Module::compile builds the unmodified kernel text with the host C++
// compiler against the host prelude (attnc_target.cuh in this folder) and
// loads it; Module::launch runs a grid the way the driver would (same grid,
// block, dynamic shared size and parameter struct), each CTA's threads as
// fibers on one OS thread, CTAs in parallel, and checks what a GPU would
// not: shared-memory races, out-of-bounds global accesses, reads of
// uninitialised shared memory, reads of cp.async destinations before their
// wait, deadlocks and divergent warp collectives. Any finding makes launch
// return an error. No MLIR and no CUDA here.

#include "runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace attnc::simt {

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

/// A global-memory buffer the kernel may touch; reports name it and give
/// offsets into it.
struct GlobalBuffer {
  std::string name;
  const void *base = nullptr;
  size_t bytes = 0;
};

/// What launch checks, and over which buffers.
struct LaunchChecks {
  /// With globalBounds, every cp.async source (when valid) and every
  /// store_global target must lie inside one of these; an access that does
  /// not is reported and not performed.
  std::vector<GlobalBuffer> buffers;
  bool globalBounds = true;
  bool sharedRaces = true;
  bool uninitialisedShared = true;
  bool staleCpAsync = true;
  /// Distinct findings kept (each with its number of occurrences).
  unsigned maxReports = 16;
  /// OS threads running CTAs; 0: one per core.
  unsigned threads = 0;
  /// Stack of each fiber (CUDA thread); the kernels keep large register
  /// arrays on it. A guard page below each stack stops an overflow.
  size_t fiberStackBytes = 256 * 1024;
};

enum class ReportKind {
  SharedRace,       // two threads touch a byte, one writes, no barrier between
  StaleCpAsyncRead, // a cp.async destination read before its group was waited
                    // for
  UninitialisedSharedRead, // shared memory read before anything wrote it in
                           // this CTA
  GlobalOutOfBounds,       // a global access outside every registered buffer
  SharedOutOfBounds, // a shared access outside the launch's dynamic shared
                     // memory
  Misaligned,        // an address not aligned as the instruction requires
  Deadlock,          // a barrier or warp collective that cannot complete
  WarpDivergence,    // lanes of a warp in different warp collectives
  Unsupported, // something the emulator does not model (e.g. a partial shuffle
               // mask)
};
const char *toString(ReportKind kind);

/// One distinct finding: the first occurrence's message and how often the
/// same finding (kind and source locations) recurred.
struct Report {
  ReportKind kind;
  std::string message;
  uint64_t occurrences = 0;
};

struct LaunchReport {
  std::vector<Report> reports; // at most LaunchChecks::maxReports
  uint64_t total = 0;          // occurrences of all findings, kept or not
  uint64_t ctasRun = 0;
  bool has(ReportKind kind) const;
};

struct CompileOptions {
  /// The host compiler and any leading arguments (split at spaces), e.g.
  /// "ccache g++"; empty: $ATTNC_SIMT_CXX, else "c++".
  std::string compiler;
  /// The kernel's file name in reports (__FILE__).
  std::string fileName = "kernel.cu";
  /// Optimisation: -O1 compiles in about a second and runs well enough.
  std::string optimization = "-O1";
  std::vector<std::string> extraFlags;
};

/// A kernel text compiled for the host and loaded.
///
/// The text must start with `#include "attnc_target.cuh"`, define the macro
/// KERNEL_NAME as the name of its `extern "C" __global__` function, and
/// that function must take one argument of type `Params`: what attnc's
/// generated kernels do. The emulator appends a two-line launch shim and
/// changes nothing else.
class Module {
public:
  static StatusOr<std::unique_ptr<Module>>
  compile(const std::string &kernelText, const CompileOptions &options = {});
  ~Module();
  Module(const Module &) = delete;
  Module &operator=(const Module &) = delete;

  /// Runs the kernel over `grid` x `block` with `dynamicSharedBytes` of
  /// dynamic shared memory and the parameter struct at `params`
  /// (`paramBytes` must equal sizeof(Params) in the kernel). Returns an
  /// error if the launch is invalid or any check found something; `report`
  /// (optional) receives every finding. Safe to call from several threads.
  Status launch(Dim3 grid, Dim3 block, size_t dynamicSharedBytes,
                const void *params, size_t paramBytes,
                const LaunchChecks &checks,
                LaunchReport *report = nullptr) const;

  /// sizeof(Params) as the host compiler laid it out.
  size_t paramBytes() const;
  /// The compiler's diagnostics (warnings), if any.
  const std::string &compilerOutput() const;

private:
  struct Impl;
  explicit Module(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Whether the host compiler runs (`COMPILER --version`); its error if not.
/// Tests use it to skip with a reason.
Status hostCompilerAvailable(const CompileOptions &options = {});

/// The host prelude attnc_target.cuh, as embedded in the library.
const char *hostPrelude();

/// Host memory with guard zones before and after it, filled with a known
/// pattern, for emulated "device" tensors: checkGuards() says whether
/// anything wrote outside the buffer (a kernel run with globalBounds off,
/// or an access the bounds check cannot see). Aligned to 256 bytes, like
/// cudaMalloc.
class GuardedBuffer {
public:
  /// `bytes` (0 is fine) between two guard zones of at least `guardBytes`.
  static StatusOr<GuardedBuffer> allocate(std::string name, size_t bytes,
                                          size_t guardBytes = 4096);
  ~GuardedBuffer();
  GuardedBuffer(GuardedBuffer &&other) noexcept;
  GuardedBuffer &operator=(GuardedBuffer &&other) noexcept;
  GuardedBuffer(const GuardedBuffer &) = delete;
  GuardedBuffer &operator=(const GuardedBuffer &) = delete;

  void *data() const { return data_; }
  size_t bytes() const { return bytes_; }
  const std::string &name() const { return name_; }
  /// The buffer as LaunchChecks::buffers wants it.
  GlobalBuffer global() const { return {name_, data_, bytes_}; }
  /// An error naming the first and last byte written in either guard zone.
  Status checkGuards() const;

private:
  GuardedBuffer() = default;
  std::string name_;
  unsigned char *block_ = nullptr; // guard, buffer, guard
  unsigned char *data_ = nullptr;
  size_t bytes_ = 0, guard_ = 0, blockBytes_ = 0;
};

} // namespace attnc::simt

#endif
