// A folder of images (the user's own): every PNG and JPEG under it, found
// recursively and taken in the order of their paths, decoded with stb_image.
// Every failure is a one-line std::runtime_error that names the directory or
// the file.
#pragma once
#include <string>

#include "apps/dataset/images.h"

namespace data {

// The images under dir (*.png, *.jpg, *.jpeg in any case), without labels.
// Channels: shape.channels, else 3 where any image has colour, else 1 (alpha
// is dropped). Resolution: shape.resolution (fit_images in fit.h), else the
// images' own, which must then be one square size for all.
Dataset load_image_folder(const std::string& dir, ImageShape shape = {});

}  // namespace data
