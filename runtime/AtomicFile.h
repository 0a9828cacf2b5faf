#ifndef ATTNC_RUNTIME_ATOMICFILE_H
#define ATTNC_RUNTIME_ATOMICFILE_H

#include "runtime/Status.h"

#include <string>

namespace attnc {

/// Reads the whole file at `path` into `out`. False (errno set by the
/// failed open) when it cannot be opened.
bool readFile(const std::string &path, std::string &out);

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename: readers (threads or processes) see the old file or the
/// whole new one, and a failed write leaves nothing behind.
Status writeFileAtomically(const std::string &path, const std::string &bytes);

} // namespace attnc

#endif
