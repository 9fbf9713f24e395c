#include "apps/dataset/dataset.h"

#include <filesystem>
#include <stdexcept>

#include "apps/dataset/idx.h"

namespace data {
namespace {

namespace fs = std::filesystem;

const char* const kFashionDir = "/usr/share/datasets/fashion-mnist";

}  // namespace

std::string resolve_dataset_dir(const std::string& name_or_dir) {
  if (name_or_dir == "fashion") return kFashionDir;
  if (name_or_dir != "mnist") return name_or_dir;
  std::error_code ec;
  if (fs::is_directory("data/mnist", ec)) return "data/mnist";
  return std::string(DDPM_SOURCE_DIR) + "/data/mnist";
}

Dataset load_split(const std::string& dir, bool train, ImageShape shape) {
  (void)shape;
  return load_idx_split(dir, train);
}

}  // namespace data
