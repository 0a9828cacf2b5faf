#ifndef ATTNC_RUNTIME_CUDA_SIMT_CTA_H
#define ATTNC_RUNTIME_CUDA_SIMT_CTA_H

// Runs CTAs of a launch on the calling OS thread: each CUDA thread is a
// fiber (ucontext) with its own stack, switched only at barriers and warp
// collectives, so a CTA's execution is deterministic. Implements the calls
// of attnc_simt_abi.h for the fiber that is running, with the memory model
// and the checks: a shadow of every dynamic shared-memory byte (last
// writer and reader with their barrier epoch, pending cp.async), cp.async
// groups that land at their wait, global accesses against the registered
// buffers.

#include "runtime/cuda/simt/Emulator.h"
#include "runtime/cuda/simt/Reports.h"
#include "runtime/cuda/simt/attnc_simt_abi.h"

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <ucontext.h>

namespace attnc::simt::detail {

/// What the kernel's shared object exports.
struct KernelEntry {
  void (*entry)(const void *params) = nullptr;
  unsigned char *(*shared)() = nullptr; // this OS thread's smem_raw
};

/// One launch, shared (read-only but for `stop`) by the OS threads running
/// its CTAs.
struct Launch {
  KernelEntry kernel;
  Dim3 grid, block;
  size_t sharedBytes = 0;
  const void *params = nullptr;
  LaunchChecks checks;
  std::vector<GlobalBuffer> buffers; // sorted by base
  std::atomic<bool> stop{false};     // a fatal finding: run no more CTAs
};

/// The table of attnc_simt_abi.h, dispatching to the CtaRunner of the
/// calling OS thread.
const attnc_simt_abi &abiTable();

enum class Primitive : uint8_t {
  Syncthreads,
  Syncwarp,
  CpAsync16,
  CpAsyncCommit,
  CpAsyncWait,
  Ldmatrix,
  LdmatrixTrans,
  StoreGlobal,
  LoadGlobal,
  Mma,
  Shuffle,
};

class CtaRunner {
public:
  explicit CtaRunner(Launch &launch);
  ~CtaRunner();
  CtaRunner(const CtaRunner &) = delete;
  CtaRunner &operator=(const CtaRunner &) = delete;

  /// Allocates the fiber stacks.
  Status init();
  /// Runs CTA `block` to its end, or until a fatal finding (deadlock,
  /// divergence) abandons it.
  void run(Dim3 block);
  const ReportSink &reports() const { return reports_; }

  // The calls of attnc_simt_abi.h, for the running fiber.
  const attnc_simt_builtins *builtins() const;
  void syncthreads(const char *file, int line);
  void syncwarp(unsigned mask, const char *file, int line);
  void cpAsync16(void *dst, const void *src, bool valid, const char *file,
                 int line);
  void cpAsyncCommit(const char *file, int line);
  void cpAsyncWait(int n, const char *file, int line);
  void ldmatrix(unsigned *out, const void *row, bool trans, const char *file,
                int line);
  void storeGlobal(void *p, const void *value, unsigned bytes, const char *file,
                   int line);
  void loadGlobal(void *out, const void *p, unsigned bytes, const char *file,
                  int line);
  void mma(float *c, const unsigned *a, unsigned b0, unsigned b1, bool bf16,
           const char *file, int line);
  void shuffleXor(void *value, unsigned bytes, unsigned mask, int laneMask,
                  int width, const char *file, int line);

private:
  using SiteId = uint16_t;
  struct Site {
    const char *file;
    int line;
    Primitive primitive;
  };
  struct CpAsyncOp {
    uint32_t offset;     // in dynamic shared memory
    uint32_t issueEpoch; // barrier epoch at issue
    SiteId site;
    uint8_t data[16]; // read from global memory at issue
  };
  enum class State : uint8_t { Ready, AtBarrier, AtWarpOp, Exited };
  struct Lane {
    attnc_simt_builtins builtins;
    uint16_t index = 0, warp = 0, lane = 0;
    State state = State::Ready;
    ucontext_t context;
    std::vector<CpAsyncOp> uncommitted;
    std::deque<std::vector<CpAsyncOp>> committed; // oldest first
    // Operands of the warp collective this lane is in.
    unsigned *regs = nullptr;  // ldmatrix destination
    const void *row = nullptr; // ldmatrix row address
    float *acc = nullptr;      // mma accumulators
    const unsigned *aRegs = nullptr;
    unsigned b0 = 0, b1 = 0;
    void *value = nullptr; // shuffle
    int laneMask = 0, width = 32;
  };
  struct Warp {
    int size = 0, live = 0, arrived = 0;
    // The collective in progress (set by its first lane).
    Primitive primitive = Primitive::Syncwarp;
    SiteId site = 0;
    bool bf16 = false;
    unsigned bytes = 0; // shuffle operand size
  };
  /// The shadow of one byte of dynamic shared memory. Epochs count the
  /// CTA's completed barriers from 1; 0 means never.
  struct ByteShadow {
    uint32_t writeEpoch, readEpoch, pendingEpoch;
    uint16_t writer, reader, pendingBy;
    SiteId writeSite, readSite, pendingSite;
  };
  static constexpr uint16_t kNobody = 0xffff, kSeveral = 0xfffe;
  static constexpr SiteId kUnknownSite = 0xffff;

