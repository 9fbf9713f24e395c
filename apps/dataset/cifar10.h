// CIFAR-10's binary version (cifar-10-binary.tar.gz, which unpacks to
// cifar-10-batches-bin/): batches of records, each a label byte (0..9) and a
// 32x32 RGB image as three channel planes, each row-major (already N, C, H,
// W). Every failure is a one-line std::runtime_error that names the file.
#pragma once
#include <string>

#include "apps/dataset/images.h"

namespace data {

// One batch file: a positive whole number of 3073-byte records.
Dataset read_cifar10_batch(const std::string& path);

// The training (data_batch_1.bin .. data_batch_5.bin, all five) or test
// (test_batch.bin) split in dir, or in dir/cifar-10-batches-bin.
Dataset load_cifar10_split(const std::string& dir, bool train);

// Whether dir, or dir/cifar-10-batches-bin, holds any of those batch files.
bool has_cifar10(const std::string& dir);

}  // namespace data
