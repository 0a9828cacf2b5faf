#include "runtime/Half.h"
#include "runtime/Npy.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <unistd.h>

using namespace attnc;

namespace {

std::string tempPath(const std::string &name) {
  return testing::TempDir() + "/attnc-npy-" + std::to_string(getpid()) + "-" +
         name;
}

std::string readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void writeAll(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(Npy, RoundTripsShapesAndValues) {
  for (std::vector<int64_t> shape :
       {std::vector<int64_t>{7}, {2, 3}, {1, 17, 4, 5}, {0, 3}}) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    std::vector<float> data(n);
    for (int64_t i = 0; i < n; ++i)
      data[i] = 0.5f * i - 3;
    std::string path = tempPath("roundtrip.npy");
    ASSERT_TRUE(writeNpy(path, shape, data.data()).ok());
    std::string bytes = readAll(path);
    ASSERT_GE(bytes.size(), 10u);
    size_t headerLen = static_cast<unsigned char>(bytes[8]) |
                       static_cast<unsigned char>(bytes[9]) << 8;
    EXPECT_EQ((10 + headerLen) % 64, 0u) << "data must start 64-aligned";
    auto back = readNpy(path);
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->shape, shape);
    EXPECT_EQ(back->data, data);
    std::remove(path.c_str());
  }
}

constexpr char kMagicForTest[] = "\x93NUMPY";

TEST(Npy, RejectsBadFilesWithReasons) {
  std::string good = tempPath("good.npy");
  std::vector<float> data(12, 1.f);
  ASSERT_TRUE(writeNpy(good, {3, 4}, data.data()).ok());
  std::string bytes = readAll(good);
  auto expectError = [&](const std::string &content,
                         const std::string &message) {
    std::string path = tempPath("bad.npy");
    writeAll(path, content);
    auto r = readNpy(path);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find(message), std::string::npos)
        << r.status().message();
    std::remove(path.c_str());
  };
  expectError("", "missing the \\x93NUMPY magic");
  expectError("PK\x03\x04 not numpy at all", "missing the \\x93NUMPY magic");
  expectError(bytes.substr(0, bytes.size() - 4),
              "shape (3, 4) needs 48 bytes of data, the file holds 44");
  expectError(bytes.substr(0, 30), "truncated header");
  std::string f8 = bytes;
  f8.replace(f8.find("<f4"), 3, "<f8");
  expectError(f8, "dtype '<f8' is not supported; expected float32 ('<f4'), "
                  "float16 ('<f2') or uint16 holding bf16 bits ('<u2')");
  // A 16-bit file needs 2 bytes an element: the float32 data is too long.
  std::string f2 = bytes;
  f2.replace(f2.find("<f4"), 3, "<f2");
  expectError(f2, "shape (3, 4) needs 24 bytes of data, the file holds 48");
  std::string fortran = bytes;
  fortran.replace(fortran.find("False"), 5, "True ");
  expectError(fortran, "Fortran-order arrays are not supported");
  // Shapes whose element count would wrap, or that are not sizes, are
  // refused before anything is allocated or copied.
  auto withShape = [&](const std::string &shape) {
    std::string b = bytes;
    b.replace(b.find("(3, 4)"), 6, shape);
    return b;
  };
  expectError(withShape("(8, 2305843009213693953)"),
              "has more elements than any file can hold");
  expectError(withShape("(3, -4)"), "each size must be an integer in [0, 2^63)");
  expectError(withShape("(99999999999999999999)"),
              "each size must be an integer in [0, 2^63)");
  expectError(withShape("(3; 4)"), "is not a tuple of sizes");
  // The header is parsed by a bounded hand-written parser: a long or
  // deeply nested header is an error, not a regex's stack overflow.
  auto withHeader = [&](const std::string &header) {
    std::string b(kMagicForTest, 6);
    b += std::string("\x02\x00", 2);
    uint32_t len = static_cast<uint32_t>(header.size());
    b.append(reinterpret_cast<const char *>(&len), 4);
    return b + header;
  };
  expectError(withHeader(std::string(70000, ' ')),
              "a header of 70000 bytes; at most 65536 are read");
  expectError(withHeader("{'shape': " + std::string(60000, '(') + "}"),
              "shape: each size must be an integer in [0, 2^63)");
  expectError(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': "
                         "(1,), 'extra': 1}"),
              "unknown key 'extra'; expected descr, fortran_order and shape");
  expectError(withHeader("{'descr': '<f4', 'shape': (1,)}"),
              "the header has no fortran_order");
  expectError(withHeader("{'descr': '<f4"), "a string is not closed");
  expectError(withHeader("{'descr': '<f4', 'fortran_order': Maybe}"),
              "fortran_order must be True or False");
  std::string ones;
  for (int i = 0; i < 33; ++i)
    ones += "1,";
  expectError(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                         ones + ")}"),
              "shape has more than 32 dimensions");
  expectError(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': "
                         "(1,)} trailing"),
              "text after the closing '}'");
  std::string v9 = bytes;
  v9[6] = 9;
  expectError(v9, "unknown format version 9");
  auto missing = readNpy(tempPath("does-not-exist.npy"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("cannot open"), std::string::npos);
  std::remove(good.c_str());
}

