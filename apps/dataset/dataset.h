// The programs' way in to training data: a named dataset or a directory,
// recognised by what it holds, loaded as one split and fitted to the shape
// the model wants. Every failure is a one-line std::runtime_error that names
// the file or directory.
#pragma once
#include <cstdint>
#include <string>

#include "apps/dataset/images.h"

namespace data {

// The image shape a program wants; 0 leaves that side as the data has it.
struct ImageShape {
  int64_t resolution = 0;  // H = W
  int64_t channels = 0;    // 1 (grey) or 3 (RGB)
};

// "mnist": data/mnist under the current directory if it exists, else under
// the repository root (where scripts/get_mnist.sh puts it). "fashion": the
// directory of Debian's dataset-fashion-mnist package. Anything else is
// returned unchanged, as a directory path.
std::string resolve_dataset_dir(const std::string& name_or_dir);

// The training (train = true) or test split of the data in `dir`:
//   - IDX files under the standard names (MNIST, Fashion-MNIST; idx.h);
//   - else CIFAR-10's binary batches, data_batch_1..5.bin and test_batch.bin;
//   - else a folder of images, which serves as both splits.
// Then fitted to `shape`.
Dataset load_split(const std::string& dir, bool train, ImageShape shape = {});

}  // namespace data
