// The pictures sample writes beside its grid: the reverse process as a
// labelled progression (the paper's Fig. 6) and as an animated GIF,
// interpolations (Fig. 8) with their lambdas, and one PNG per sample.
#pragma once
#include <string>
#include <vector>

#include "autograd/tensor.h"
#include "diffusion/samplers.h"

namespace apps {

// `k` steps of `order` (the timestep indices a sampler visits, in order),
// evenly spaced from its first to its last.
std::vector<int64_t> evenly_spaced(const std::vector<int64_t>& order, int64_t k);

// Per sample (up to 4), a row of x_t and a row of the predicted x_0 at each
// of `steps`, under labels t = index + 1.
void write_progression(const std::string& path, const std::vector<diffusion::Snapshot>& shots,
                       const std::vector<int64_t>& steps);

// One frame per snapshot at `steps` (x_t of every sample on a grid `cols`
// wide, titled with its t), then the samples x_0, held longer; grey images
// give a grey GIF (all 256 levels).
void write_denoising_gif(const std::string& path, const std::vector<diffusion::Snapshot>& shots,
                         const std::vector<int64_t>& steps, const ag::Tensor& x0, int64_t cols);

// One row per pair: x_a, the mixes for each lambda (lambda-major in `mixed`,
// as diffusion::interpolate returns them), x_b.
void write_interpolation(const std::string& path, const ag::Tensor& xa, const ag::Tensor& xb,
                         const ag::Tensor& mixed, const std::vector<double>& lambdas,
                         int64_t interp_t);

// images (N, C, H, W) as len(row_names) labelled groups of N / len(row_names)
// pictures each, in order: a row each, or several rows of at most
// kMaxRowPictures (the last padded with black) when there are more.
constexpr int64_t kMaxRowPictures = 16;
void write_labelled_rows(const std::string& path, const ag::Tensor& images,
                         const std::vector<std::string>& row_names);

// sample_00000.png, sample_00001.png, ... in `dir`, one per image.
void write_png_dir(const std::string& dir, const ag::Tensor& images);

}  // namespace apps