// float16 files round-trip (written rounded to nearest even, read exactly);
// uint16 files are bf16 bit patterns, read exactly.
TEST(Npy, HalfPrecisionFiles) {
  std::vector<float> data = {1.f, -2.5f, 1.f / 3, 65504.f, 1e-7f, 0.f};
  std::string path = tempPath("f16.npy");
  ASSERT_TRUE(writeNpy(path, {2, 3}, data.data(), DType::F16).ok());
  std::string bytes = readAll(path);
  EXPECT_NE(bytes.find("'descr': '<f2'"), std::string::npos);
  auto back = readNpy(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->stored, DType::F16);
  ASSERT_EQ(back->data.size(), data.size());
  for (size_t i = 0; i < data.size(); ++i)
    EXPECT_EQ(back->data[i], roundToHalf(data[i], HalfKind::F16)) << i;
  EXPECT_NE(back->data[2], data[2]); // 1/3 is not an f16: it was rounded

  // The same bytes as uint16: bf16 patterns (0x3c00 is f16 1, bf16 0.0078125).
  std::string u2 = bytes;
  u2.replace(u2.find("<f2"), 3, "<u2");
  writeAll(path, u2);
  auto bits = readNpy(path);
  ASSERT_TRUE(bits.ok()) << bits.status().message();
  EXPECT_EQ(bits->stored, DType::BF16);
  EXPECT_EQ(bits->data[0], 0.0078125f);
  // Declared inputs read float32 or int32 only.
  auto asInput = readNpy(path, /*allowInt32=*/true);
  ASSERT_FALSE(asInput.ok());
  EXPECT_NE(asInput.status().message().find(
                "dtype '<u2' is not supported; expected float32 ('<f4') or "
                "int32 ('<i4')"),
            std::string::npos)
      << asInput.status().message();
  std::remove(path.c_str());
}

// An array with no elements is valid (fuzzing found its copy of nothing
// passing a null pointer to memcpy).
TEST(Npy, EmptyArraysReadBack) {
  std::string path = tempPath("empty.npy");
  ASSERT_TRUE(writeNpy(path, {0, 3}, nullptr).ok());
  auto back = readNpy(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->shape, (std::vector<int64_t>{0, 3}));
  EXPECT_TRUE(back->data.empty());
  std::remove(path.c_str());
}

TEST(Npy, FailedWriteLeavesNoFile) {
  std::vector<float> data(4);
  Status st = writeNpy("/nonexistent-dir/out.npy", {4}, data.data());
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/nonexistent-dir/out.npy: cannot write"),
            std::string::npos)
      << st.message();
}

} // namespace
