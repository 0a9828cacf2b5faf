#include "runtime/Dispatch.h"

#include "runtime/detail/CpuCompiler.h"

#include <cmath>

namespace attnc {

Dispatcher::Dispatcher(KernelCache &cache, TuningDb db,
                       CpuCompileOptions options)
    : cache_(cache), db_(std::move(db)), options_(std::move(options)) {}

StatusOr<Dispatcher::Choice> Dispatcher::select(const std::string &source,
                                                int64_t batch, int64_t seqQ,
                                                int64_t seqKv) {
  auto key = std::make_tuple(source, batch, seqQ, seqKv);
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = chosen_.find(key); it != chosen_.end()) {
    Choice again = it->second;
    again.from = CacheSource::Memory;
    return again;
  }
  // Decode grows seq_kv by one a step: forget old shapes rather than grow
  // without bound (a miss costs a database scan and a kernel-cache hit).
  if (chosen_.size() >= 4096)
    chosen_.clear();

  auto problem = problems_.find(source);
  if (problem == problems_.end()) {
    // The front end alone resolves the spec: no need to compile the
    // heuristic kernel when the database has a tuned one.
    auto frontEnd = detail::CpuFrontEnd::run(source, options_);
    if (!frontEnd.ok())
      return frontEnd.status();
    const KernelSpec &resolved = (*frontEnd)->spec();
    problem = problems_
                  .emplace(source, std::make_pair(problemKey(resolved), resolved))
                  .first;
  }
  Choice choice;
  std::optional<TuningRecord> record =
      db_.lookup(problem->second.first, hostTarget(), batch, seqQ, seqKv);
  if (record) {
    KernelSpec tuned = problem->second.second;
    tuned.blockM = record->schedule.blockM;
    tuned.blockN = record->schedule.blockN;
    tuned.microM = record->schedule.microM;
    tuned.microN = record->schedule.microN;
    auto kernel = cache_.get(tuned, options_, &choice.from);
    if (!kernel.ok())
      return kernel.status();
    choice.kernel = *kernel;
    choice.tuned = true;
    choice.exact = record->batch == batch && record->seqQ == seqQ &&
                   record->seqKv == seqKv;
  } else {
    auto kernel = cache_.get(source, options_, &choice.from);
    if (!kernel.ok())
      return kernel.status();
    choice.kernel = *kernel;
  }
  chosen_[key] = choice;
  return choice;
}

} // namespace attnc
