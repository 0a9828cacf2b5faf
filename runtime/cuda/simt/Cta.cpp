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
  case Primitive::Mma:
    return "mma16816";
  case Primitive::Shuffle:
    return "__shfl_xor_sync";
  }
  return "?";
}

std::string dim3Text(const attnc_simt_dim3 &d) { return fmt::format("({},{},{})", d.x, d.y, d.z); }

// The ABI entry points: C functions the kernel calls through the table.
const attnc_simt_builtins *abiBuiltins() { return tlsRunner->builtins(); }
void abiSyncthreads(const char *file, int line) { tlsRunner->syncthreads(file, line); }
void abiCpAsync16(void *dst, const void *src, int valid, const char *file, int line) {
  tlsRunner->cpAsync16(dst, src, valid != 0, file, line);
}
void abiCpAsyncCommit(const char *file, int line) { tlsRunner->cpAsyncCommit(file, line); }
void abiCpAsyncWait(int n, const char *file, int line) { tlsRunner->cpAsyncWait(n, file, line); }
void abiLdmatrix(unsigned r[4], const void *row, int trans, const char *file, int line) {
  tlsRunner->ldmatrix(r, row, trans != 0, file, line);
}
void abiStoreGlobal(void *p, const void *value, unsigned bytes, const char *file, int line) {
  tlsRunner->storeGlobal(p, value, bytes, file, line);
}
void abiMma(float c[4], const unsigned a[4], unsigned b0, unsigned b1, int bf16,
            const char *file, int line) {
  tlsRunner->mma(c, a, b0, b1, bf16 != 0, file, line);
}
void abiShuffle(void *value, unsigned bytes, unsigned mask, int laneMask, int width,
                const char *file, int line) {
  tlsRunner->shuffleXor(value, bytes, mask, laneMask, width, file, line);
}
void abiSyncwarp(unsigned mask, const char *file, int line) {
  tlsRunner->syncwarp(mask, file, line);
}

} // namespace

const attnc_simt_abi &abiTable() {
  static const attnc_simt_abi table = {
      ATTNC_SIMT_ABI_VERSION, abiBuiltins,    abiSyncthreads, abiCpAsync16,
      abiCpAsyncCommit,       abiCpAsyncWait, abiLdmatrix,    abiStoreGlobal,
      abiMma,                 abiShuffle,     abiSyncwarp,
  };
  return table;
}

CtaRunner::CtaRunner(Launch &launch) : launch_(launch), reports_(launch.checks.maxReports) {}

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
  void *map = mmap(nullptr, stacksBytes_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (map == MAP_FAILED)
    return Status::error(fmt::format("cannot map {} bytes of fiber stacks for {} threads: {}",
                                     stacksBytes_, threads_, std::strerror(errno)));
  stacks_ = map;
  for (int i = 0; i < threads_; ++i)
    if (mprotect(static_cast<char *>(stacks_) + i * stackStride_, page, PROT_NONE) != 0)
      return Status::error(fmt::format("cannot protect a fiber stack guard page: {}",
                                       std::strerror(errno)));
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
    warp.size = std::min<int>(kWarpSize, threads_ - static_cast<int>(w) * kWarpSize);
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
    l.context.uc_stack.ss_sp = static_cast<char *>(stacks_) + l.index * stackStride_ + page_;
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
    fatalFromScheduler(ReportKind::Deadlock, "exit-barrier|" + describe(at), [&] {
      return fmt::format("{} {} while {} other threads wait at {}: every thread of a CTA "
                         "must reach each __syncthreads",
                         who(me), cause, barrierArrived_, describe(at));
    });
    return;
  }
  Warp &w = warps_[me.warp];
  if (w.arrived > 0 && w.arrived == w.live) {
    SiteId at = w.site;
    fatalFromScheduler(ReportKind::Deadlock, "exit-warp|" + describe(at), [&] {
      return fmt::format("{} {} while the other {} lanes of warp {} wait at {}, a warp "
                         "collective that needs all 32 lanes",
                         who(me), cause, w.arrived, me.warp, describe(at));
    });
  }
}

