#include "apps/plotting/plot.h"

#include <plplot/plplot.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

namespace plotting {
namespace {

// cmap0: 0 the background, 1 the axes and text, 2.. the series (the
// colours of matplotlib's "tab10", which people know from its plots).
constexpr int kSeriesColours = 8;
const PLINT kRed[] = {255, 0, 31, 255, 44, 214, 148, 140, 227, 127};
const PLINT kGreen[] = {255, 0, 119, 127, 160, 39, 103, 86, 119, 127};
const PLINT kBlue[] = {255, 0, 180, 14, 44, 40, 189, 75, 194, 127};

int colour_of(const Series& s, size_t index) {
  const int k = s.color >= 0 ? s.color : static_cast<int>(index);
  return 2 + k % kSeriesColours;
}

bool usable(const Panel& p, double x, double y) {
  return std::isfinite(x) && std::isfinite(y) && (!p.log_y || y > 0);
}

// The point as drawn: y in decades on a log axis.
double plotted_y(const Panel& p, double y) { return p.log_y ? std::log10(y) : y; }

// [lo, hi] widened by 4% a side, or by 1 where the data has no extent.
Range with_margin(double lo, double hi) {
  const double pad = hi > lo ? 0.04 * (hi - lo) : std::max(1.0, std::abs(lo) * 0.1);
  return {lo - pad, hi + pad};
}

struct Window {
  Range x, y;  // y in decades on a log axis
};

Window window_of(const Panel& p) {
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (const Series& s : p.series) {
    if (s.x.size() != s.y.size())
      throw std::runtime_error("plot '" + p.title + "': series '" + s.label + "' has " +
                               std::to_string(s.x.size()) + " x values and " +
                               std::to_string(s.y.size()) + " y values");
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!usable(p, s.x[i], s.y[i])) continue;
      x_lo = std::min(x_lo, s.x[i]), x_hi = std::max(x_hi, s.x[i]);
      y_lo = std::min(y_lo, plotted_y(p, s.y[i])), y_hi = std::max(y_hi, plotted_y(p, s.y[i]));
    }
  }
  if (!(x_lo <= x_hi) && !(p.x_range && p.y_range))
    throw std::runtime_error("plot '" + p.title + "': no finite point to draw" +
                             (p.log_y ? " (a log axis needs positive values)" : ""));
  Window w{p.x_range ? *p.x_range : with_margin(x_lo, x_hi),
           p.y_range ? *p.y_range : with_margin(y_lo, y_hi)};
  if (p.log_y && !p.y_range && std::floor(w.y.second) < w.y.first)
    w.y = {std::floor(w.y.first), std::ceil(w.y.second)};  // a decade to label
  if (p.y_range && p.log_y) {
    if (!(p.y_range->first > 0)) throw std::runtime_error("plot '" + p.title + "': log y range must be positive");
    w.y = {std::log10(p.y_range->first), std::log10(p.y_range->second)};
  }
  if (!(w.x.first < w.x.second) || !(w.y.first < w.y.second))
    throw std::runtime_error("plot '" + p.title + "': empty axis range");
  return w;
}

// Lines break where a point is left out; points are drawn one by one.
void draw_series(const Panel& p, const Series& s) {
  std::vector<PLFLT> xs, ys;
  auto flush = [&] {
    if (s.style == Style::kPoints && !xs.empty())
      plpoin(static_cast<PLINT>(xs.size()), xs.data(), ys.data(), 17);
    else if (xs.size() >= 2)
      plline(static_cast<PLINT>(xs.size()), xs.data(), ys.data());
    xs.clear(), ys.clear();
  };
  for (size_t i = 0; i < s.x.size(); ++i) {
    if (!usable(p, s.x[i], s.y[i])) {
      flush();
      continue;
    }
    xs.push_back(s.x[i]), ys.push_back(plotted_y(p, s.y[i]));
  }
  flush();
}

PLINT position_of(Corner c) {
  switch (c) {
    case Corner::kTopLeft: return PL_POSITION_TOP | PL_POSITION_LEFT;
    case Corner::kBottomLeft: return PL_POSITION_BOTTOM | PL_POSITION_LEFT;
    case Corner::kBottomRight: return PL_POSITION_BOTTOM | PL_POSITION_RIGHT;
    case Corner::kTopRight: break;
  }
  return PL_POSITION_TOP | PL_POSITION_RIGHT;
}

// A tick label of a log axis: the value is an exponent, written 10^k (with
// PLplot's superscript escapes).
void log_tick_label(PLINT axis, PLFLT value, char* label, PLINT length, PLPointer) {
  if (axis == PL_Y_AXIS)
    std::snprintf(label, static_cast<size_t>(length), "10#u%g#d", value);
  else
    std::snprintf(label, static_cast<size_t>(length), "%g", value);
}

