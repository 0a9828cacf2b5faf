#include "runtime/cuda/simt/Cta.h"

// The memory side of CtaRunner: cp.async groups, the shadow of dynamic
// shared memory and what it finds (races, uninitialised and stale reads),
// and global accesses against the registered buffers. Cta.cpp schedules
// the fibers and runs the collectives.

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace attnc::simt::detail {

// ---- Addresses ----------------------------------------------------------

std::string CtaRunner::sharedAddress(size_t offset) const {
  return fmt::format("smem_raw + {} (of {} bytes)", offset,
                     launch_.sharedBytes);
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
  auto it = std::upper_bound(bufs.begin(), bufs.end(), addr,
                             [](uintptr_t a, const GlobalBuffer &b) {
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
    return fmt::format("'{}' + {}", b->name,
                       addr - reinterpret_cast<uintptr_t>(b->base));
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
  return fmt::format("{}: offset {} of '{}', which has {} bytes", p, offset,
                     nearest->name, nearest->bytes);
}

bool CtaRunner::inShared(const void *p, size_t bytes, size_t &offset) const {
  auto addr = reinterpret_cast<uintptr_t>(p),
       base = reinterpret_cast<uintptr_t>(shared_);
  if (addr < base || addr + bytes > base + launch_.sharedBytes)
    return false;
  offset = addr - base;
  return true;
}

// ---- Shared memory: cp.async and reads ----------------------------------

void CtaRunner::cpAsync16(void *dst, const void *src, bool valid,
                          const char *file, int line) {
  Lane &me = current();
  SiteId at = site(file, line, Primitive::CpAsync16);
  size_t offset;
  if (!inShared(dst, 16, offset)) {
    report(ReportKind::SharedOutOfBounds, describe(at), [&] {
      return fmt::format(
          "{}: {} destination {} lies outside the {} bytes of dynamic shared "
          "memory; the copy is dropped",
          who(me), describe(at), outsideShared(dst), launch_.sharedBytes);
    });
    return;
  }
  if (offset % 16) {
    report(ReportKind::Misaligned, describe(at) + "|dst", [&] {
      return fmt::format(
          "{}: {} destination {} is not 16-byte aligned; the copy is dropped",
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
        return fmt::format(
            "{}: {} source {} is not 16-byte aligned; zeros are copied",
            who(me), describe(at), globalAddress(src, 16));
      });
    } else if (launch_.checks.globalBounds && !bufferOf(src, 16)) {
      ok = false;
      report(ReportKind::GlobalOutOfBounds, describe(at), [&] {
        return fmt::format(
            "{}: {} reads 16 bytes outside every registered buffer, at {}; "
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
      } else if (s.readEpoch == epoch_ && s.reader != kNobody &&
                 s.reader != me.index) {
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
               describe(at) + kTag[static_cast<int>(conflict)] +
                   describe(otherSite),
               [&] {
                 std::string why =
                     conflict == Conflict::InFlight
                         ? fmt::format("a cp.async by {} ({}) to the same "
                                       "bytes is still in "
                                       "flight: their order is undefined",
                                       who(other), describe(otherSite))
                         : fmt::format(
                               "{} {} it ({}) since the last __syncthreads",
                               who(other),
                               conflict == Conflict::WrittenBefore ? "wrote"
                               : other == kSeveral                 ? "read"
                                                                   : "reads",
                               describe(otherSite));
                 return fmt::format("{}: {} writes {} while {}", who(me),
                                    describe(at), sharedAddress(byte), why);
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
void CtaRunner::readShared(const Lane &lane, size_t offset, SiteId at,
                           uint8_t *out) {
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
            report(ReportKind::StaleCpAsyncRead,
                   describe(at) + "|" + describe(issuedAt), [&] {
                     return fmt::format("{}: {} reads {} before the cp.async "
                                        "that writes it ({}, by {}) was "
                                        "waited for: its group is still "
                                        "pending, so the read sees stale data",
                                        who(lane), describe(at),
                                        sharedAddress(byte), describe(issuedAt),
                                        who(issuer));
                   });
          }
        } else if (checks.sharedRaces) {
          reported = true;
          report(ReportKind::SharedRace,
                 describe(at) + "|raw-inflight|" + describe(issuedAt), [&] {
                   return fmt::format(
                       "{}: {} reads {} while {} has a cp.async to it in "
                       "flight ({}) with no __syncthreads between",
                       who(lane), describe(at), sharedAddress(byte),
                       who(issuer), describe(issuedAt));
                 });
        }
      } else if (s.writeEpoch == 0) {
        if (checks.uninitialisedShared) {
          reported = true;
          report(ReportKind::UninitialisedSharedRead, describe(at), [&] {
            return fmt::format(
                "{}: {} reads {}, which nothing in this CTA has written",
                who(lane), describe(at), sharedAddress(byte));
          });
        }
      } else if (s.writeEpoch == epoch_ && s.writer != lane.index &&
                 checks.sharedRaces) {
        reported = true;
        uint16_t writer = s.writer;
        SiteId writtenAt = s.writeSite;
        report(ReportKind::SharedRace,
               describe(at) + "|raw|" + describe(writtenAt), [&] {
                 return fmt::format(
                     "{}: {} reads {}, which {} wrote ({}, landed at its "
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

void CtaRunner::storeGlobal(void *p, const void *value, unsigned bytes,
                            const char *file, int line) {
  Lane &me = current();
  SiteId at = site(file, line, Primitive::StoreGlobal);
  if (reinterpret_cast<uintptr_t>(p) % bytes && (bytes & (bytes - 1)) == 0) {
    report(ReportKind::Misaligned, describe(at), [&] {
      return fmt::format(
          "{}: {} writes {} bytes at {}, which is not {}-byte aligned; the "
          "store is dropped",
          who(me), describe(at), bytes, globalAddress(p, bytes), bytes);
    });
    return;
  }
  if (launch_.checks.globalBounds && !bufferOf(p, bytes)) {
    report(ReportKind::GlobalOutOfBounds, describe(at), [&] {
      return fmt::format(
          "{}: {} writes {} bytes outside every registered buffer, at {}; "
          "the store is dropped",
          who(me), describe(at), bytes, globalAddress(p, bytes));
    });
    return;
  }
  std::memcpy(p, value, bytes);
}

void CtaRunner::loadGlobal(void *out, const void *p, unsigned bytes,
                           const char *file, int line) {
  Lane &me = current();
  SiteId at = site(file, line, Primitive::LoadGlobal);
  std::memset(out, 0, bytes);
  if (reinterpret_cast<uintptr_t>(p) % bytes && (bytes & (bytes - 1)) == 0) {
    report(ReportKind::Misaligned, describe(at), [&] {
      return fmt::format(
          "{}: {} reads {} bytes at {}, which is not {}-byte aligned; it "
          "reads 0",
          who(me), describe(at), bytes, globalAddress(p, bytes), bytes);
    });
    return;
  }
  if (launch_.checks.globalBounds && !bufferOf(p, bytes)) {
    report(ReportKind::GlobalOutOfBounds, describe(at), [&] {
      return fmt::format(
          "{}: {} reads {} bytes outside every registered buffer, at {}; it "
          "reads 0",
          who(me), describe(at), bytes, globalAddress(p, bytes));
    });
    return;
  }
  std::memcpy(out, p, bytes);
}

} // namespace attnc::simt::detail