void CtaRunner::reportDeadlock() {
  std::string where;
  if (barrierArrived_ > 0)
    where += fmt::format("{} threads at {}", barrierArrived_, describe(barrierSite_));
  for (size_t w = 0; w < warps_.size(); ++w)
    if (warps_[w].arrived > 0)
      where += fmt::format("{}{} of {} live lanes of warp {} at {}", where.empty() ? "" : "; ",
                           warps_[w].arrived, warps_[w].live, w, describe(warps_[w].site));
  std::string signature = "deadlock|" + where;
  fatalFromScheduler(ReportKind::Deadlock, signature, [&] {
    return fmt::format("block {}: no thread can proceed ({} of {} threads returned): {}",
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

void CtaRunner::fatalFromScheduler(ReportKind kind, const std::string &signature,
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

CtaRunner::SiteId CtaRunner::site(const char *file, int line, Primitive primitive) {
  SiteKey key{file, line, primitive};
  auto it = siteIds_.find(key);
  if (it != siteIds_.end())
    return it->second;
  if (sites_.size() >= 0xffff) // a kernel with that many call sites: share the last id
    return static_cast<SiteId>(sites_.size() - 1);
  SiteId id = static_cast<SiteId>(sites_.size());
  sites_.push_back({file, line, primitive});
  siteIds_.emplace(key, id);
  return id;
}

std::string CtaRunner::describe(SiteId id) const {
  if (id >= sites_.size())
    return "?";
  const Site &s = sites_[id];
  return fmt::format("{}:{} ({})", s.file, s.line, primitiveName(s.primitive));
}

std::string CtaRunner::who(const Lane &lane) const {
  return fmt::format("block {} thread {}", dim3Text({blockIdx_.x, blockIdx_.y, blockIdx_.z}),
                     dim3Text(lane.builtins.thread_idx));
}

std::string CtaRunner::who(uint16_t thread) const {
  if (thread == kSeveral)
    return "several threads";
  if (thread >= lanes_.size())
    return "?";
  return fmt::format("thread {}", dim3Text(lanes_[thread].builtins.thread_idx));
}

std::string CtaRunner::sharedAddress(size_t offset) const {
  return fmt::format("smem_raw + {} (of {} bytes)", offset, launch_.sharedBytes);
}

std::string CtaRunner::outsideShared(const void *p) const {
  auto offset = static_cast<long long>(reinterpret_cast<uintptr_t>(p) -
                                       reinterpret_cast<uintptr_t>(shared_));
  return fmt::format("{} (smem_raw {} {})", p, offset < 0 ? "-" : "+",
                     offset < 0 ? -offset : offset);
}

const GlobalBuffer *CtaRunner::bufferOf(const void *p, size_t bytes) const {
  auto addr = reinterpret_cast<uintptr_t>(p);
  const auto &bufs = launch_.buffers;
  auto it = std::upper_bound(bufs.begin(), bufs.end(), addr, [](uintptr_t a, const GlobalBuffer &b) {
    return a < reinterpret_cast<uintptr_t>(b.base);
  });
  if (it == bufs.begin())
    return nullptr;
  // Buffers may overlap (views of one allocation): look back for any that
  // holds the whole access.
  for (auto b = it; b != bufs.begin();) {
    --b;
    auto base = reinterpret_cast<uintptr_t>(b->base);
    if (addr >= base && addr + bytes <= base + b->bytes)
      return &*b;
  }
  return nullptr;
}

std::string CtaRunner::globalAddress(const void *p, size_t bytes) const {
  auto addr = reinterpret_cast<uintptr_t>(p);
  if (const GlobalBuffer *b = bufferOf(p, bytes))
    return fmt::format("'{}' + {}", b->name, addr - reinterpret_cast<uintptr_t>(b->base));
  // Name the nearest buffer, with the access's offset from its start.
  const GlobalBuffer *nearest = nullptr;
  uintptr_t best = UINTPTR_MAX;
  for (const GlobalBuffer &b : launch_.buffers) {
    auto base = reinterpret_cast<uintptr_t>(b.base), end = base + b.bytes;
    uintptr_t d = addr < base ? base - addr : addr >= end ? addr - end + 1 : 0;
    if (d < best)
      best = d, nearest = &b;
  }
  if (!nearest)
    return fmt::format("{} (no buffer is registered)", p);
  auto base = reinterpret_cast<uintptr_t>(nearest->base);
  long long offset = static_cast<long long>(addr - base);
  return fmt::format("{}: offset {} of '{}', which has {} bytes", p, offset, nearest->name,
                     nearest->bytes);
}

bool CtaRunner::inShared(const void *p, size_t bytes, size_t &offset) const {
  auto addr = reinterpret_cast<uintptr_t>(p), base = reinterpret_cast<uintptr_t>(shared_);
  if (addr < base || addr + bytes > base + launch_.sharedBytes)
    return false;
  offset = addr - base;
  return true;
}

// ---- Built-ins and barriers ---------------------------------------------

const attnc_simt_builtins *CtaRunner::builtins() const { return &lanes_[current_].builtins; }

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
      return fmt::format("{} threads reach {} in block {}, but {} threads of the CTA "
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
    fatal(ReportKind::WarpDivergence, describe(first) + "|" + describe(at), [&] {
      return fmt::format("{} (lane {}) is at {} while {} lanes of its warp are at {}: "
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
      return fmt::format("{}: {} needs all 32 lanes of warp {}, but only {} are live "
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
          return fmt::format("{}: {} row address {} lies outside the {} bytes of dynamic "
                             "shared memory",
                             who(lanes[l]), describe(w.site), outsideShared(row),
                             launch_.sharedBytes);
        });
        continue;
      }
      if (offset % 16) {
        report(ReportKind::Misaligned, describe(w.site), [&] {
          return fmt::format("{}: {} row address {} is not 16-byte aligned", who(lanes[l]),
                             describe(w.site), sharedAddress(offset));
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

void CtaRunner::ldmatrix(unsigned *out, const void *row, bool trans, const char *file,
                         int line) {
  Lane &me = current();
  Primitive p = trans ? Primitive::LdmatrixTrans : Primitive::Ldmatrix;
  me.regs = out;
  me.row = row;
  arrive(me, p, site(file, line, p));
}

void CtaRunner::mma(float *c, const unsigned *a, unsigned b0, unsigned b1, bool bf16,
                    const char *file, int line) {
  Lane &me = current();
  SiteId at = site(file, line, Primitive::Mma);
  Warp &w = warps_[me.warp];
  if (w.arrived == 0)
    w.bf16 = bf16;
  else if (w.bf16 != bf16)
    fatal(ReportKind::WarpDivergence, "mma-type|" + describe(at), [&] {
      return fmt::format("{}: {} with {} while other lanes of its warp use {}", who(me),
                         describe(at), bf16 ? "bf16" : "f16", bf16 ? "f16" : "bf16");
    });
  me.acc = c;
  me.aRegs = a;
  me.b0 = b0;
  me.b1 = b1;
  arrive(me, Primitive::Mma, at);
}

void CtaRunner::shuffleXor(void *value, unsigned bytes, unsigned mask, int laneMask,
                           int width, const char *file, int line) {
  Lane &me = current();
  SiteId at = site(file, line, Primitive::Shuffle);
  if (mask != 0xffffffffu)
    fatal(ReportKind::Unsupported, "shuffle-mask|" + describe(at), [&] {
      return fmt::format("{}: {} with mask {:#x}: the emulator models the full-warp mask "
                         "0xffffffff only",
                         who(me), describe(at), mask);
    });
  if (width < 1 || width > kWarpSize || (width & (width - 1)))
    fatal(ReportKind::Unsupported, "shuffle-width|" + describe(at), [&] {
      return fmt::format("{}: {} with width {}: it must be a power of two in [1, 32]",
                         who(me), describe(at), width);
    });
  Warp &w = warps_[me.warp];
  if (w.arrived == 0)
    w.bytes = bytes;
  else if (w.bytes != bytes)
    fatal(ReportKind::WarpDivergence, "shuffle-bytes|" + describe(at), [&] {
      return fmt::format("{}: {} on a {}-byte value while other lanes of its warp shuffle "
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
      return fmt::format("{}: {} with mask {:#x}: the emulator models the full-warp mask "
                         "0xffffffff only",
                         who(me), describe(at), mask);
    });
  arrive(me, Primitive::Syncwarp, at);
}

// ---- Shared memory: cp.async and reads ----------------------------------

void CtaRunner::cpAsync16(void *dst, const void *src, bool valid, const char *file, int line) {
  Lane &me = current();
  SiteId at = site(file, line, Primitive::CpAsync16);
  size_t offset;
  if (!inShared(dst, 16, offset)) {
    report(ReportKind::SharedOutOfBounds, describe(at), [&] {
      return fmt::format("{}: {} destination {} lies outside the {} bytes of dynamic shared "
                         "memory; the copy is dropped",
                         who(me), describe(at), outsideShared(dst), launch_.sharedBytes);
    });
    return;
  }
  if (offset % 16) {
    report(ReportKind::Misaligned, describe(at) + "|dst", [&] {
      return fmt::format("{}: {} destination {} is not 16-byte aligned; the copy is dropped",
                         who(me), describe(at), sharedAddress(offset));
    });
    return;
  }
  CpAsyncOp op;
  op.offset = static_cast<uint32_t>(offset);
  op.issueEpoch = epoch_;
  op.site = at;
  std::memset(op.data, 0, 16);
  if (valid) {
    bool ok = true;
    if (reinterpret_cast<uintptr_t>(src) % 16) {
      ok = false;
      report(ReportKind::Misaligned, describe(at) + "|src", [&] {
        return fmt::format("{}: {} source {} is not 16-byte aligned; zeros are copied",
                           who(me), describe(at), globalAddress(src, 16));
      });
    } else if (launch_.checks.globalBounds && !bufferOf(src, 16)) {
      ok = false;
      report(ReportKind::GlobalOutOfBounds, describe(at), [&] {
        return fmt::format("{}: {} reads 16 bytes outside every registered buffer, at {}; "
                           "zeros are copied instead",
                           who(me), describe(at), globalAddress(src, 16));
      });
    }
    if (ok)
      std::memcpy(op.data, src, 16);
  }
  // The copy may land at any time until its wait, so it conflicts with
  // every access by another thread that no barrier separates from its
  // issue: earlier ones in this epoch (checked here) and later ones until
  // it lands (reads of a pending byte, checked in readShared).
  enum class Conflict { None, InFlight, ReadBefore, WrittenBefore };
  bool raced = false;
  for (int i = 0; i < 16; ++i) {
    ByteShadow &s = shadow_[offset + i];
    if (!raced && launch_.checks.sharedRaces) {
      Conflict conflict = Conflict::None;
      uint16_t other = kNobody;
      SiteId otherSite = 0;
      if (s.pendingBy != kNobody) {
        conflict = Conflict::InFlight;
        other = s.pendingBy;
        otherSite = s.pendingSite;
      } else if (s.readEpoch == epoch_ && s.reader != kNobody && s.reader != me.index) {
        conflict = Conflict::ReadBefore;
        other = s.reader;
        otherSite = s.readSite;
      } else if (s.writeEpoch == epoch_ && s.writer != me.index) {
        conflict = Conflict::WrittenBefore;
        other = s.writer;
        otherSite = s.writeSite;
      }
      if (conflict != Conflict::None) {
        raced = true;
        size_t byte = offset + i;
        static const char *const kTag[] = {"", "|inflight|", "|war|", "|waw|"};
        report(ReportKind::SharedRace,
               describe(at) + kTag[static_cast<int>(conflict)] + describe(otherSite), [&] {
                 std::string why =
                     conflict == Conflict::InFlight
                         ? fmt::format("a cp.async by {} ({}) to the same bytes is still in "
                                       "flight: their order is undefined",
                                       who(other), describe(otherSite))
                         : fmt::format("{} {} it ({}) since the last __syncthreads", who(other),
                                       conflict == Conflict::WrittenBefore ? "wrote"
                                       : other == kSeveral                ? "read"
                                                                          : "reads",
                                       describe(otherSite));
                 return fmt::format("{}: {} writes {} while {}", who(me), describe(at),
                                    sharedAddress(byte), why);
               });
      }
    }
    s.pendingBy = me.index;
    s.pendingEpoch = epoch_;
    s.pendingSite = at;
  }
  me.uncommitted.push_back(op);
}

void CtaRunner::cpAsyncCommit(const char *file, int line) {
  Lane &me = current();
  (void)site(file, line, Primitive::CpAsyncCommit);
  // An empty group is a group too (PTX ISA, cp.async.commit_group).
  me.committed.push_back(std::move(me.uncommitted));
  me.uncommitted.clear();
}

void CtaRunner::cpAsyncWait(int n, const char *file, int line) {
  Lane &me = current();
  (void)site(file, line, Primitive::CpAsyncWait);
  // PTX ISA, cp.async.wait_group: wait until at most n of the most recent
  // groups are pending and all earlier groups of this thread are complete.
  while (static_cast<int>(me.committed.size()) > n) {
    for (const CpAsyncOp &op : me.committed.front())
      completeCopy(me, op);
    me.committed.pop_front();
  }
}

/// A cp.async lands (at its wait): its 16 bytes become this thread's
/// write, in the current epoch, so that other threads must pass a barrier
/// before reading them.
void CtaRunner::completeCopy(Lane &lane, const CpAsyncOp &op) {
  for (int i = 0; i < 16; ++i) {
    ByteShadow &s = shadow_[op.offset + i];
    s.writer = lane.index;
    s.writeEpoch = epoch_;
    s.writeSite = op.site;
    if (s.pendingBy == lane.index)
      s.pendingBy = kNobody;
  }
  std::memcpy(shared_ + op.offset, op.data, 16);
}

/// Lane `lane` reads the 16 bytes at `offset` (one ldmatrix row).
void CtaRunner::readShared(const Lane &lane, size_t offset, SiteId at, uint8_t *out) {
  const LaunchChecks &checks = launch_.checks;
  bool reported = false;
  for (int i = 0; i < 16; ++i) {
    ByteShadow &s = shadow_[offset + i];
    size_t byte = offset + i;
    if (!reported) {
      if (s.pendingBy != kNobody) {
        uint16_t issuer = s.pendingBy;
        SiteId issuedAt = s.pendingSite;
        // The issuer's own read, or anyone's after a barrier: the copy was
        // never waited for. Another thread's read in the epoch of the
        // issue: nothing orders the two, a race.
        if (issuer == lane.index || s.pendingEpoch < epoch_) {
          if (checks.staleCpAsync) {
            reported = true;
            report(ReportKind::StaleCpAsyncRead, describe(at) + "|" + describe(issuedAt), [&] {
              return fmt::format(
                  "{}: {} reads {} before the cp.async that writes it ({}, by {}) was "
                  "waited for: its group is still pending, so the read sees stale data",
                  who(lane), describe(at), sharedAddress(byte), describe(issuedAt),
                  who(issuer));
            });
          }
        } else if (checks.sharedRaces) {
          reported = true;
          report(ReportKind::SharedRace, describe(at) + "|raw-inflight|" + describe(issuedAt),
                 [&] {
                   return fmt::format("{}: {} reads {} while {} has a cp.async to it in "
                                      "flight ({}) with no __syncthreads between",
                                      who(lane), describe(at), sharedAddress(byte),
                                      who(issuer), describe(issuedAt));
                 });
        }
      } else if (s.writeEpoch == 0) {
        if (checks.uninitialisedShared) {
          reported = true;
          report(ReportKind::UninitialisedSharedRead, describe(at), [&] {
            return fmt::format("{}: {} reads {}, which nothing in this CTA has written",
                               who(lane), describe(at), sharedAddress(byte));
          });
        }
      } else if (s.writeEpoch == epoch_ && s.writer != lane.index && checks.sharedRaces) {
        reported = true;
        uint16_t writer = s.writer;
        SiteId writtenAt = s.writeSite;
        report(ReportKind::SharedRace, describe(at) + "|raw|" + describe(writtenAt), [&] {
          return fmt::format("{}: {} reads {}, which {} wrote ({}, landed at its "
                             "cp_async_wait) with no __syncthreads between",
                             who(lane), describe(at), sharedAddress(byte), who(writer),
                             describe(writtenAt));
        });
      }
    }
    if (s.readEpoch != epoch_) {
      s.readEpoch = epoch_;
      s.reader = lane.index;
    } else if (s.reader != lane.index) {
      s.reader = kSeveral;
    }
    s.readSite = at;
  }
  std::memcpy(out, shared_ + offset, 16);
}

// ---- Global memory ------------------------------------------------------

void CtaRunner::storeGlobal(void *p, const void *value, unsigned bytes, const char *file,
                            int line) {
  Lane &me = current();
  SiteId at = site(file, line, Primitive::StoreGlobal);
  if (reinterpret_cast<uintptr_t>(p) % bytes && (bytes & (bytes - 1)) == 0) {
    report(ReportKind::Misaligned, describe(at), [&] {
      return fmt::format("{}: {} writes {} bytes at {}, which is not {}-byte aligned; the "
                         "store is dropped",
                         who(me), describe(at), bytes, globalAddress(p, bytes), bytes);
    });
    return;
  }
  if (launch_.checks.globalBounds && !bufferOf(p, bytes)) {
    report(ReportKind::GlobalOutOfBounds, describe(at), [&] {
      return fmt::format("{}: {} writes {} bytes outside every registered buffer, at {}; "
                         "the store is dropped",
                         who(me), describe(at), bytes, globalAddress(p, bytes));
    });
    return;
  }
  std::memcpy(p, value, bytes);
}

} // namespace attnc::simt::detail
