#include "runtime/Dispatch.h"

#include "runtime/detail/CpuCompiler.h"

#include <cmath>

namespace attnc {

Dispatcher::Dispatcher(KernelCache &cache, TuningDb db)
    : cache_(cache), db_(std::move(db)) {}

StatusOr<Dispatcher::Choice> Dispatcher::select(const std::string &source,
                                                int64_t batch, int64_t seqQ,
                                                int64_t seqKv) {
  auto key = std::make_tuple(source, batch, seqQ, seqKv);
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = chosen_.find(key); it != chosen_.end())
    return it->second;
  // Decode grows seq_kv by one a step: forget old shapes rather than grow
  // without bound (a miss costs a database scan and a kernel-cache hit).
  if (chosen_.size() >= 4096)
    chosen_.clear();

  auto problem = problems_.find(source);
  if (problem == problems_.end()) {
    // The front end alone resolves the spec: no need to compile the
    // heuristic kernel when the database has a tuned one.
    auto frontEnd = detail::CpuFrontEnd::run(source, {});
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
    auto kernel = cache_.get(tuned);
    if (!kernel.ok())
      return kernel.status();
    choice = {*kernel, true,
              record->batch == batch && record->seqQ == seqQ &&
                  record->seqKv == seqKv};
  } else {
    auto kernel = cache_.get(source);
    if (!kernel.ok())
      return kernel.status();
    choice = {*kernel, false, false};
  }
  chosen_[key] = choice;
  return choice;
}

} // namespace attnc
