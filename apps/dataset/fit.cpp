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

// The square `side` x `side` plane at (top, left) of a plane `cols` wide,
// resized to `out` x `out`: along rows, then along columns.
std::vector<uint8_t> resize_square(const uint8_t* plane, int64_t cols, int64_t top, int64_t left,
                                   int64_t side, int64_t out) {
  const Taps taps = out < side ? area_taps(side, out) : bilinear_taps(side, out);
  std::vector<double> across(static_cast<size_t>(side * out), 0.0);  // (side, out)
  for (int64_t y = 0; y < side; ++y)
    for (int64_t x = 0; x < out; ++x)
      for (const Tap& t : taps[static_cast<size_t>(x)])
        across[static_cast<size_t>(y * out + x)] +=
            t.weight * plane[(top + y) * cols + left + t.index];
  std::vector<uint8_t> resized(static_cast<size_t>(out * out));  // (out, out)
  for (int64_t y = 0; y < out; ++y)
    for (int64_t x = 0; x < out; ++x) {
      double v = 0;
      for (const Tap& t : taps[static_cast<size_t>(y)])
        v += t.weight * across[static_cast<size_t>(t.index * out + x)];
      resized[static_cast<size_t>(y * out + x)] =
          static_cast<uint8_t>(std::clamp(std::round(v), 0.0, 255.0));
    }
  return resized;
}

// Every image's planes center-cropped to a square and resized to `out`.
Images resize_images(const Images& images, int64_t out) {
  const int64_t side = std::min(images.rows, images.cols);
  const int64_t top = (images.rows - side) / 2, left = (images.cols - side) / 2;
  Images resized{images.count, images.channels, out, out, {}};
  resized.pixels.reserve(static_cast<size_t>(images.count * resized.image_bytes()));
  const int64_t planes = images.count * images.channels;
  for (int64_t p = 0; p < planes; ++p) {
    const uint8_t* plane = images.pixels.data() + p * images.rows * images.cols;
    const std::vector<uint8_t> r = resize_square(plane, images.cols, top, left, side, out);
    resized.pixels.insert(resized.pixels.end(), r.begin(), r.end());
  }
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
  if (shape.channels == 1 && images.channels == 3) images = to_grey(images);
  if (shape.channels == 3 && images.channels == 1) images = to_rgb(images);
  if (shape.resolution != 0 && (images.rows != shape.resolution || images.cols != shape.resolution))
    images = resize_images(images, shape.resolution);
  return images;
}

}  // namespace data
