#include "apps/dataset/images.h"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>

namespace data {

ag::Tensor to_tensor(const Images& images, const std::vector<int64_t>& indices,
                     const std::vector<bool>& flip) {
  if (!flip.empty() && flip.size() != indices.size())
    throw std::invalid_argument("to_tensor: " + std::to_string(flip.size()) + " flips for " +
                                std::to_string(indices.size()) + " images");
  std::array<float, 256> level;
  for (size_t k = 0; k < level.size(); ++k)
    level[k] = static_cast<float>(static_cast<double>(k) / 127.5 - 1.0);
  const auto size = static_cast<size_t>(images.image_bytes());
  const auto cols = static_cast<size_t>(images.cols);
  std::vector<float> out(indices.size() * size);
  for (size_t i = 0; i < indices.size(); ++i) {
    const int64_t index = indices[i];
    if (index < 0 || index >= images.count)
      throw std::runtime_error("to_tensor: image index " + std::to_string(index) + " outside [0, " +
                               std::to_string(images.count) + ")");
    const uint8_t* src = images.pixels.data() + static_cast<size_t>(index) * size;
    float* dst = out.data() + i * size;
    std::transform(src, src + size, dst, [&level](uint8_t p) { return level[p]; });
    if (!flip.empty() && flip[i])
      for (size_t row = 0; row < size; row += cols) std::reverse(dst + row, dst + row + cols);
  }
  const auto n = static_cast<int64_t>(indices.size());
  return ag::from_vector(out, {n, images.channels, images.rows, images.cols});
}

}  // namespace data