  Lane &current() { return lanes_[current_]; }
  SiteId site(const char *file, int line, Primitive primitive);
  std::string describe(SiteId id) const;
  std::string who(const Lane &lane) const;
  std::string who(uint16_t thread) const;
  std::string sharedAddress(size_t offset) const;
  std::string outsideShared(const void *p) const;
  std::string globalAddress(const void *p, size_t bytes) const;
  const GlobalBuffer *bufferOf(const void *p, size_t bytes) const;
  void report(ReportKind kind, const std::string &signature,
              const std::function<std::string()> &message);
  /// Reports a finding that leaves the CTA unable to go on, and abandons it
  /// (from a fiber: never returns).
  [[noreturn]] void fatal(ReportKind kind, const std::string &signature,
                          const std::function<std::string()> &message);
  void fatalFromScheduler(ReportKind kind, const std::string &signature,
                          const std::function<std::string()> &message);
  void block();
  void release(Lane &lane);
  static void fiberMain();
  void laneExited();
  void checkStuck(const char *cause);
  bool inShared(const void *p, size_t bytes, size_t &offset) const;
  void completeCopy(Lane &lane, const CpAsyncOp &op);
  void readShared(const Lane &lane, size_t offset, SiteId site, uint8_t *out);
  void arrive(Lane &me, Primitive primitive, SiteId site);
  void performWarpOp(Warp &warp, int warpIndex);
  void reportDeadlock();

  Launch &launch_;
  ReportSink reports_;
  std::vector<Lane> lanes_;
  std::vector<Warp> warps_;
  std::deque<uint16_t> ready_;
  uint16_t current_ = 0;
  int threads_ = 0, exited_ = 0;
  int barrierArrived_ = 0;
  SiteId barrierSite_ = 0;
  uint32_t epoch_ = 1;
  bool aborted_ = false;
  ucontext_t scheduler_;
  Dim3 blockIdx_;
  unsigned char *shared_ = nullptr;
  std::vector<ByteShadow> shadow_;
  void *stacks_ = nullptr;
  size_t stackStride_ = 0, stacksBytes_ = 0, page_ = 4096;
  struct SiteKey {
    const char *file;
    int line;
    Primitive primitive;
    bool operator==(const SiteKey &o) const {
      return file == o.file && line == o.line && primitive == o.primitive;
    }
  };
  struct SiteKeyHash {
    size_t operator()(const SiteKey &k) const {
      return std::hash<const void *>()(k.file) ^ (size_t(k.line) << 8) ^
             size_t(k.primitive);
    }
  };
  std::vector<Site> sites_;
  std::unordered_map<SiteKey, SiteId, SiteKeyHash> siteIds_;
};

} // namespace attnc::simt::detail

#endif
