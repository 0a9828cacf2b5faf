#include "runtime/cuda/simt/Reports.h"

#include <fmt/format.h>

namespace attnc::simt {

const char *toString(ReportKind kind) {
  switch (kind) {
  case ReportKind::SharedRace:
    return "shared-memory race";
  case ReportKind::StaleCpAsyncRead:
    return "stale cp.async read";
  case ReportKind::UninitialisedSharedRead:
    return "uninitialised shared read";
  case ReportKind::GlobalOutOfBounds:
    return "global out of bounds";
  case ReportKind::SharedOutOfBounds:
    return "shared out of bounds";
  case ReportKind::Misaligned:
    return "misaligned address";
  case ReportKind::Deadlock:
    return "deadlock";
  case ReportKind::WarpDivergence:
    return "divergent warp collective";
  case ReportKind::Unsupported:
    return "unsupported";
  }
  return "?";
}

bool LaunchReport::has(ReportKind kind) const {
  for (const Report &r : reports)
    if (r.kind == kind)
      return true;
  return false;
}

namespace detail {

void ReportSink::add(ReportKind kind, const std::string &signature,
                     const std::function<std::string()> &message) {
  ++total_;
  auto it = bySignature_.find(signature);
  if (it != bySignature_.end()) {
    ++entries_[it->second].occurrences;
    return;
  }
  if (entries_.size() >= maxReports_)
    return;
  bySignature_.emplace(signature, entries_.size());
  entries_.push_back({kind, signature, message(), 1});
}

void ReportSink::merge(const ReportSink &other) {
  for (const Entry &e : other.entries_) {
    auto it = bySignature_.find(e.signature);
    if (it != bySignature_.end()) {
      entries_[it->second].occurrences += e.occurrences;
    } else if (entries_.size() < maxReports_) {
      bySignature_.emplace(e.signature, entries_.size());
      entries_.push_back(e);
    }
  }
  total_ += other.total_;
}

void ReportSink::exportTo(LaunchReport &out) const {
  out.reports.clear();
  for (const Entry &e : entries_)
    out.reports.push_back({e.kind, e.message, e.occurrences});
  out.total = total_;
}

Status summarize(const LaunchReport &report) {
  if (report.total == 0)
    return Status::success();
  std::string text =
      fmt::format("the SIMT emulator found {} problem{} in the kernel",
                  report.total, report.total == 1 ? "" : "s");
  uint64_t listed = 0;
  for (const Report &r : report.reports) {
    listed += r.occurrences;
    text += fmt::format("\n  {}: {}", toString(r.kind), r.message);
    if (r.occurrences > 1)
      text += fmt::format(" ({} times)", r.occurrences);
  }
  if (listed < report.total)
    text += fmt::format(
        "\n  ... and {} more, not listed (LaunchChecks::maxReports)",
        report.total - listed);
  return Status::error(text);
}

} // namespace detail
} // namespace attnc::simt
