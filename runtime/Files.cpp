#include "runtime/Files.h"

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <new>
#include <sys/stat.h>
#include <unistd.h>

namespace attnc {
namespace {

/// Errors of the machine (the exit code for I/O) rather than of the path.
bool isIoErrno(int e) {
  return e == ENOSPC || e == EIO || e == EDQUOT || e == EFBIG || e == EROFS;
}

Status errnoStatus(const std::string &message, int e) {
  std::string text = fmt::format("{}: {}", message, std::strerror(e));
  return isIoErrno(e) ? Status::ioError(std::move(text))
                      : Status::error(std::move(text));
}

/// Writes all of `bytes` to `fd`; false with errno set when it cannot.
bool writeAll(int fd, const std::string &bytes) {
  const char *p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      if (n == 0)
        errno = EIO;
      return false;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

/// Writes all of `bytes` to `fd` and closes it; false with `error` set
/// (a failed close counts: NFS reports write errors there).
bool writeAndClose(int fd, const std::string &bytes, int &error) {
  bool ok = writeAll(fd, bytes);
  error = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    error = errno;
  }
  return ok;
}

/// `bytes` into a new temporary file beside `target`, renamed over it.
/// `mode`: the new file's permissions, under the umask; with `exactMode`
/// exactly those (the permissions of the file it replaces).
Status atomicReplace(const std::string &shown, const std::string &target,
                     const std::string &bytes, mode_t mode,
                     bool exactMode = false) {
  static std::atomic<uint64_t> counter{0};
  size_t slash = target.rfind('/');
  std::string dir =
      slash == std::string::npos ? "" : target.substr(0, slash + 1);
  std::string base =
      slash == std::string::npos ? target : target.substr(slash + 1);
  std::string tmp =
      fmt::format("{}{}.tmp-{}-{}", dir, base, getpid(), counter++);
  // O_EXCL | O_NOFOLLOW: never write through something planted at the name.
  int fd = ::open(tmp.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) {
    int e = errno; // before the message is formatted
    return errnoStatus(
        fmt::format("{}: cannot write (no temporary file beside it)", shown),
        e);
  }
  if (exactMode)
    (void)::fchmod(fd, mode); // best effort: the data matters more
  int e = 0;
  if (!writeAndClose(fd, bytes, e)) {
    ::unlink(tmp.c_str());
    return errnoStatus(fmt::format("{}: cannot write", shown), e);
  }
  if (std::rename(tmp.c_str(), target.c_str()) != 0) {
    e = errno;
    ::unlink(tmp.c_str());
    return errnoStatus(fmt::format("{}: cannot rename into place", shown), e);
  }
  return Status::success();
}

} // namespace

const char *fileKind(unsigned mode) {
  switch (mode & S_IFMT) {
  case S_IFREG:
    return "a regular file";
  case S_IFDIR:
    return "a directory";
  case S_IFCHR:
    return "a character device";
  case S_IFBLK:
    return "a block device";
  case S_IFIFO:
    return "a FIFO";
  case S_IFSOCK:
    return "a socket";
  case S_IFLNK:
    return "a symbolic link";
  }
  return "not a regular file";
}

bool pathExists(const std::string &path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

StatusOr<std::string> readRegularFile(const std::string &path, uint64_t limit) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused
  // below like every other file that is not regular.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno; // before the message is formatted
    return errnoStatus(fmt::format("{}: cannot open", path), e);
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int e = errno; // before the message is formatted
    return errnoStatus(fmt::format("{}: cannot stat", path), e);
  }
  if (!S_ISREG(st.st_mode))
    return Status::error(fmt::format("{}: is {}, not a regular file", path,
                                     fileKind(st.st_mode)));
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > limit)
    return Status::error(fmt::format(
        "{}: is {} bytes; at most {} bytes are read from such a file", path,
        size, limit));
  std::string out;
  try {
    out.resize(size);
  } catch (const std::bad_alloc &) {
    return Status::ioError(
        fmt::format("{}: {} bytes do not fit in memory", path, size));
  }
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::read(fd, out.data() + got, size - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno; // before the message is formatted
      return errnoStatus(fmt::format("{}: cannot read", path), e);
    }
    if (n == 0)
      break; // it shrank meanwhile: what is there is what is read
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

Status writeOutputFile(const std::string &path, const std::string &bytes) {
  if (path.empty())
    return Status::error("an output file name is empty");
  std::string target = path;
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    char *real = ::realpath(path.c_str(), nullptr);
    if (!real) {
      int e = errno; // before the message is formatted
      return errnoStatus(fmt::format("{}: is a symbolic link that cannot be "
                                     "followed",
                                     path),
                         e);
    }
    target = real;
    std::free(real);
  }
  if (::stat(target.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      int e = errno; // before the message is formatted
      return errnoStatus(fmt::format("{}: cannot stat", path), e);
    }
    return atomicReplace(path, target, bytes, 0666); // new: the umask applies
  }
  if (S_ISREG(st.st_mode))
    return atomicReplace(path, target, bytes, st.st_mode & 07777,
                         /*exactMode=*/true);
  if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
    int fd = ::open(target.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
      int e = errno; // before the message is formatted
      return errnoStatus(fmt::format("{}: cannot open {} for writing", path,
                                     fileKind(st.st_mode)),
                         e);
    }
    int e = 0;
    if (!writeAndClose(fd, bytes, e))
      return errnoStatus(fmt::format("{}: cannot write", path), e);
    return Status::success();
  }
  return Status::error(fmt::format(
      "{}: is {}; attnc writes only regular files, FIFOs and character "
      "devices",
      path, fileKind(st.st_mode)));
}

Status replaceFileAtomically(const std::string &path,
                             const std::string &bytes) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) &&
      !S_ISLNK(st.st_mode))
    return Status::error(
        fmt::format("{}: is {}; left in place", path, fileKind(st.st_mode)));
  return atomicReplace(path, path, bytes, 0644);
}

} // namespace attnc
