#include "runtime/Npy.h"

#include "runtime/AtomicFile.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <regex>
#include <string_view>

namespace attnc {
namespace {
constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

/// The value of `key` in the header dict, as its raw text.
std::string headerField(const std::string &header, const std::string &key) {
  std::smatch m;
  std::regex re("'" + key + "'\\s*:\\s*(\\([^)]*\\)|'[^']*'|True|False)");
  return std::regex_search(header, m, re) ? m[1].str() : std::string();
}
} // namespace

StatusOr<NpyArray> readNpy(const std::string &path, bool allowInt32) {
  std::string bytes;
  if (!readFile(path, bytes))
    return Status::error(fmt::format("{}: cannot open: {}", path,
                                     std::strerror(errno)));
  auto bad = [&](const std::string &why) {
    return Status::error(fmt::format("{}: not a valid .npy file: {}", path, why));
  };
  if (bytes.size() < kMagicLen + 4 || bytes.compare(0, kMagicLen, kMagic) != 0)
    return bad("missing the \\x93NUMPY magic");
  unsigned major = static_cast<unsigned char>(bytes[6]);
  size_t headerLen, headerStart;
  if (major == 1) {
    headerLen = static_cast<unsigned char>(bytes[8]) |
                static_cast<unsigned char>(bytes[9]) << 8;
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return bad("truncated header");
    headerLen = 0;
    for (int i = 3; i >= 0; --i)
      headerLen = headerLen << 8 | static_cast<unsigned char>(bytes[8 + i]);
    headerStart = 12;
  } else {
    return bad(fmt::format("unknown format version {}", major));
  }
  if (bytes.size() < headerStart + headerLen)
    return bad("truncated header");
  std::string header = bytes.substr(headerStart, headerLen);
  std::string descr = headerField(header, "descr");
  bool isInt32 = allowInt32 && descr == "'<i4'";
  if (descr != "'<f4'" && !isInt32)
    return Status::error(fmt::format(
        "{}: dtype {} is not supported; expected float32 ('<f4'){}", path,
        descr.empty() ? "(missing)" : descr,
        allowInt32 ? " or int32 ('<i4')" : ""));
  if (headerField(header, "fortran_order") != "False")
    return Status::error(fmt::format(
        "{}: Fortran-order arrays are not supported; save a C-order array",
        path));
  std::string shapeText = headerField(header, "shape");
  if (shapeText.empty())
    return bad("the header has no shape");
  NpyArray array;
  // "(d0, d1, ...)": non-negative integers whose product fits the file.
  int64_t count = 1;
  {
    std::string_view t = shapeText;
    auto skipSpaces = [&] {
      while (!t.empty() && t.front() == ' ')
        t.remove_prefix(1);
    };
    if (t.empty() || t.front() != '(' || t.back() != ')')
      return bad(fmt::format("shape {} is not a tuple of sizes", shapeText));
    t = t.substr(1, t.size() - 2);
    for (skipSpaces(); !t.empty(); skipSpaces()) {
      int64_t d = 0;
      auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
      if (ec != std::errc() || d < 0)
        return bad(fmt::format("shape {}: each size must be an integer in "
                               "[0, 2^63)",
                               shapeText));
      if (__builtin_mul_overflow(count, d, &count) ||
          count > std::numeric_limits<int64_t>::max() / 4)
        return bad(fmt::format("shape {} has more elements than any file can "
                               "hold",
                               shapeText));
      array.shape.push_back(d);
      t.remove_prefix(end - t.data());
      skipSpaces();
      if (!t.empty() && t.front() == ',')
        t.remove_prefix(1);
      else if (!t.empty())
        return bad(fmt::format("shape {} is not a tuple of sizes", shapeText));
    }
  }
  size_t dataBytes = bytes.size() - headerStart - headerLen;
  if (dataBytes != static_cast<size_t>(count) * sizeof(float))
    return bad(fmt::format("shape {} needs {} bytes of data, the file holds {}",
                           shapeText, count * 4, dataBytes));
  array.isInt32 = isInt32;
  if (isInt32) {
    array.ints.resize(count);
    std::memcpy(array.ints.data(), bytes.data() + headerStart + headerLen,
                dataBytes);
  } else {
    array.data.resize(count);
    std::memcpy(array.data.data(), bytes.data() + headerStart + headerLen,
                dataBytes);
  }
  return array;
}

Status writeNpy(const std::string &path, const std::vector<int64_t> &shape,
                const float *data) {
  std::string dims;
  int64_t count = 1;
  for (int64_t d : shape) {
    dims += fmt::format("{}, ", d);
    count *= d;
  }
  if (shape.size() > 1)
    dims.resize(dims.size() - 2); // "(a, b)"; one dim keeps "(a,)"
  else if (!shape.empty())
    dims.pop_back();
  std::string header = fmt::format(
      "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}", dims);
  // Pad so that the data starts on a 64-byte boundary, ending in '\n'.
  size_t total = kMagicLen + 4 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string bytes(kMagic, kMagicLen);
  bytes += std::string("\x01\x00", 2);
  uint16_t len = static_cast<uint16_t>(header.size());
  bytes.push_back(static_cast<char>(len & 0xff));
  bytes.push_back(static_cast<char>(len >> 8));
  bytes += header;
  bytes.append(reinterpret_cast<const char *>(data), count * sizeof(float));
  return writeFileAtomically(path, bytes);
}

} // namespace attnc
