#include "Heatmap.h"

#include "Png.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace attnc::cli {
namespace {

constexpr uint32_t kBackground = 0xffffff, kInk = 0x202020,
                   kMasked = 0xd8d8d8; // pairs the mask hides

/// A viridis-like ramp: dark blue (0) through teal and green to yellow (1).
uint32_t ramp(double t) {
  static const uint32_t stops[] = {0x440154, 0x3b528b, 0x21918c, 0x5ec962,
                                   0xfde725};
  t = std::clamp(t, 0.0, 1.0) * 4;
  const int i = std::min(static_cast<int>(t), 3);
  const double f = t - i;
  auto channel = [&](int shift) {
    const double a = (stops[i] >> shift) & 0xff, b = (stops[i + 1] >> shift) & 0xff;
    return static_cast<uint32_t>(std::lround(a + (b - a) * f)) << shift;
  };
  return channel(16) | channel(8) | channel(0);
}

} // namespace

Status drawHeatmaps(const std::vector<HeatmapPanel> &panels,
                    const std::string &title, const std::string &path) {
  if (panels.empty() || panels.size() > 64)
    return Status::error(fmt::format(
        "viz: {} heads to draw; give 1 to 64 (--heads)", panels.size()));
  for (const HeatmapPanel &p : panels)
    if (p.rows < 1 || p.cols < 1 || p.rows > kMaxHeatmapCells / p.cols ||
        p.p.size() != static_cast<size_t>(p.rows * p.cols) ||
        p.visible.size() != p.p.size())
      return Status::error(fmt::format(
          "viz: a {} x {} heatmap is empty or too large to draw (at most 2^24 "
          "cells)",
          p.rows, p.cols));
  // Every panel has the same shape (one call's heads).
  const int64_t rows = panels[0].rows, cols = panels[0].cols;
  const int64_t longest = std::max(rows, cols);
  const int cell = static_cast<int>(std::clamp<int64_t>(384 / longest, 1, 8));
  // A side of a few cells (one decode row) is stretched to 48 pixels.
  const int pw = static_cast<int>(std::max<int64_t>(
      48, std::min<int64_t>(cols * cell, 384 * cols / longest + 1)));
  const int ph = static_cast<int>(std::max<int64_t>(
      48, std::min<int64_t>(rows * cell, 384 * rows / longest + 1)));
  const int across = static_cast<int>(std::ceil(std::sqrt(double(panels.size()))));
  const int down = static_cast<int>((panels.size() + across - 1) / across);
  const int margin = 40, gap = 36, barWidth = 16, top = 44;
  const int width = margin + across * (pw + gap) + barWidth + 60;
  const int barHeight = 200;
  // Tall enough for the panels and for the colour scale with its legend.
  const int height = std::max(top + down * (ph + gap + 12) + 20, top + barHeight + 40);
  float pmax = 0;
  for (const HeatmapPanel &p : panels)
    for (size_t i = 0; i < p.p.size(); ++i)
      if (p.visible[i] && std::isfinite(p.p[i]))
        pmax = std::max(pmax, p.p[i]);
  if (pmax <= 0)
    pmax = 1;
  Image img(width, height, kBackground);
  img.text(margin, 10, title, kInk, 2);
  for (size_t n = 0; n < panels.size(); ++n) {
    const HeatmapPanel &p = panels[n];
    const int x0 = margin + static_cast<int>(n % across) * (pw + gap);
    const int y0 = top + static_cast<int>(n / across) * (ph + gap + 12);
    img.text(x0, y0 - 14, p.title, kInk, 2);
    // Each pixel shows the largest weight of the cells it covers (a
    // sparse peak stays visible when downsampled); masked if all are.
    for (int y = 0; y < ph; ++y) {
      const int64_t q0 = y * rows / ph, q1 = std::max(q0 + 1, (y + 1) * rows / ph);
      for (int x = 0; x < pw; ++x) {
        const int64_t k0 = x * cols / pw, k1 = std::max(k0 + 1, (x + 1) * cols / pw);
        float best = -1;
        bool nan = false;
        for (int64_t q = q0; q < q1; ++q)
          for (int64_t k = k0; k < k1; ++k) {
            const size_t at = static_cast<size_t>(q * cols + k);
            if (!p.visible[at])
              continue;
            nan |= std::isnan(p.p[at]);
            best = std::max(best, p.p[at]);
          }
        img.fill(x0 + x, y0 + y, 1, 1,
                 nan ? 0xff00ff : best < 0 ? kMasked : ramp(best / pmax));
      }
    }
    // Axes: q down the left edge, k along the bottom, first and last index.
    img.text(x0 - 12, y0 + ph / 2 - 5, "q", kInk, 2);
    img.text(x0 - 12, y0, "0", kInk, 1);
    img.text(x0 + pw / 2 - 4, y0 + ph + 4, "k", kInk, 2);
    const std::string lastK = fmt::format("{}", cols - 1), lastQ = fmt::format("{}", rows - 1);
    img.text(x0, y0 + ph + 4, "0", kInk, 1);
    img.text(x0 + pw - Image::textWidth(lastK, 1), y0 + ph + 4, lastK, kInk, 1);
    img.text(x0 - 4 - Image::textWidth(lastQ, 1), y0 + ph - 5, lastQ, kInk, 1);
  }
  // The colour scale: 0 at the bottom, the largest weight at the top, and
  // the masked colour below it.
  const int bx = margin + across * (pw + gap), by = top, bh = barHeight;
  for (int y = 0; y < bh; ++y)
    img.fill(bx, by + y, barWidth, 1, ramp(1.0 - double(y) / (bh - 1)));
  img.text(bx + barWidth + 4, by, fmt::format("{:.2g}", pmax), kInk, 1);
  img.text(bx + barWidth + 4, by + bh - 5, "0", kInk, 1);
  img.fill(bx, by + bh + 10, barWidth, 12, kMasked);
  img.text(bx + barWidth + 4, by + bh + 13, "masked", kInk, 1);
  return img.writePng(path);
}

} // namespace attnc::cli
