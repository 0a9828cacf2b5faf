#ifndef ATTNC_TOOLS_ATTNC_HEATMAP_H
#define ATTNC_TOOLS_ATTNC_HEATMAP_H

// attnc viz's picture: one heatmap of attention weights per head, in a
// grid, query rows against key columns, with a colour scale, axis labels
// and masked pairs in their own colour (docs/visualize.md).

#include "runtime/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attnc::cli {

/// The largest panel drawHeatmaps takes (queries x keys).
constexpr int64_t kMaxHeatmapCells = int64_t(1) << 24;

struct HeatmapPanel {
  std::string title;      // e.g. "head 3"
  int64_t rows = 0, cols = 0; // queries, keys
  std::vector<float> p;   // rows x cols, row-major
  std::vector<char> visible; // rows x cols: 0 where the mask hides the pair
};

/// Draws `panels` (at most 64, each at most kMaxHeatmapCells) into a PNG
/// at `path`: cells of up to 8 pixels, panels of at most 384 pixels a side
/// (larger ones show each pixel's largest weight) and at least 48 (a few
/// rows, as in decode, are stretched), one colour scale from 0 to the
/// largest weight shown.
Status drawHeatmaps(const std::vector<HeatmapPanel> &panels,
                    const std::string &title, const std::string &path);

} // namespace attnc::cli

#endif
