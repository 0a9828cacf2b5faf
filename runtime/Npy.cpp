#include "runtime/Npy.h"

#include "runtime/Files.h"
#include "runtime/Half.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cctype>

#include <charconv>
#include <cstring>
#include <limits>
#include <string_view>

namespace attnc {
namespace {
constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

constexpr size_t kMaxHeaderBytes = 65536;

/// The header dict of a .npy file, read by a bounded hand-written parser
/// (no regex: a long header must not recurse): a Python dict literal with
/// the keys 'descr' (a string), 'fortran_order' (True or False) and
/// 'shape' (a tuple of non-negative integers).
struct Header {
  std::string descr;
  int fortranOrder = -1; // -1: missing
  bool hasShape = false;
  std::vector<int64_t> shape;
};

class HeaderParser {
public:
  explicit HeaderParser(std::string_view text) : t_(text) {}

  Status parse(Header &h) {
    skip();
    if (!eat('{'))
      return fail("it does not start with '{'");
    for (skip(); !eat('}'); skip()) {
      std::string key;
      if (Status st = string(key); !st.ok())
        return st;
      skip();
      if (!eat(':'))
        return fail(fmt::format("no ':' after the key '{}'", key));
      skip();
      Status st = key == "descr"           ? string(h.descr)
                  : key == "fortran_order" ? boolean(h.fortranOrder)
                  : key == "shape"         ? tuple(h.shape, h.hasShape)
                                           : fail(fmt::format(
                                         "unknown key '{}'; expected descr, "
                                         "fortran_order and shape",
                                         printable(key)));
      if (!st.ok())
        return st;
      skip();
      if (!eat(',')) {
        skip();
        if (!eat('}'))
          return fail("expected ',' or '}' after a value");
        break;
      }
    }
    skip();
    if (!t_.empty())
      return fail("text after the closing '}'");
    return Status::success();
  }

private:
  Status fail(const std::string &why) const { return Status::error(why); }
  void skip() {
    while (!t_.empty() && (t_[0] == ' ' || t_[0] == '\n' || t_[0] == '\t'))
      t_.remove_prefix(1);
  }
  bool eat(char c) {
    if (t_.empty() || t_[0] != c)
      return false;
    t_.remove_prefix(1);
    return true;
  }
  static std::string printable(const std::string &s) {
    std::string out;
    for (char c : s.substr(0, 32))
      out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
    return s.size() > 32 ? out + "..." : out;
  }
  Status string(std::string &out) {
    if (t_.empty() || (t_[0] != '\'' && t_[0] != '"'))
      return fail("expected a quoted string");
    char quote = t_[0];
    size_t end = t_.find(quote, 1);
    if (end == std::string_view::npos)
      return fail("a string is not closed");
    out = std::string(t_.substr(1, end - 1));
    t_.remove_prefix(end + 1);
    return Status::success();
  }
  Status boolean(int &out) {
    if (t_.substr(0, 4) == "True")
      out = 1, t_.remove_prefix(4);
    else if (t_.substr(0, 5) == "False")
      out = 0, t_.remove_prefix(5);
    else
      return fail("fortran_order must be True or False");
    return Status::success();
  }
  Status tuple(std::vector<int64_t> &out, bool &has) {
    has = true;
    out.clear(); // a repeated 'shape' key: the last one counts
    const std::string_view start = t_;
    auto notATuple = [&] {
      size_t close = start.find(')');
      std::string_view raw =
          start.substr(0, close == std::string_view::npos ? 32 : close + 1);
      return fail(fmt::format("shape {} is not a tuple of sizes",
                              printable(std::string(raw))));
    };
    if (!eat('('))
      return notATuple();
    for (skip(); !eat(')'); skip()) {
      if (out.size() == kMaxRank)
        return fail(fmt::format("shape has more than {} dimensions", kMaxRank));
      int64_t d = 0;
      auto [end, ec] = std::from_chars(t_.data(), t_.data() + t_.size(), d);
      if (ec != std::errc() || d < 0)
        return fail("shape: each size must be an integer in [0, 2^63)");
      out.push_back(d);
      t_.remove_prefix(end - t_.data());
      skip();
      if (!eat(',')) {
        skip();
        if (!eat(')'))
          return notATuple();
        break;
      }
    }
    return Status::success();
  }

