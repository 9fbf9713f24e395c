// Pictures for people: image grids (of samples, or of a denoising
// progression laid out as a grid), written as PNG
// (stb_image_write) through io::AtomicFile, so an existing file is never
// half-written.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace imaging {

// An 8-bit image, rows top to bottom, `channels` interleaved bytes per pixel.
struct Image {
  int64_t width = 0, height = 0, channels = 1;
  std::vector<uint8_t> pixels;
};

// images (N, C, H, W) with C = 1 or 3, values in [-1, 1] (clipped; NaN
// shows as -1, black), laid out
// row-major on a grid `cols` wide with `pad` pixels of background between
// cells and around the edge.
Image make_grid(const ag::Tensor& images, int64_t cols, int64_t pad = 2);

// Reads a PNG (or another format stb_image reads) as grey (1 channel) or
// RGB (3; alpha is dropped); throws "<path>: ..." if it cannot.
Image read_image(const std::string& path);

// Writes `image` as PNG; throws "<path>: ..." if it cannot.
void write_png(const std::string& path, const Image& image);

}  // namespace imaging
