#include "apps/dataset/fit.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

namespace data {
namespace {

// One input sample's share of an output sample along one axis.
struct Tap {
  int64_t index;
  double weight;
};
using Taps = std::vector<std::vector<Tap>>;  // per output index

// Shrinking: output o averages the input interval [o s, (o + 1) s), s = in /
// out, each input sample weighted by its overlap with it.
Taps area_taps(int64_t in, int64_t out) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  Taps taps(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    const double lo = static_cast<double>(o) * scale, hi = lo + scale;
    for (auto i = static_cast<int64_t>(lo); static_cast<double>(i) < hi && i < in; ++i) {
      const double overlap = std::min(hi, i + 1.0) - std::max(lo, static_cast<double>(i));
      if (overlap > 0) taps[static_cast<size_t>(o)].push_back({i, overlap / scale});
    }
  }
  return taps;
}

// Enlarging: output o samples the input at (o + 0.5) in / out - 0.5 (pixel
// centers aligned), between its two neighbours; the edges repeat.
Taps bilinear_taps(int64_t in, int64_t out) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  Taps taps(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    const double x =
        std::clamp((static_cast<double>(o) + 0.5) * scale - 0.5, 0.0, static_cast<double>(in - 1));
    const auto i = static_cast<int64_t>(x);
    const double t = x - static_cast<double>(i);
    taps[static_cast<size_t>(o)].push_back({i, 1.0 - t});
    if (t > 0) taps[static_cast<size_t>(o)].push_back({i + 1, t});
  }
  return taps;
}

// A square crop of planes `cols` wide, at (top, left), resized to out x out;
// the taps are shared by both axes and every plane.
struct Resize {
  int64_t cols, top, left, side, out;
  Taps taps;
};

// One plane resized into `resized` (out, out): along rows into `across`
// (side, out), then along columns.
void resize_plane(const Resize& r, const uint8_t* plane, std::vector<double>& across,
                  uint8_t* resized) {
  std::fill(across.begin(), across.end(), 0.0);
  for (int64_t y = 0; y < r.side; ++y) {
    const uint8_t* row = plane + (r.top + y) * r.cols + r.left;
    for (int64_t x = 0; x < r.out; ++x)
      for (const Tap& t : r.taps[static_cast<size_t>(x)])
        across[static_cast<size_t>(y * r.out + x)] += t.weight * row[t.index];
  }
  for (int64_t y = 0; y < r.out; ++y)
    for (int64_t x = 0; x < r.out; ++x) {
      double v = 0;
      for (const Tap& t : r.taps[static_cast<size_t>(y)])
        v += t.weight * across[static_cast<size_t>(t.index * r.out + x)];
      resized[y * r.out + x] = static_cast<uint8_t>(std::clamp(std::round(v), 0.0, 255.0));
    }
}

// Every image's planes center-cropped to a square and resized to `out`.
Images resize_images(const Images& images, int64_t out) {
  const int64_t side = std::min(images.rows, images.cols);
  const Resize r{images.cols,
                 (images.rows - side) / 2,
                 (images.cols - side) / 2,
                 side,
                 out,
                 out < side ? area_taps(side, out) : bilinear_taps(side, out)};
  Images resized{images.count, images.channels, out, out, {}};
  resized.pixels.resize(static_cast<size_t>(images.count * resized.image_bytes()));
  std::vector<double> across(static_cast<size_t>(side * out));
  const int64_t planes = images.count * images.channels;
  for (int64_t p = 0; p < planes; ++p)
    resize_plane(r, images.pixels.data() + p * images.rows * images.cols, across,
                 resized.pixels.data() + p * out * out);
  return resized;
}

// Grey from RGB: round(0.299 R + 0.587 G + 0.114 B) (ITU-R BT.601 luma).
Images to_grey(const Images& images) {
  const int64_t area = images.rows * images.cols;
  Images grey{images.count, 1, images.rows, images.cols,
              std::vector<uint8_t>(static_cast<size_t>(images.count * area))};
  for (int64_t i = 0; i < images.count; ++i) {
    const uint8_t* r = images.pixels.data() + i * 3 * area;
    const uint8_t *g = r + area, *b = g + area;
    for (int64_t k = 0; k < area; ++k)
      grey.pixels[static_cast<size_t>(i * area + k)] =
          static_cast<uint8_t>(std::lround(0.299 * r[k] + 0.587 * g[k] + 0.114 * b[k]));
  }
  return grey;
}

// RGB from grey: the grey plane three times.
Images to_rgb(const Images& images) {
  const auto area = static_cast<size_t>(images.rows * images.cols);
  Images rgb{images.count, 3, images.rows, images.cols, {}};
  rgb.pixels.reserve(3 * images.pixels.size());
  for (auto plane = images.pixels.begin(); plane != images.pixels.end();
       plane += static_cast<std::ptrdiff_t>(area))
    for (int c = 0; c < 3; ++c)
      rgb.pixels.insert(rgb.pixels.end(), plane, plane + static_cast<std::ptrdiff_t>(area));
  return rgb;
}

void check_shape(ImageShape shape) {
  if (shape.channels != 0 && shape.channels != 1 && shape.channels != 3)
    throw std::invalid_argument("fit_images: channels must be 1 or 3, got " +
                                std::to_string(shape.channels));
  if (shape.resolution < 0)
    throw std::invalid_argument("fit_images: negative resolution " +
                                std::to_string(shape.resolution));
}

}  // namespace

Images fit_images(Images images, ImageShape shape) {
  check_shape(shape);
  // Resized with the fewer channels: to grey before, to RGB after.
  if (shape.channels == 1 && images.channels == 3) images = to_grey(images);
  if (shape.resolution != 0 && (images.rows != shape.resolution || images.cols != shape.resolution))
    images = resize_images(images, shape.resolution);
  if (shape.channels == 3 && images.channels == 1) images = to_rgb(images);
  return images;
}

}  // namespace data
