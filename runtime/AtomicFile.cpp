#include "runtime/AtomicFile.h"

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <unistd.h>

namespace attnc {

bool readFile(const std::string &path, std::string &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  out.assign(std::istreambuf_iterator<char>(in), {});
  return true;
}

Status writeFileAtomically(const std::string &path, const std::string &bytes) {
  static std::atomic<uint64_t> counter{0};
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string tmp = fmt::format("{}.tmp-{}-{}-{}", dir, base, getpid(), counter++);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      return Status::error(fmt::format("{}: cannot write: {}", path,
                                       std::strerror(errno)));
    out.write(bytes.data(), bytes.size());
    if (!out.flush()) {
      std::remove(tmp.c_str());
      return Status::error(fmt::format("{}: write failed", path));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    return Status::error(
        fmt::format("{}: cannot rename into place: {}", path, why));
  }
  return Status::success();
}

} // namespace attnc