  static constexpr size_t kMaxRank = 32; // NumPy's own limit is 64
  std::string_view t_;
};

} // namespace

StatusOr<NpyArray> readNpy(const std::string &path, bool allowInt32) {
  StatusOr<std::string> read = readRegularFile(path, kMaxNpyFileBytes);
  if (!read.ok())
    return read.status();
  return parseNpy(*read, path, allowInt32);
}

StatusOr<NpyArray> parseNpy(const std::string &bytes, const std::string &path,
                            bool allowInt32) {
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
  if (headerLen > kMaxHeaderBytes)
    return bad(fmt::format("a header of {} bytes; at most {} are read",
                           headerLen, kMaxHeaderBytes));
  if (bytes.size() < headerStart + headerLen)
    return bad("truncated header");
  Header h;
  if (Status st = HeaderParser(std::string_view(bytes).substr(headerStart,
                                                             headerLen))
                      .parse(h);
      !st.ok())
    return bad("header: " + st.message());
  bool isInt32 = allowInt32 && h.descr == "<i4";
  // 16-bit files widen to float exactly: float16, or uint16 holding bf16
  // bit patterns (NumPy has no bf16 dtype; see docs/precision.md).
  bool isF16 = !allowInt32 && h.descr == "<f2";
  bool isBf16Bits = !allowInt32 && h.descr == "<u2";
  if (h.descr != "<f4" && !isInt32 && !isF16 && !isBf16Bits)
    return Status::error(fmt::format(
        "{}: dtype {} is not supported; expected {}", path,
        h.descr.empty() ? "(missing)" : "'" + h.descr + "'",
        allowInt32 ? "float32 ('<f4') or int32 ('<i4')"
                   : "float32 ('<f4'), float16 ('<f2') or uint16 holding bf16 "
                     "bits ('<u2')"));
  const DType stored = isF16 ? DType::F16 : isBf16Bits ? DType::BF16 : DType::F32;
  const int64_t elementBytes = sizeOf(stored); // int32 files: 4 bytes too
  if (h.fortranOrder != 0)
    return Status::error(fmt::format(
        "{}: {}; save a C-order array", path,
        h.fortranOrder < 0 ? "the header has no fortran_order"
                           : "Fortran-order arrays are not supported"));
  if (!h.hasShape)
    return bad("the header has no shape");
  NpyArray array;
  array.shape = h.shape;
  std::string shapeText = fmt::format("({})", fmt::join(h.shape, ", "));
  // The product must fit the file (checked without overflow).
  int64_t count = 1;
  for (int64_t d : h.shape)
    if (__builtin_mul_overflow(count, d, &count) ||
        count > std::numeric_limits<int64_t>::max() / 4)
      return bad(fmt::format("shape {} has more elements than any file can "
                             "hold",
                             shapeText));
  size_t dataBytes = bytes.size() - headerStart - headerLen;
  if (dataBytes != static_cast<size_t>(count * elementBytes))
    return bad(fmt::format("shape {} needs {} bytes of data, the file holds {}",
                           shapeText, count * elementBytes, dataBytes));
  array.isInt32 = isInt32;
  array.stored = stored;
  if (count == 0) {
    // Nothing to copy (memcpy from or to no buffer is undefined).
  } else if (isInt32) {
    array.ints.resize(count);
    std::memcpy(array.ints.data(), bytes.data() + headerStart + headerLen,
                dataBytes);
  } else if (elementBytes == 2) {
    array.data.resize(count);
    const char *at = bytes.data() + headerStart + headerLen;
    const HalfKind kind = halfKindOf(stored);
    for (int64_t i = 0; i < count; ++i) {
      uint16_t bits;
      std::memcpy(&bits, at + 2 * i, 2);
      array.data[i] = fromHalfBits(bits, kind);
    }
  } else {
    array.data.resize(count);
    std::memcpy(array.data.data(), bytes.data() + headerStart + headerLen,
                dataBytes);
  }
  return array;
}

Status writeNpy(const std::string &path, const std::vector<int64_t> &shape,
                const float *data, DType type) {
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
  const bool f16 = type == DType::F16;
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}",
                  f16 ? "<f2" : "<f4", dims);
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
  if (f16) {
    for (int64_t i = 0; i < count; ++i) {
      uint16_t bits = toHalfBits(data[i], HalfKind::F16);
      bytes.append(reinterpret_cast<const char *>(&bits), 2);
    }
  } else if (count > 0) {
    bytes.append(reinterpret_cast<const char *>(data), count * sizeof(float));
  }
  return writeOutputFile(path, bytes);
}

} // namespace attnc
