#include "Png.h"

#include "runtime/Files.h"

#include <fmt/format.h>
#include <zlib.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <unistd.h>

namespace attnc::cli {
namespace {

/// 3x5 glyphs, one bit a pixel, rows top to bottom (3 bits each, MSB left).
uint16_t glyph(char c) {
  switch (std::tolower(static_cast<unsigned char>(c))) {
  case '0': return 0b111101101101111;
  case '1': return 0b010110010010111;
  case '2': return 0b111001111100111;
  case '3': return 0b111001111001111;
  case '4': return 0b101101111001001;
  case '5': return 0b111100111001111;
  case '6': return 0b111100111101111;
  case '7': return 0b111001001001001;
  case '8': return 0b111101111101111;
  case '9': return 0b111101111001111;
  case 'a': return 0b010101111101101;
  case 'b': return 0b110101110101110;
  case 'c': return 0b011100100100011;
  case 'd': return 0b110101101101110;
  case 'e': return 0b111100110100111;
  case 'f': return 0b111100110100100;
  case 'g': return 0b011100101101011;
  case 'h': return 0b101101111101101;
  case 'i': return 0b111010010010111;
  case 'j': return 0b001001001101010;
  case 'k': return 0b101101110101101;
  case 'l': return 0b100100100100111;
  case 'm': return 0b101111111101101;
  case 'n': return 0b110101101101101;
  case 'o': return 0b010101101101010;
  case 'p': return 0b110101110100100;
  case 'q': return 0b010101101110011;
  case 'r': return 0b110101110101101;
  case 's': return 0b011100010001110;
  case 't': return 0b111010010010010;
  case 'u': return 0b101101101101111;
  case 'v': return 0b101101101101010;
  case 'w': return 0b101101111111101;
  case 'x': return 0b101101010101101;
  case 'y': return 0b101101010010010;
  case 'z': return 0b111001010100111;
  case '.': return 0b000000000000010;
  case ':': return 0b000010000010000;
  case '-': return 0b000000111000000;
  case '_': return 0b000000000000111;
  case '/': return 0b001001010100100;
  default: return 0;
  }
}

void chunk(std::string &out, const char *type, const std::string &data) {
  uint32_t len = static_cast<uint32_t>(data.size());
  const uint8_t be[4] = {uint8_t(len >> 24), uint8_t(len >> 16),
                         uint8_t(len >> 8), uint8_t(len)};
  out.append(reinterpret_cast<const char *>(be), 4);
  std::string body = std::string(type, 4) + data;
  out += body;
  uint32_t crc = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef *>(body.data()), body.size()));
  const uint8_t c[4] = {uint8_t(crc >> 24), uint8_t(crc >> 16),
                        uint8_t(crc >> 8), uint8_t(crc)};
  out.append(reinterpret_cast<const char *>(c), 4);
}

} // namespace

Image::Image(int width, int height, uint32_t background)
    : width_(width), height_(height), rgb_(size_t(width) * height * 3) {
  fill(0, 0, width, height, background);
}

void Image::fill(int x, int y, int w, int h, uint32_t rgb) {
  for (int yy = std::max(0, y); yy < std::min(height_, y + h); ++yy)
    for (int xx = std::max(0, x); xx < std::min(width_, x + w); ++xx) {
      uint8_t *p = &rgb_[(size_t(yy) * width_ + xx) * 3];
      p[0] = rgb >> 16, p[1] = (rgb >> 8) & 0xff, p[2] = rgb & 0xff;
    }
}

void Image::text(int x, int y, const std::string &s, uint32_t rgb, int scale) {
  for (char c : s) {
    uint16_t g = glyph(c);
    for (int row = 0; row < 5; ++row)
      for (int col = 0; col < 3; ++col)
        if (g >> (14 - (row * 3 + col)) & 1)
          fill(x + col * scale, y + row * scale, scale, scale, rgb);
    x += 4 * scale;
  }
}

Status Image::writePng(const std::string &path) const {
  std::string raw;
  raw.reserve(size_t(height_) * (width_ * 3 + 1));
  for (int y = 0; y < height_; ++y) {
    raw.push_back(0); // filter: none
    raw.append(reinterpret_cast<const char *>(&rgb_[size_t(y) * width_ * 3]),
               width_ * 3);
  }
  uLongf size = compressBound(raw.size());
  std::string idat(size, '\0');
  if (compress2(reinterpret_cast<Bytef *>(idat.data()), &size,
                reinterpret_cast<const Bytef *>(raw.data()), raw.size(),
                Z_BEST_COMPRESSION) != Z_OK)
    return Status::error("PNG compression failed");
  idat.resize(size);
  std::string png = "\x89PNG\r\n\x1a\n";
  std::string ihdr(13, '\0');
  for (int i = 0; i < 4; ++i) {
    ihdr[i] = char(uint32_t(width_) >> (24 - 8 * i));
    ihdr[4 + i] = char(uint32_t(height_) >> (24 - 8 * i));
  }
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  chunk(png, "IHDR", ihdr);
  chunk(png, "IDAT", idat);
  chunk(png, "IEND", "");
  return writeOutputFile(path, png);
}

} // namespace attnc::cli
