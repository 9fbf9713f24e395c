// libFuzzer harness for the CIFAR-10 batch reader (apps/dataset/cifar10.h)
// and the fitting of what it reads (apps/dataset/fit.h). The input is the
// batch file. A batch read must be the file's records split into labels
// (0..9) and pixels; fitted to a shape taken from the input's size, it must
// have that shape. Every failure must be one std::runtime_error; anything
// else (a crash, another exception, a hang, a leak, a broken invariant) is a
// finding.
#include <algorithm>
#include <cstdint>
#include <stdexcept>

#include "apps/dataset/cifar10.h"
#include "apps/dataset/fit.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

constexpr size_t kRecord = 3073;

// The batch holds exactly the records of `data`, label first.
void check_batch(const data::Dataset& batch, const uint8_t* data, size_t size) {
  const data::Images& images = batch.images;
  if (size == 0 || size % kRecord != 0) fuzz::broken("read a file that is not whole records");
  const size_t count = size / kRecord;
  if (images.count != static_cast<int64_t>(count) || batch.labels.labels.size() != count ||
      images.pixels.size() != count * (kRecord - 1))
    fuzz::broken("image, label or pixel count differs from the file's records");
  for (size_t r = 0; r < count; ++r) {
    const uint8_t* record = data + r * kRecord;
    if (record[0] > 9 || batch.labels.labels[r] != record[0]) fuzz::broken("label");
    if (!std::equal(record + 1, record + kRecord, images.pixels.begin() + r * (kRecord - 1)))
      fuzz::broken("pixels differ from the record's");
  }
}

// Fitted to 1..40 pixels square, grey or RGB by the size's parity.
void check_fit(const data::Images& images, size_t size) {
  const data::ImageShape shape{static_cast<int64_t>(1 + size % 40), size % 2 ? 1 : 3};
  const data::Images fitted = data::fit_images(images, shape);
  if (fitted.count != images.count || fitted.channels != shape.channels ||
      fitted.rows != shape.resolution || fitted.cols != shape.resolution ||
      fitted.pixels.size() != static_cast<size_t>(fitted.count * fitted.image_bytes()))
    fuzz::broken("fitted images do not have the shape asked for");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  data::Dataset batch;
  try {
    batch = data::read_cifar10_batch(fuzz::write_input("fuzz_cifar10", data, size));
  } catch (const std::runtime_error&) {
    return 0;
  }
  check_batch(batch, data, size);
  check_fit(batch.images, size);
  return 0;
}
