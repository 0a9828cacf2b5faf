#ifndef ATTNC_RUNTIME_DISPATCH_H
#define ATTNC_RUNTIME_DISPATCH_H

// Shape dispatch: from the run-time shape, the kernel variant to run. The
// tuning database's schedule when it covers the shape (exact or nearest
// bucket), set on the kernel's op, else the heuristic's; kernels come from
// the kernel cache, and the choice per (kernel, shape) is remembered, so a
// new length never recompiles and a repeated one costs a map lookup.

#include "runtime/CpuKernel.h"
#include "runtime/KernelCache.h"
#include "runtime/TuningDb.h"

#include <map>
#include <mutex>

namespace attnc {

class Dispatcher {
public:
  /// `db` may be empty; `cache` must outlive the dispatcher. `options`
  /// apply to every kernel it compiles.
  Dispatcher(KernelCache &cache, TuningDb db, CpuCompileOptions options = {});

  struct Choice {
    std::shared_ptr<const CpuKernel> kernel;
    bool tuned = false;  // the schedule came from the tuning database
    bool exact = false;  // ... for exactly this shape
    CacheSource from = CacheSource::Memory; // where the kernel came from
  };
  /// The kernel for `ir` at this shape.
  StatusOr<Choice> select(const KernelIr &ir, int64_t batch, int64_t seqQ,
                          int64_t seqKv);

private:
  KernelCache &cache_;
  TuningDb db_;
  CpuBackend backend_;
  std::mutex mutex_;
  std::map<std::tuple<std::string, int64_t, int64_t, int64_t>, Choice> chosen_;
  /// The op with a record's schedule set, per (kernel text, schedule): one
  /// parse per record, not per shape it covers.
  std::map<std::tuple<std::string, int64_t, int64_t, int64_t, int64_t, int64_t>,
           KernelIr>
      tuned_;
};

} // namespace attnc

#endif
