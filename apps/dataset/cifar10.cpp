#include "apps/dataset/cifar10.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace data {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kSide = 32, kChannels = 3, kClasses = 10;
constexpr int64_t kImageBytes = kChannels * kSide * kSide;
constexpr int64_t kRecordBytes = 1 + kImageBytes;
// Bound on a batch file (the official ones are 30 MB each), so that a wrong
// file under a batch's name is not read whole.
constexpr uintmax_t kMaxFileBytes = uintmax_t{1} << 30;

[[noreturn]] void fail_cifar(const std::string& path, const std::string& what) {
  throw std::runtime_error("CIFAR-10 file " + path + ": " + what);
}

// The file's size, after checking that it is a regular file of whole records.
uintmax_t record_bytes(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail_cifar(path, "not found");
  if (!fs::is_regular_file(path, ec)) fail_cifar(path, "not a regular file");
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) fail_cifar(path, "cannot read its size (" + ec.message() + ")");
  if (size > kMaxFileBytes)
    fail_cifar(path, std::to_string(size) + " bytes, more than " + std::to_string(kMaxFileBytes >> 30) +
                   " GiB");
  if (size == 0 || size % kRecordBytes != 0)
    fail_cifar(path, std::to_string(size) + " bytes is not a whole number of " +
                   std::to_string(kRecordBytes) + "-byte records");
  return size;
}

std::vector<uint8_t> read_bytes(const std::string& path, uintmax_t size) {
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_cifar(path, std::string("cannot open (") + std::strerror(errno) + ")");
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
    fail_cifar(path, "read error");
  return bytes;
}

// Appends `batch` to `all` (same image shape).
void append(Dataset& all, const Dataset& batch) {
  all.images.count += batch.images.count;
  all.images.pixels.insert(all.images.pixels.end(), batch.images.pixels.begin(),
                           batch.images.pixels.end());
  all.labels.labels.insert(all.labels.labels.end(), batch.labels.labels.begin(),
                           batch.labels.labels.end());
}

std::vector<std::string> batch_names(bool train) {
  if (!train) return {"test_batch.bin"};
  std::vector<std::string> names;
  for (int k = 1; k <= 5; ++k) names.push_back("data_batch_" + std::to_string(k) + ".bin");
  return names;
}

bool holds_a_batch(const fs::path& dir) {
  std::error_code ec;
  for (bool train : {true, false})
    for (const std::string& name : batch_names(train))
      if (fs::is_regular_file(dir / name, ec)) return true;
  return false;
}

// dir itself, or the official tarball's folder under it where dir has none.
fs::path batches_dir(const std::string& dir) {
  const fs::path nested = fs::path(dir) / "cifar-10-batches-bin";
  return !holds_a_batch(dir) && holds_a_batch(nested) ? nested : fs::path(dir);
}

}  // namespace

Dataset read_cifar10_batch(const std::string& path) {
  const std::vector<uint8_t> bytes = read_bytes(path, record_bytes(path));
  const auto count = static_cast<int64_t>(bytes.size()) / kRecordBytes;
  Dataset batch{{count, kChannels, kSide, kSide, {}}, {}};
  batch.images.pixels.reserve(static_cast<size_t>(count * kImageBytes));
  for (int64_t r = 0; r < count; ++r) {
    const auto record = bytes.begin() + r * kRecordBytes;
    if (*record >= kClasses)
      fail_cifar(path, "record " + std::to_string(r + 1) + " of " + std::to_string(count) +
                     " has label " + std::to_string(*record) + ", not 0..9");
    batch.labels.labels.push_back(*record);
    batch.images.pixels.insert(batch.images.pixels.end(), record + 1, record + kRecordBytes);
  }
  return batch;
}

Dataset load_cifar10_split(const std::string& dir, bool train) {
  const fs::path batches = batches_dir(dir);
  Dataset split{{0, kChannels, kSide, kSide, {}}, {}};
  for (const std::string& name : batch_names(train))
    append(split, read_cifar10_batch((batches / name).string()));
  return split;
}

bool has_cifar10(const std::string& dir) {
  return holds_a_batch(dir) || holds_a_batch(fs::path(dir) / "cifar-10-batches-bin");
}

}  // namespace data
