#include "apps/dataset/dataset.h"

#include <filesystem>
#include <stdexcept>
#include <utility>

#include "apps/dataset/cifar10.h"
#include "apps/dataset/fit.h"
#include "apps/dataset/idx.h"
#include "apps/dataset/image_folder.h"

namespace data {
namespace {

namespace fs = std::filesystem;

const char* const kFashionDir = "/usr/share/datasets/fashion-mnist";

// data/<name> under the current directory if it exists, else the checkout's.
std::string data_dir(const std::string& name) {
  const std::string here = "data/" + name;
  std::error_code ec;
  if (fs::is_directory(here, ec)) return here;
  return std::string(DDPM_SOURCE_DIR) + "/" + here;
}

Dataset load_any(const std::string& dir, bool train, ImageShape shape) {
  if (has_idx_split(dir)) return load_idx_split(dir, train);
  if (has_cifar10(dir)) return load_cifar10_split(dir, train);
  return load_image_folder(dir, shape);
}

}  // namespace

std::string resolve_dataset_dir(const std::string& name_or_dir) {
  if (name_or_dir == "fashion") return kFashionDir;
  if (name_or_dir == "mnist" || name_or_dir == "cifar10") return data_dir(name_or_dir);
  return name_or_dir;
}

Dataset load_split(const std::string& dir, bool train, ImageShape shape) {
  std::error_code ec;
  if (!fs::exists(dir, ec))
    throw std::runtime_error("load_split: " + dir +
                             " does not exist (scripts/get_mnist.sh fetches MNIST)");
  Dataset split = load_any(dir, train, shape);
  split.images = fit_images(std::move(split.images), shape);
  return split;
}

}  // namespace data
