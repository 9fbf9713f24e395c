// Images brought to the shape a model wants: channels converted (grey to RGB
// by copying, RGB to grey by luma), then each image center-cropped to a
// square of its shorter side and resized, by area averaging (a box filter)
// when shrinking and bilinearly when enlarging.
#pragma once
#include "apps/dataset/images.h"

namespace data {

// `images` fitted to `shape` (a side of 0 is left as the images have it);
// returned unchanged where they already fit. Throws std::invalid_argument for
// a shape with channels other than 0, 1 or 3, or a negative resolution.
Images fit_images(Images images, ImageShape shape);

}  // namespace data