void draw_legend(const Panel& p) {
  std::vector<PLINT> options, text_colours, colours, styles, symbol_colours, symbol_numbers;
  std::vector<PLFLT> widths, symbol_scales;
  std::vector<const char*> texts, symbols;
  for (size_t i = 0; i < p.series.size(); ++i) {
    const Series& s = p.series[i];
    if (s.label.empty()) continue;
    const bool points = s.style == Style::kPoints;
    options.push_back(points ? PL_LEGEND_SYMBOL : PL_LEGEND_LINE);
    texts.push_back(s.label.c_str());
    text_colours.push_back(1);
    colours.push_back(colour_of(s, i)), styles.push_back(1), widths.push_back(2.0);
    symbol_colours.push_back(colour_of(s, i)), symbol_scales.push_back(1.0);
    symbol_numbers.push_back(1), symbols.push_back("•");
  }
  if (texts.empty()) return;
  PLFLT width = 0, height = 0;
  plcol0(1);
  pllegend(&width, &height, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
           position_of(p.legend) | PL_POSITION_INSIDE, 0.02, 0.02, 0.08, 0, 1, 1, 0, 0,
           static_cast<PLINT>(texts.size()), options.data(), 1.0, 0.75, 1.6, 0.0,
           text_colours.data(), texts.data(), nullptr, nullptr, nullptr, nullptr, colours.data(),
           styles.data(), widths.data(), symbol_colours.data(), symbol_scales.data(),
           symbol_numbers.data(), symbols.data());
}

void draw_panel(const Panel& p, const Window& w) {
  pladv(0);
  if (p.equal_scale)
    plvasp((w.y.second - w.y.first) / (w.x.second - w.x.first));
  else
    plvsta();  // room for the tick labels and axis labels, in character heights
  plwind(w.x.first, w.x.second, w.y.first, w.y.second);
  plcol0(1);
  plwidth(1.0);
  if (p.log_y) {
    // Whole decades, at most about six of them labelled.
    const double decades = std::max(1.0, std::ceil((w.y.second - w.y.first) / 6));
    plslabelfunc(log_tick_label, nullptr);
    plbox("bcnst", 0, 0, "bcntov", decades, 1);
    plslabelfunc(nullptr, nullptr);
  } else {
    plbox("bcnst", 0, 0, "bcnstv", 0, 0);
  }
  pllab(p.x_label.c_str(), p.y_label.c_str(), p.title.c_str());
  plwidth(2.0);
  for (size_t i = 0; i < p.series.size(); ++i) {
    plcol0(colour_of(p.series[i], i));
    draw_series(p, p.series[i]);
  }
  plwidth(1.0);
  draw_legend(p);
}

// Whether PLplot's driver for drawing into memory is installed (Debian:
// plplot-driver-cairo); without it plinit would ask on stdin for a device.
bool have_memcairo() {
  int count = 256;
  std::vector<const char*> menu(count), names(count);
  const char** menu_data = menu.data();
  const char** name_data = names.data();
  plgDevs(&menu_data, &name_data, &count);
  for (int i = 0; i < count; ++i)
    if (names[i] && std::string(names[i]) == "memcairo") return true;
  return false;
}

// One PLplot stream of its own, ended whatever happens.
class Stream {
 public:
  Stream(int64_t width, int64_t height, int64_t cols, int64_t rows, uint8_t* pixels) {
    plgstrm(&previous_);
    plmkstrm(&stream_);
    plsdev("memcairo");
    plscmap0(kRed, kGreen, kBlue, 2 + kSeriesColours);
    plsmem(static_cast<PLINT>(width), static_cast<PLINT>(height), pixels);
    plssub(static_cast<PLINT>(cols), static_cast<PLINT>(rows));
    plinit();
    plschr(0, cols * rows > 1 ? 0.8 : 1.0);
  }
  ~Stream() {
    plend1();
    plsstrm(previous_);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

 private:
  PLINT previous_ = 0, stream_ = 0;
};

}  // namespace

imaging::Image render(const Figure& f) {
  if (f.panels.empty()) throw std::runtime_error("plot: a figure needs at least one panel");
  if (f.width < 16 || f.height < 16 || f.width > 8192 || f.height > 8192)
    throw std::runtime_error("plot: a size of " + std::to_string(f.width) + "x" +
                             std::to_string(f.height) + " pixels is out of range (16 to 8192)");
  std::vector<Window> windows;
  for (const Panel& p : f.panels) windows.push_back(window_of(p));
  if (!have_memcairo())
    throw std::runtime_error("plot: PLplot's memcairo driver is not installed (Debian package "
                             "plplot-driver-cairo; scripts/install_deps.sh installs it)");
  const int64_t cols = std::clamp<int64_t>(f.cols, 1, static_cast<int64_t>(f.panels.size()));
  const int64_t rows = (static_cast<int64_t>(f.panels.size()) + cols - 1) / cols;
  imaging::Image image{f.width, f.height, 3, {}};
  image.pixels.assign(static_cast<size_t>(f.width * f.height * 3), 255);
  {
    Stream stream(f.width, f.height, cols, rows, image.pixels.data());
    for (size_t i = 0; i < f.panels.size(); ++i) draw_panel(f.panels[i], windows[i]);
  }
  return image;
}

}  // namespace plotting
