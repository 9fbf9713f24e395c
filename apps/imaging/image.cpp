#include "apps/imaging/image.h"

#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "io/atomic_file.h"

namespace imaging {

Image make_grid(const ag::Tensor& images, int64_t cols, int64_t pad) {
  if (images.dim() != 4 || (images.size(1) != 1 && images.size(1) != 3))
    throw std::runtime_error("make_grid: expected (N, 1 or 3, H, W) images, got " +
                             ag::shape_str(images.shape()));
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  cols = std::max<int64_t>(1, std::min(cols, n));
  const int64_t rows = (n + cols - 1) / cols;
  Image grid{cols * (w + pad) + pad, rows * (h + pad) + pad, c, {}};
  grid.pixels.assign(static_cast<size_t>(grid.width * grid.height * c), 0);
  const std::vector<float> v = images.to_vector<float>();  // (N, C, H, W)
  for (int64_t i = 0; i < n; ++i) {
    const int64_t x0 = pad + (i % cols) * (w + pad), y0 = pad + (i / cols) * (h + pad);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
          const float value = v[((i * c + ch) * h + y) * w + x];
          // NaN (a diverged model's sample) shows black: clamp passes it
          // through, and converting NaN to uint8_t is undefined.
          const float clipped = std::isnan(value) ? -1.0f : std::clamp(value, -1.0f, 1.0f);
          const float level = std::round((clipped + 1.0f) * 127.5f);
          grid.pixels[((y0 + y) * grid.width + x0 + x) * c + ch] = static_cast<uint8_t>(level);
        }
  }
  return grid;
}

namespace {

void set(Image& im, int64_t x, int64_t y, uint8_t value) {
  if (x >= 0 && y >= 0 && x < im.width && y < im.height) im.pixels[y * im.width + x] = value;
}

// Bresenham's line between two pixels.
void line(Image& im, int64_t x0, int64_t y0, int64_t x1, int64_t y1, uint8_t value) {
  const int64_t dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
  const int64_t sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  int64_t err = dx + dy;
  while (true) {
    set(im, x0, y0, value);
    if (x0 == x1 && y0 == y1) return;
    const int64_t e2 = 2 * err;
    if (e2 >= dy) err += dy, x0 += sx;
    if (e2 <= dx) err += dx, y0 += sy;
  }
}

}  // namespace

Image plot_curve(const std::vector<double>& values, int64_t width, int64_t height) {
  Image im{width, height, 1, std::vector<uint8_t>(static_cast<size_t>(width * height), 255)};
  const int64_t left = 40, right = width - 10, top = 10, bottom = height - 30;
  line(im, left, top, left, bottom, 0);
  line(im, left, bottom, right, bottom, 0);
  std::vector<double> finite;  // NaN or inf (a diverged run) is left out
  for (double v : values)
    if (std::isfinite(v)) finite.push_back(v);
  if (finite.empty()) return im;
  const bool log_y = *std::min_element(finite.begin(), finite.end()) > 0;
  auto f = [&](double v) { return log_y ? std::log10(v) : v; };
  double lo = f(finite[0]), hi = lo;
  for (double v : finite) lo = std::min(lo, f(v)), hi = std::max(hi, f(v));
  if (!(hi - lo >= 1e-12)) hi = lo + 1;
  auto py = [&](double v) {
    return bottom - static_cast<int64_t>(std::round((f(v) - lo) / (hi - lo) * (bottom - top)));
  };
  if (log_y)
    for (double decade = std::ceil(lo); decade <= hi; ++decade)
      line(im, left + 1, py(std::pow(10.0, decade)), right, py(std::pow(10.0, decade)), 200);
  const size_t n = values.size();
  auto px = [&](size_t i) {
    return left + static_cast<int64_t>(n == 1 ? 0 : i * (right - left) / (n - 1));
  };
  for (size_t i = 1; i < n; ++i)
    if (std::isfinite(values[i - 1]) && std::isfinite(values[i]))
      line(im, px(i - 1), py(values[i - 1]), px(i), py(values[i]), 0);
  return im;
}

namespace {

void append(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* bytes = static_cast<const uint8_t*>(data);
  out->insert(out->end(), bytes, bytes + size);
}

}  // namespace

void write_png(const std::string& path, const Image& image) {
  std::vector<uint8_t> encoded;
  const int ok =
      stbi_write_png_to_func(append, &encoded, static_cast<int>(image.width),
                             static_cast<int>(image.height), static_cast<int>(image.channels),
                             image.pixels.data(), static_cast<int>(image.width * image.channels));
  if (!ok) throw std::runtime_error(path + ": PNG encoding failed");
  io::write_file_atomically(path, encoded.data(), encoded.size());
}

}  // namespace imaging
