// Plots with axes, ticks, labels, a title and a legend, drawn by PLplot (its
// memcairo driver renders into memory) and returned as an imaging::Image, so
// that they are written like every other picture: imaging::write_png, through
// io::AtomicFile. Used for loss.png, the rate-distortion plot and the pictures
// of docs/ (schedules, the 2-D toy's scatter plots).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "apps/imaging/image.h"

namespace plotting {

enum class Style { kLine, kPoints };

// One curve (or cloud of points). Points whose x or y is not finite, or
// whose y is not positive on a log axis, are left out, and a line breaks
// there instead of joining its neighbours across the gap.
struct Series {
  std::string label;  // its legend entry; empty: not in the legend
  std::vector<double> x, y;
  Style style = Style::kLine;
  int color = -1;  // an index into the palette (0-7); -1: the series' own index
};

using Range = std::pair<double, double>;

enum class Corner { kTopRight, kTopLeft, kBottomLeft, kBottomRight };

struct Panel {
  std::string title, x_label, y_label;
  bool log_y = false;   // y on a log10 scale, labelled in powers of ten
  bool equal_scale = false;  // one unit is as long on x as on y (2-D data)
  std::optional<Range> x_range, y_range;  // default: the data's, with a margin
  std::vector<Series> series;
  Corner legend = Corner::kTopRight;  // where the legend goes, inside the axes
};

// Panels laid out row by row, `cols` to a row, on one white picture.
struct Figure {
  std::vector<Panel> panels;
  int64_t cols = 1;
  int64_t width = 800, height = 500;
};

// Throws a one-line error for an empty figure, a panel without any finite
// point, or a size out of range (16 to 8192 pixels a side).
imaging::Image render(const Figure& figure);

}  // namespace plotting
