#include "runtime/cuda/simt/Cta.h"

#include "runtime/cuda/simt/Warp.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include <sys/mman.h>
#include <unistd.h>

namespace attnc::simt::detail {
namespace {

/// The runner of this OS thread's CTA; fibers never leave the thread that
/// made them, so the ABI calls find their runner here.
thread_local CtaRunner *tlsRunner = nullptr;

const char *primitiveName(Primitive p) {
  switch (p) {
  case Primitive::Syncthreads:
    return "__syncthreads";
  case Primitive::Syncwarp:
    return "__syncwarp";
  case Primitive::CpAsync16:
    return "cp_async16";
  case Primitive::CpAsyncCommit:
    return "cp_async_commit";
  case Primitive::CpAsyncWait:
    return "cp_async_wait";
  case Primitive::Ldmatrix:
    return "ldmatrix_x4";
  case Primitive::LdmatrixTrans:
    return "ldmatrix_x4_trans";
  case Primitive::StoreGlobal:
    return "store_global";
  case Primitive::LoadGlobal:
    return "load_global";
  case Primitive::Mma:
    return "mma16816";
  case Primitive::Shuffle:
    return "__shfl_xor_sync";
  }
  return "?";
}

std::string dim3Text(const attnc_simt_dim3 &d) {
  return fmt::format("({},{},{})", d.x, d.y, d.z);
}

// The ABI entry points: C functions the kernel calls through the table.
const attnc_simt_builtins *abiBuiltins() { return tlsRunner->builtins(); }
void abiSyncthreads(const char *file, int line) {
  tlsRunner->syncthreads(file, line);
}
void abiCpAsync16(void *dst, const void *src, int valid, const char *file,
                  int line) {
  tlsRunner->cpAsync16(dst, src, valid != 0, file, line);
}
void abiCpAsyncCommit(const char *file, int line) {
  tlsRunner->cpAsyncCommit(file, line);
}
void abiCpAsyncWait(int n, const char *file, int line) {
  tlsRunner->cpAsyncWait(n, file, line);
}
void abiLdmatrix(unsigned r[4], const void *row, int trans, const char *file,
                 int line) {
  tlsRunner->ldmatrix(r, row, trans != 0, file, line);
}
void abiStoreGlobal(void *p, const void *value, unsigned bytes,
                    const char *file, int line) {
  tlsRunner->storeGlobal(p, value, bytes, file, line);
}
void abiLoadGlobal(void *out, const void *p, unsigned bytes, const char *file,
                   int line) {
  tlsRunner->loadGlobal(out, p, bytes, file, line);
}
void abiMma(float c[4], const unsigned a[4], unsigned b0, unsigned b1, int bf16,
            const char *file, int line) {
  tlsRunner->mma(c, a, b0, b1, bf16 != 0, file, line);
}
void abiShuffle(void *value, unsigned bytes, unsigned mask, int laneMask,
                int width, const char *file, int line) {
  tlsRunner->shuffleXor(value, bytes, mask, laneMask, width, file, line);
}
void abiSyncwarp(unsigned mask, const char *file, int line) {
  tlsRunner->syncwarp(mask, file, line);
}

} // namespace

const attnc_simt_abi &abiTable() {
  static const attnc_simt_abi table = {
      ATTNC_SIMT_ABI_VERSION,
      abiBuiltins,
      abiSyncthreads,
      abiCpAsync16,
      abiCpAsyncCommit,
      abiCpAsyncWait,
      abiLdmatrix,
      abiStoreGlobal,
      abiMma,
      abiShuffle,
      abiSyncwarp,
      abiLoadGlobal,
  };
  return table;
}

CtaRunner::CtaRunner(Launch &launch)
    : launch_(launch), reports_(launch.checks.maxReports) {}

CtaRunner::~CtaRunner() {
  if (stacks_)
    munmap(stacks_, stacksBytes_);
}

Status CtaRunner::init() {
  const Dim3 &b = launch_.block;
  threads_ = static_cast<int>(b.x * b.y * b.z);
  lanes_.resize(threads_);
  warps_.resize((threads_ + kWarpSize - 1) / kWarpSize);
  shadow_.resize(launch_.sharedBytes);
  // One mapping for all stacks, each with an inaccessible page below it:
  // a fiber that overflows its stack faults instead of corrupting another.
  size_t page = page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t stack = (launch_.checks.fiberStackBytes + page - 1) / page * page;
  stackStride_ = stack + page;
  stacksBytes_ = stackStride_ * threads_;
  void *map =
      mmap(nullptr, stacksBytes_, PROT_READ | PROT_WRITE,
           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (map == MAP_FAILED)
    return Status::error(
        fmt::format("cannot map {} bytes of fiber stacks for {} threads: {}",
                    stacksBytes_, threads_, std::strerror(errno)));
  stacks_ = map;
  for (int i = 0; i < threads_; ++i)
    if (mprotect(static_cast<char *>(stacks_) + i * stackStride_, page,
                 PROT_NONE) != 0)
      return Status::error(fmt::format(
          "cannot protect a fiber stack guard page: {}", std::strerror(errno)));
  for (int i = 0; i < threads_; ++i) {
    Lane &l = lanes_[i];
    l.index = static_cast<uint16_t>(i);
    l.warp = static_cast<uint16_t>(i / kWarpSize);
    l.lane = static_cast<uint16_t>(i % kWarpSize);
    l.builtins.thread_idx = {i % b.x, (i / b.x) % b.y, i / (b.x * b.y)};
    l.builtins.block_dim = {b.x, b.y, b.z};
    l.builtins.grid_dim = {launch_.grid.x, launch_.grid.y, launch_.grid.z};
  }
  return Status::success();
}

// ---- Scheduling ---------------------------------------------------------

void CtaRunner::fiberMain() {
  CtaRunner *self = tlsRunner;
  self->launch_.kernel.entry(self->launch_.params);
  self->laneExited();
  // Returning resumes uc_link: the scheduler.
}

void CtaRunner::run(Dim3 block) {
  blockIdx_ = block;
  tlsRunner = this;
  shared_ = launch_.kernel.shared();
  // A GPU's shared memory starts with whatever the last CTA left; all-ones
  // bytes are NaN in f16, bf16 and f32, so an unchecked read shows.
  std::memset(shared_, 0xff, launch_.sharedBytes);
  std::fill(shadow_.begin(), shadow_.end(),
            ByteShadow{0, 0, 0, kNobody, kNobody, kNobody, 0, 0, 0});
  epoch_ = 1;
  exited_ = 0;
  barrierArrived_ = 0;
  aborted_ = false;
  for (size_t w = 0; w < warps_.size(); ++w) {
    Warp &warp = warps_[w];
    warp = Warp{};
    warp.size =
        std::min<int>(kWarpSize, threads_ - static_cast<int>(w) * kWarpSize);
    warp.live = warp.size;
  }
  ready_.clear();
  for (Lane &l : lanes_) {
    l.builtins.block_idx = {block.x, block.y, block.z};
    l.state = State::Ready;
    l.uncommitted.clear();
    l.committed.clear();
    getcontext(&l.context);
    // Each stack sits above its guard page.
    l.context.uc_stack.ss_sp =
        static_cast<char *>(stacks_) + l.index * stackStride_ + page_;
    l.context.uc_stack.ss_size = stackStride_ - page_;
    l.context.uc_link = &scheduler_;
    makecontext(&l.context, &CtaRunner::fiberMain, 0);
    ready_.push_back(l.index);
  }
  // Fibers hand over to each other directly (block()); control comes back
  // here when a fiber ends, or when no fiber is ready.
  while (!aborted_ && !ready_.empty()) {
    current_ = ready_.front();
    ready_.pop_front();
    swapcontext(&scheduler_, &lanes_[current_].context);
  }
  if (!aborted_ && exited_ < threads_)
    reportDeadlock();
  tlsRunner = nullptr;
}

void CtaRunner::block() {
  Lane &me = current();
  if (ready_.empty()) {
    swapcontext(&me.context, &scheduler_);
    return;
  }
  current_ = ready_.front();
  ready_.pop_front();
  swapcontext(&me.context, &lanes_[current_].context);
}

void CtaRunner::release(Lane &lane) {
  lane.state = State::Ready;
  ready_.push_back(lane.index);
}

void CtaRunner::laneExited() {
  Lane &me = current();
  // Copies still in flight land anyway, as on a GPU.
  while (!me.committed.empty()) {
    for (const CpAsyncOp &op : me.committed.front())
      completeCopy(me, op);
    me.committed.pop_front();
  }
  for (const CpAsyncOp &op : me.uncommitted)
    completeCopy(me, op);
  me.uncommitted.clear();
  me.state = State::Exited;
  ++exited_;
  --warps_[me.warp].live;
  checkStuck("returned");
}

/// After a thread exits: a barrier or warp collective that every remaining
/// thread has reached can never complete as the kernel meant it to.
void CtaRunner::checkStuck(const char *cause) {
  Lane &me = current();
  if (barrierArrived_ > 0 && barrierArrived_ == threads_ - exited_) {
    SiteId at = barrierSite_;
    fatalFromScheduler(
        ReportKind::Deadlock, "exit-barrier|" + describe(at), [&] {
          return fmt::format(
              "{} {} while {} other threads wait at {}: every thread of a CTA "
              "must reach each __syncthreads",
              who(me), cause, barrierArrived_, describe(at));
        });
    return;
  }
  Warp &w = warps_[me.warp];
  if (w.arrived > 0 && w.arrived == w.live) {
    SiteId at = w.site;
    fatalFromScheduler(ReportKind::Deadlock, "exit-warp|" + describe(at), [&] {
      return fmt::format(
          "{} {} while the other {} lanes of warp {} wait at {}, a warp "
          "collective that needs all 32 lanes",
          who(me), cause, w.arrived, me.warp, describe(at));
    });
  }
}

void CtaRunner::reportDeadlock() {
  std::string where;
  if (barrierArrived_ > 0)
    where += fmt::format("{} threads at {}", barrierArrived_,
                         describe(barrierSite_));
  for (size_t w = 0; w < warps_.size(); ++w)
    if (warps_[w].arrived > 0)
      where += fmt::format("{}{} of {} live lanes of warp {} at {}",
                           where.empty() ? "" : "; ", warps_[w].arrived,
                           warps_[w].live, w, describe(warps_[w].site));
  std::string signature = "deadlock|" + where;
  fatalFromScheduler(ReportKind::Deadlock, signature, [&] {
    return fmt::format(
        "block {}: no thread can proceed ({} of {} threads returned): {}",
        dim3Text({blockIdx_.x, blockIdx_.y, blockIdx_.z}), exited_, threads_,
        where);
  });
}

void CtaRunner::fatal(ReportKind kind, const std::string &signature,
                      const std::function<std::string()> &message) {
  fatalFromScheduler(kind, signature, message);
  // Abandon this fiber (and with it the CTA): back to the scheduler for
  // good. The stacks are reinitialised for the next CTA.
  setcontext(&scheduler_);
  std::abort(); // setcontext returns only on failure
}

void CtaRunner::fatalFromScheduler(
    ReportKind kind, const std::string &signature,
    const std::function<std::string()> &message) {
  report(kind, signature, message);
  aborted_ = true;
  launch_.stop.store(true);
}

void CtaRunner::report(ReportKind kind, const std::string &signature,
                       const std::function<std::string()> &message) {
  reports_.add(kind, std::string(toString(kind)) + "|" + signature, message);
}

// ---- Descriptions -------------------------------------------------------

CtaRunner::SiteId CtaRunner::site(const char *file, int line,
                                  Primitive primitive) {
  SiteKey key{file, line, primitive};
  auto it = siteIds_.find(key);
  if (it != siteIds_.end())
    return it->second;
  if (sites_.size() >= kUnknownSite) // more call sites than ids: name none
                                     // rather than a wrong one
    return kUnknownSite;
  SiteId id = static_cast<SiteId>(sites_.size());
  sites_.push_back({file, line, primitive});
  siteIds_.emplace(key, id);
  return id;
}

std::string CtaRunner::describe(SiteId id) const {
  if (id >= sites_.size())
    return "(a call site past the emulator's first 65535)";
  const Site &s = sites_[id];
  return fmt::format("{}:{} ({})", s.file, s.line, primitiveName(s.primitive));
}

std::string CtaRunner::who(const Lane &lane) const {
  return fmt::format("block {} thread {}",
                     dim3Text({blockIdx_.x, blockIdx_.y, blockIdx_.z}),
                     dim3Text(lane.builtins.thread_idx));
}

std::string CtaRunner::who(uint16_t thread) const {
  if (thread == kSeveral)
    return "several threads";
  if (thread >= lanes_.size())
    return "?";
  return fmt::format("thread {}", dim3Text(lanes_[thread].builtins.thread_idx));
}

// ---- Built-ins and barriers ---------------------------------------------

const attnc_simt_builtins *CtaRunner::builtins() const {
  return &lanes_[current_].builtins;
}

void CtaRunner::syncthreads(const char *file, int line) {
  Lane &me = current();
  SiteId at = site(file, line, Primitive::Syncthreads);
  if (barrierArrived_ == 0)
    barrierSite_ = at;
  ++barrierArrived_;
  me.state = State::AtBarrier;
  if (barrierArrived_ < threads_ - exited_) {
    block();
    return;
  }
  if (exited_ > 0) {
    fatal(ReportKind::Deadlock, "barrier-after-exit|" + describe(at), [&] {
      return fmt::format(
          "{} threads reach {} in block {}, but {} threads of the CTA "
          "returned before it: every thread must reach each __syncthreads",
          barrierArrived_, describe(at),
          dim3Text({blockIdx_.x, blockIdx_.y, blockIdx_.z}), exited_);
    });
  }
  // Everyone is here: a new epoch. Accesses before and after are ordered.
  ++epoch_;
  barrierArrived_ = 0;
  for (Lane &l : lanes_)
    if (l.state == State::AtBarrier && l.index != me.index)
      release(l);
  me.state = State::Ready;
}

// ---- Warp collectives ---------------------------------------------------

void CtaRunner::arrive(Lane &me, Primitive primitive, SiteId at) {
  Warp &w = warps_[me.warp];
  if (w.arrived == 0) {
    w.primitive = primitive;
    w.site = at;
  } else if (w.primitive != primitive ||
             (w.site != at && primitive != Primitive::Syncwarp)) {
    SiteId first = w.site;
    fatal(ReportKind::WarpDivergence, describe(first) + "|" + describe(at),
          [&] {
            return fmt::format(
                "{} (lane {}) is at {} while {} lanes of its warp are at {}: "
                "all lanes must execute the same warp-collective instruction",
                who(me), me.lane, describe(at), w.arrived, describe(first));
          });
  }
  ++w.arrived;
  me.state = State::AtWarpOp;
  if (w.arrived < w.live) {
    block();
    return;
  }
  if (w.live < kWarpSize) {
    fatal(ReportKind::Deadlock, "partial-warp|" + describe(at), [&] {
      return fmt::format(
          "{}: {} needs all 32 lanes of warp {}, but only {} are live "
          "({} in the warp, the rest returned)",
          who(me), describe(at), me.warp, w.live, w.size);
    });
  }
  performWarpOp(w, me.warp);
  w.arrived = 0;
  for (int l = 0; l < kWarpSize; ++l) {
    Lane &lane = lanes_[me.warp * kWarpSize + l];
    if (lane.index != me.index && lane.state == State::AtWarpOp)
      release(lane);
  }
  me.state = State::Ready;
}

void CtaRunner::performWarpOp(Warp &w, int warpIndex) {
  Lane *lanes = &lanes_[warpIndex * kWarpSize];
  switch (w.primitive) {
  case Primitive::Ldmatrix:
  case Primitive::LdmatrixTrans: {
    uint8_t rows[kWarpSize][16];
    uint32_t out[kWarpSize][4];
    for (int l = 0; l < kWarpSize; ++l) {
      std::memset(rows[l], 0, 16);
      size_t offset;
      const void *row = lanes[l].row;
      if (!inShared(row, 16, offset)) {
        report(ReportKind::SharedOutOfBounds, describe(w.site), [&] {
          return fmt::format(
              "{}: {} row address {} lies outside the {} bytes of dynamic "
              "shared memory",
              who(lanes[l]), describe(w.site), outsideShared(row),
              launch_.sharedBytes);
        });
        continue;
      }
      if (offset % 16) {
        report(ReportKind::Misaligned, describe(w.site), [&] {
          return fmt::format("{}: {} row address {} is not 16-byte aligned",
                             who(lanes[l]), describe(w.site),
                             sharedAddress(offset));
        });
        continue;
      }
      readShared(lanes[l], offset, w.site, rows[l]);
    }
    ldmatrixX4(rows, w.primitive == Primitive::LdmatrixTrans, out);
    for (int l = 0; l < kWarpSize; ++l)
      std::memcpy(lanes[l].regs, out[l], sizeof out[l]);
    return;
  }
  case Primitive::Mma: {
    uint32_t a[kWarpSize][4], b[kWarpSize][2];
    float c[kWarpSize][4];
    for (int l = 0; l < kWarpSize; ++l) {
      std::memcpy(a[l], lanes[l].aRegs, sizeof a[l]);
      b[l][0] = lanes[l].b0;
      b[l][1] = lanes[l].b1;
      std::memcpy(c[l], lanes[l].acc, sizeof c[l]);
    }
    mmaM16N8K16(w.bf16 ? MmaType::BF16 : MmaType::F16, a, b, c);
    for (int l = 0; l < kWarpSize; ++l)
      std::memcpy(lanes[l].acc, c[l], sizeof c[l]);
    return;
  }
  case Primitive::Shuffle: {
    uint64_t in[kWarpSize] = {}, out[kWarpSize];
    int masks[kWarpSize], widths[kWarpSize];
    for (int l = 0; l < kWarpSize; ++l) {
      std::memcpy(&in[l], lanes[l].value, w.bytes);
      masks[l] = lanes[l].laneMask;
      widths[l] = lanes[l].width;
    }
    attnc::simt::shuffleXor(in, masks, widths, out);
    for (int l = 0; l < kWarpSize; ++l)
      std::memcpy(lanes[l].value, &out[l], w.bytes);
    return;
  }
  default: // __syncwarp: the meeting is all there is
    return;
  }
}

void CtaRunner::ldmatrix(unsigned *out, const void *row, bool trans,
                         const char *file, int line) {
  Lane &me = current();
  Primitive p = trans ? Primitive::LdmatrixTrans : Primitive::Ldmatrix;
  me.regs = out;
  me.row = row;
  arrive(me, p, site(file, line, p));
}

void CtaRunner::mma(float *c, const unsigned *a, unsigned b0, unsigned b1,
                    bool bf16, const char *file, int line) {
  Lane &me = current();
  SiteId at = site(file, line, Primitive::Mma);
  Warp &w = warps_[me.warp];
  if (w.arrived == 0)
    w.bf16 = bf16;
  else if (w.bf16 != bf16)
    fatal(ReportKind::WarpDivergence, "mma-type|" + describe(at), [&] {
      return fmt::format("{}: {} with {} while other lanes of its warp use {}",
                         who(me), describe(at), bf16 ? "bf16" : "f16",
                         bf16 ? "f16" : "bf16");
    });
  me.acc = c;
  me.aRegs = a;
  me.b0 = b0;
  me.b1 = b1;
  arrive(me, Primitive::Mma, at);
}

void CtaRunner::shuffleXor(void *value, unsigned bytes, unsigned mask,
                           int laneMask, int width, const char *file,
                           int line) {
  Lane &me = current();
  SiteId at = site(file, line, Primitive::Shuffle);
  if (mask != 0xffffffffu)
    fatal(ReportKind::Unsupported, "shuffle-mask|" + describe(at), [&] {
      return fmt::format(
          "{}: {} with mask {:#x}: the emulator models the full-warp mask "
          "0xffffffff only",
          who(me), describe(at), mask);
    });
  if (width < 1 || width > kWarpSize || (width & (width - 1)))
    fatal(ReportKind::Unsupported, "shuffle-width|" + describe(at), [&] {
      return fmt::format(
          "{}: {} with width {}: it must be a power of two in [1, 32]", who(me),
          describe(at), width);
    });
  Warp &w = warps_[me.warp];
  if (w.arrived == 0)
    w.bytes = bytes;
  else if (w.bytes != bytes)
    fatal(ReportKind::WarpDivergence, "shuffle-bytes|" + describe(at), [&] {
      return fmt::format(
          "{}: {} on a {}-byte value while other lanes of its warp shuffle "
          "{} bytes",
          who(me), describe(at), bytes, w.bytes);
    });
  me.value = value;
  me.laneMask = laneMask;
  me.width = width;
  arrive(me, Primitive::Shuffle, at);
}

void CtaRunner::syncwarp(unsigned mask, const char *file, int line) {
  Lane &me = current();
  SiteId at = site(file, line, Primitive::Syncwarp);
  if (mask != 0xffffffffu)
    fatal(ReportKind::Unsupported, "syncwarp-mask|" + describe(at), [&] {
      return fmt::format(
          "{}: {} with mask {:#x}: the emulator models the full-warp mask "
          "0xffffffff only",
          who(me), describe(at), mask);
    });
  arrive(me, Primitive::Syncwarp, at);
}

} // namespace attnc::simt::detail
