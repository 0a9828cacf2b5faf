#ifndef ATTNC_TOOLS_ATTNC_PNG_H
#define ATTNC_TOOLS_ATTNC_PNG_H

#include "runtime/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attnc::cli {

/// An RGB raster with just enough drawing for a bar chart.
class Image {
public:
  Image(int width, int height, uint32_t background);
  void fill(int x, int y, int w, int h, uint32_t rgb);
  /// Draws text in a 3x5 pixel font (digits, lowercase letters, " .:x-_/"),
  /// scaled by `scale`.
  void text(int x, int y, const std::string &s, uint32_t rgb, int scale = 2);
  static int textWidth(const std::string &s, int scale = 2) {
    return static_cast<int>(s.size()) * 4 * scale;
  }
  /// Writes a PNG (zlib-compressed, 8-bit RGB) through a temp file + rename.
  Status writePng(const std::string &path) const;
  int width() const { return width_; }
  int height() const { return height_; }

private:
  int width_, height_;
  std::vector<uint8_t> rgb_;
};

} // namespace attnc::cli

#endif
