#include "runtime/Dispatch.h"

namespace attnc {

Dispatcher::Dispatcher(KernelCache &cache, TuningDb db,
                       CpuCompileOptions options)
    : cache_(cache), db_(std::move(db)), backend_(options) {}

StatusOr<Dispatcher::Choice> Dispatcher::select(const KernelIr &ir,
                                                int64_t batch, int64_t seqQ,
                                                int64_t seqKv) {
  auto key = std::make_tuple(ir.text(), batch, seqQ, seqKv);
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = chosen_.find(key); it != chosen_.end()) {
    Choice again = it->second;
    again.from = CacheSource::Memory;
    return again;
  }
  // Decode grows seq_kv by one a step: forget old shapes rather than grow
  // without bound (a miss costs a database scan and a kernel-cache hit;
  // the tuned op of each record is built once, in tuned_).
  if (chosen_.size() >= 4096)
    chosen_.clear();
  if (tuned_.size() >= 4096)
    tuned_.clear();

  Choice choice;
  std::optional<TuningRecord> record =
      db_.lookup(ir.problemKey(), hostTarget(), batch, seqQ, seqKv);
  KernelIr chosen = ir;
  if (record) {
    // The tuned tiling, set on this kernel's own op: whatever else the op
    // says (regions, inputs, ...) is kept.
    const auto &t = record->schedule;
    auto tunedKey = std::make_tuple(ir.text(), t.blockM, t.blockN, t.microM,
                                    t.microN, t.prefetch);
    auto it = tuned_.find(tunedKey);
    if (it == tuned_.end()) {
      Schedule schedule;
      schedule.blockM = t.blockM;
      schedule.blockN = t.blockN;
      schedule.microM = t.microM;
      schedule.microN = t.microN;
      schedule.prefetch = t.prefetch;
      auto tuned = ir.withSchedule(schedule);
      if (!tuned.ok())
        return tuned.status();
      it = tuned_.emplace(std::move(tunedKey), std::move(*tuned)).first;
    }
    chosen = it->second;
    choice.tuned = true;
    choice.exact = record->batch == batch && record->seqQ == seqQ &&
                   record->seqKv == seqKv;
  }
  auto kernel = cache_.get(chosen, backend_, &choice.from);
  if (!kernel.ok())
    return kernel.status();
  choice.kernel = *kernel;
  chosen_[key] = choice;
  return choice;
}

} // namespace attnc
