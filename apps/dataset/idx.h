// IDX datasets (MNIST, Fashion-MNIST): readers for the image and label files,
// plain or gzipped, a loader for a train or test split, and the conversion of
// images to the model's input range. Every failure is a one-line
// std::runtime_error that names the file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace data {

// count images of rows x cols bytes each, row-major, one after another.
struct IdxImages {
  int64_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;
};

struct IdxLabels {
  std::vector<uint8_t> labels;
};

// Read an IDX images file (magic 0x00000803) or labels file (0x00000801),
// gzipped (detected by its 1f 8b magic) or plain. The file must hold exactly
// the bytes its header announces: no fewer, no more.
IdxImages read_idx_images(const std::string& path);
IdxLabels read_idx_labels(const std::string& path);

struct Dataset {
  IdxImages images;
  IdxLabels labels;
};

// The training (train-*) or test (t10k-*) split stored in dir under the
// standard names, plain or with .gz (MNIST and Fashion-MNIST use the same
// names). Image and label counts must agree.
Dataset load_split(const std::string& dir, bool train);

// "mnist": data/mnist under the current directory if it exists, else under
// the repository root (where scripts/get_mnist.sh puts it). "fashion": the
// directory of Debian's dataset-fashion-mnist package. Anything else is
// returned unchanged, as a directory path.
std::string resolve_dataset_dir(const std::string& name_or_dir);

// The images at `indices` as float32 (n, 1, rows, cols), pixel k mapped to
// k / 127.5 - 1 in [-1, 1].
ag::Tensor to_tensor(const IdxImages& images, const std::vector<int64_t>& indices);

}  // namespace data
