// The programs' way in to training data: a named dataset or a directory,
// recognised by what it holds, loaded as one split and fitted to the shape
// the model wants. Every failure is a one-line std::runtime_error that names
// the file or directory.
#pragma once
#include <string>

#include "apps/dataset/images.h"

namespace data {

// "mnist": data/mnist under the current directory if it exists, else under
// the repository root (where scripts/get_mnist.sh puts it). "cifar10":
// data/cifar10 found the same way, where the official binary version goes:
// cifar-10-binary.tar.gz unpacked there, so that
// data/cifar10/cifar-10-batches-bin/ holds data_batch_1..5.bin and
// test_batch.bin (or those files straight in data/cifar10). "fashion": the
// directory of Debian's dataset-fashion-mnist package. Anything else is
// returned unchanged, as a directory path.
std::string resolve_dataset_dir(const std::string& name_or_dir);

// The training (train = true) or test split of the data in `dir`, which
// must exist, recognised in this order:
//   - IDX files under the standard names (MNIST, Fashion-MNIST; idx.h);
//   - else CIFAR-10's binary batches, in dir or dir/cifar-10-batches-bin
//     (cifar10.h);
//   - else a folder of PNG and JPEG images, without labels, which serves as
//     both splits (image_folder.h).
// Then fitted to `shape` (fit.h): channels converted, images center-cropped
// and resized where the shape asks for something else.
Dataset load_split(const std::string& dir, bool train, ImageShape shape = {});

}  // namespace data
