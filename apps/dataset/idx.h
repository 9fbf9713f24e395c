// IDX files (MNIST, Fashion-MNIST): readers for the image and label files,
// plain or gzipped, and the loader of a train or test split stored under the
// standard names. Every failure is a one-line std::runtime_error that names
// the file.
#pragma once
#include <string>

#include "apps/dataset/images.h"

namespace data {

// Read an IDX images file (magic 0x00000803; as 1-channel images) or labels
// file (0x00000801), gzipped (detected by its 1f 8b magic) or plain. The file
// must hold exactly the bytes its header announces: no fewer, no more.
Images read_idx_images(const std::string& path);
Labels read_idx_labels(const std::string& path);

// The training (train-*) or test (t10k-*) split stored in dir under the
// standard names, plain or with .gz (MNIST and Fashion-MNIST use the same
// names). Image and label counts must agree.
Dataset load_idx_split(const std::string& dir, bool train);

// Whether dir holds an IDX split under the standard names.
bool has_idx_split(const std::string& dir);

}  // namespace data
