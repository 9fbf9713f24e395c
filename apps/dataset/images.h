// Training images as the programs hold them: 8-bit pixels, a batch of them as
// a tensor in the model's input range, and a dataset (images, and labels
// where the data has them).
#pragma once
#include <cstdint>
#include <vector>

#include "autograd/tensor.h"

namespace data {

// count images of channels x rows x cols bytes each: channel planes, each
// row-major (as the tensors are: N, C, H, W), one image after another.
struct Images {
  int64_t count = 0, channels = 1, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;
  int64_t image_bytes() const { return channels * rows * cols; }
};

// One class label per image; empty for data without labels (image folders).
struct Labels {
  std::vector<uint8_t> labels;
};

struct Dataset {
  Images images;
  Labels labels;
};

// The image shape a program wants; 0 leaves that side as the data has it.
struct ImageShape {
  int64_t resolution = 0;  // H = W
  int64_t channels = 0;    // 1 (grey) or 3 (RGB)
};

// The images at `indices` as float32 (n, C, H, W), pixel k mapped to
// k / 127.5 - 1 in [-1, 1]. Where `flip` is given (one entry per index), the
// images whose entry is true are mirrored left to right.
ag::Tensor to_tensor(const Images& images, const std::vector<int64_t>& indices,
                     const std::vector<bool>& flip = {});

}  // namespace data
