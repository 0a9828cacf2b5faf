#ifndef ATTNC_RUNTIME_TUNINGDB_H
#define ATTNC_RUNTIME_TUNINGDB_H

// The tuning database: the fastest schedule measured for a kernel at a
// shape, with provenance, stored as JSON. Written by `attnc tune`, read by
// the Dispatcher.

#include "runtime/Spec.h"
#include "runtime/Status.h"

#include <optional>
#include <string>
#include <vector>

namespace attnc {

struct TunedSchedule {
  int64_t blockM = 0, blockN = 0, microM = 0, microN = 0;
  int64_t prefetch = 0; // decode rows form: 1 into L1, 2 into L2; 0 unset
};

struct TuningRecord {
  std::string problem; // KernelIr::problemKey(): what the kernel computes
  std::string target;  // the host target the timing holds for
  int64_t batch = 0, seqQ = 0, seqKv = 0;
  TunedSchedule schedule;
  double millis = 0; // median time of the winner
  // Provenance.
  std::string device, llvmVersion, attncVersion, date;
};

class TuningDb {
public:
  /// Reads `path`; a missing file is an empty database.
  static StatusOr<TuningDb> load(const std::string &path);
  /// A database from its JSON text; errors name `name` (a path).
  static StatusOr<TuningDb> parse(const std::string &text,
                                  const std::string &name);
  /// Writes through a temporary file and a rename.
  Status save(const std::string &path) const;

  /// Adds `record`, replacing one for the same problem, target and shape.
  void add(TuningRecord record);
  const std::vector<TuningRecord> &records() const { return records_; }

  /// The record for this shape: exact, else the nearest one within a
  /// factor of 2 in seq_q and in seq_kv; none if the database does not
  /// cover the shape.
  std::optional<TuningRecord> lookup(const std::string &problem,
                                     const std::string &target, int64_t batch,
                                     int64_t seqQ, int64_t seqKv) const;

private:
  std::vector<TuningRecord> records_;
};

/// The host target id used for kernel cache keys and tuning records.
const std::string &hostTarget();
/// Versions recorded as provenance.
const char *attncVersion();
const char *llvmVersion();

} // namespace attnc

#endif
