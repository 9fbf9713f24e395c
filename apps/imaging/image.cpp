#include "apps/imaging/image.h"

#include <stb/stb_image.h>
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

void append(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* bytes = static_cast<const uint8_t*>(data);
  out->insert(out->end(), bytes, bytes + size);
}

}  // namespace

Image read_image(const std::string& path) {
  int w = 0, h = 0, stored = 0;
  if (!stbi_info(path.c_str(), &w, &h, &stored))
    throw std::runtime_error(path + ": cannot read as an image: " + stbi_failure_reason());
  const int channels = stored <= 2 ? 1 : 3;
  uint8_t* data = stbi_load(path.c_str(), &w, &h, &stored, channels);
  if (!data) throw std::runtime_error(path + ": cannot read as an image: " + stbi_failure_reason());
  Image im{w, h, channels, std::vector<uint8_t>(data, data + static_cast<size_t>(w) * h * channels)};
  stbi_image_free(data);
  return im;
}

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
