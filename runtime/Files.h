#ifndef ATTNC_RUNTIME_FILES_H
#define ATTNC_RUNTIME_FILES_H

// Every file the runtime and the attnc tool read or write for a user goes
// through these (the SIMT emulator's own temporary sources do not): inputs
// are read only
// from regular files and only up to a limit (no directory, FIFO or /dev/zero
// is read until memory runs out), and outputs never turn a device node,
// FIFO or directory into a regular file.

#include "runtime/Status.h"

#include <cstdint>
#include <string>

namespace attnc {

/// Limits on what is read: spec files and tuning databases are text;
/// .npy inputs hold at most 2^32 elements of 4 bytes (attnc run's limit,
/// checkTensorSizes),
/// plus a header; kernel cache entries hold one object file or CUBIN.
constexpr uint64_t kMaxTextFileBytes = uint64_t(64) << 20;
constexpr uint64_t kMaxNpyFileBytes = (uint64_t(4) << 32) + (uint64_t(1) << 20);
constexpr uint64_t kMaxCacheEntryBytes = uint64_t(1) << 30;

/// The bytes of the regular file at `path` (a symbolic link is followed).
/// Errors name the path and say what is wrong: it cannot be opened, it is
/// a directory, FIFO, device or socket, or it is larger than `limit` bytes
/// (the size is checked before anything is allocated).
StatusOr<std::string> readRegularFile(const std::string &path, uint64_t limit);

/// Writes `bytes` to a file the user named (an output of the attnc tool, a
/// tuning database, a plot):
/// - none there, or a regular file: replaced atomically, through a
///   temporary file in the same directory and a rename (readers see the
///   old file or the whole new one; a failed write leaves the old one);
/// - a symbolic link: followed, and its target treated by these rules (a
///   link whose target does not exist is refused);
/// - a FIFO or character device (/dev/null, a terminal): written through,
///   never replaced;
/// - a directory, block device or socket: refused, saying which.
/// A failed write (a full disk, an I/O error) is an io error
/// (Status::isIo) naming the path and the reason.
Status writeOutputFile(const std::string &path, const std::string &bytes);

/// Writes `bytes` to `path` inside a directory attnc owns (the kernel
/// cache): replaces a regular file or creates one atomically, never follows
/// a symbolic link out of the directory (the link itself is replaced) and
/// leaves anything else in place with an error saying what it is.
Status replaceFileAtomically(const std::string &path, const std::string &bytes);

/// Whether anything (even a dangling symbolic link) is at `path`.
bool pathExists(const std::string &path);

/// "a directory", "a FIFO", "a character device", ... for an st_mode.
const char *fileKind(unsigned mode);

} // namespace attnc

#endif
