// A labelled grid of pictures, drawn with cairo: a title, a label over each
// column and one left of each row, e.g. x_t over labelled t (the forward and
// reverse processes of docs/ddpm.md) or sample grids over training steps.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "apps/imaging/image.h"

namespace plotting {

struct Montage {
  std::string title;                              // empty: none
  std::vector<std::string> column_labels;         // empty, or one per column
  std::vector<std::string> row_labels;            // empty, or one per row
  std::vector<std::vector<imaging::Image>> rows;  // every picture the same size, 1 or 3 channels
  int64_t scale = 1;                              // each pixel drawn as a scale x scale block
  int64_t min_width = 0;  // the picture is at least this wide (frames of one animation)
};

// An RGB picture of the montage; throws a one-line error on ragged rows,
// pictures of different sizes, or label counts that do not match.
imaging::Image render(const Montage& montage);

}  // namespace plotting
