#ifndef ATTNC_RUNTIME_CUDA_SIMT_REPORTS_H
#define ATTNC_RUNTIME_CUDA_SIMT_REPORTS_H

// Findings of one launch, collected per OS thread and merged at the end. A
// finding is identified by a signature (its kind and the source locations
// involved): a broken kernel repeats the same finding in every warp and
// CTA, and a report should list distinct problems with their counts, not
// thousands of copies.

#include "runtime/cuda/simt/Emulator.h"

#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

namespace attnc::simt::detail {

class ReportSink {
public:
  explicit ReportSink(unsigned maxReports) : maxReports_(maxReports) {}

  /// Counts one occurrence of the finding `signature`; `message` is called
  /// only for the first occurrence of a finding that is kept.
  void add(ReportKind kind, const std::string &signature,
           const std::function<std::string()> &message);
  /// Adds `other`'s findings (kept ones first come first).
  void merge(const ReportSink &other);
  uint64_t total() const { return total_; }
  void exportTo(LaunchReport &out) const;

private:
  struct Entry {
    ReportKind kind;
    std::string signature, message;
    uint64_t occurrences;
  };
  unsigned maxReports_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> bySignature_;
  uint64_t total_ = 0;
};

/// The Status of a launch with these findings: an error listing them, or
/// success when there are none.
Status summarize(const LaunchReport &report);

} // namespace attnc::simt::detail

#endif
