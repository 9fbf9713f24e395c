#include "apps/dataset/image_folder.h"

#include <stb/stb_image.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "apps/dataset/fit.h"
#include "apps/imaging/image.h"

namespace data {
namespace {

namespace fs = std::filesystem;

// What stbi_info says of a file before it is decoded.
struct ImageFile {
  std::string path;
  int width = 0, height = 0, components = 0;  // components: 1 grey .. 4 RGBA
};

[[noreturn]] void fail_decode(const std::string& path) {
  throw std::runtime_error(path + ": cannot read as an image: " + stbi_failure_reason());
}

bool is_image_name(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

// The image files under dir, recursively, sorted by path.
std::vector<std::string> find_images(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw std::runtime_error(dir + ": no such directory");
  if (!fs::is_directory(dir, ec)) throw std::runtime_error(dir + ": not a directory");
  std::vector<std::string> paths;
  fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file(ec) && is_image_name(it->path())) paths.push_back(it->path().string());
  if (ec) throw std::runtime_error(dir + ": cannot list (" + ec.message() + ")");
  if (paths.empty())
    throw std::runtime_error(dir + ": no PNG or JPEG images (searched recursively)");
  std::sort(paths.begin(), paths.end());
  return paths;
}

ImageFile probe(const std::string& path) {
  ImageFile f{path};
  if (!stbi_info(path.c_str(), &f.width, &f.height, &f.components)) fail_decode(path);
  return f;
}

std::string size_str(const ImageFile& f) {
  return std::to_string(f.width) + "x" + std::to_string(f.height);
}

int64_t folder_channels(const std::vector<ImageFile>& files, ImageShape shape) {
  if (shape.channels != 0) return shape.channels;
  const bool colour =
      std::any_of(files.begin(), files.end(), [](const ImageFile& f) { return f.components >= 3; });
  return colour ? 3 : 1;
}

// shape.resolution, else the one square size every image has.
int64_t folder_resolution(const std::string& dir, const std::vector<ImageFile>& files,
                          ImageShape shape) {
  if (shape.resolution != 0) return shape.resolution;
  const ImageFile& first = files.front();
  for (const ImageFile& f : files)
    if (f.width != first.width || f.height != first.height)
      throw std::runtime_error(dir + ": images differ in size (" + first.path + " is " +
                               size_str(first) + ", " + f.path + " is " + size_str(f) +
                               "): give --resolution");
  if (first.width != first.height)
    throw std::runtime_error(dir + ": images are not square (" + first.path + " is " +
                             size_str(first) + "): give --resolution");
  return first.width;
}

// The file decoded as one image of its own size (imaging::read_image: grey
// unless it has colour, alpha dropped), its interleaved pixels laid out as
// channel planes (C, H, W).
Images decode(const ImageFile& f) {
  const imaging::Image im = imaging::read_image(f.path);
  const int64_t area = im.width * im.height;
  Images image{1, im.channels, im.height, im.width,
               std::vector<uint8_t>(static_cast<size_t>(area * im.channels))};
  for (int64_t k = 0; k < area; ++k)
    for (int64_t c = 0; c < im.channels; ++c)
      image.pixels[static_cast<size_t>(c * area + k)] =
          im.pixels[static_cast<size_t>(k * im.channels + c)];
  return image;
}

}  // namespace

Dataset load_image_folder(const std::string& dir, ImageShape shape) {
  std::vector<ImageFile> files;
  for (const std::string& path : find_images(dir)) files.push_back(probe(path));
  const ImageShape fitted{folder_resolution(dir, files, shape), folder_channels(files, shape)};
  Dataset folder{{0, fitted.channels, fitted.resolution, fitted.resolution, {}}, {}};
  for (const ImageFile& f : files) {
    const Images image = fit_images(decode(f), fitted);
    folder.images.pixels.insert(folder.images.pixels.end(), image.pixels.begin(),
                                image.pixels.end());
    ++folder.images.count;
  }
  return folder;
}

}  // namespace data
