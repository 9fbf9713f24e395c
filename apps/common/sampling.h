// Drawing samples as the programs do: ancestral sampling (Algorithm 2, T
// steps) or DDIM with a number of steps, under a progress bar.
#pragma once
#include <string>

#include "diffusion/samplers.h"
#include "nn/unet.h"

namespace apps {

// Ancestral sampling (Algorithm 2, all T steps; "ddpm") or DDIM ("ddim").
enum class Sampler { Ancestral, Ddim };

// x_T ~ N(0, I): n images of the model's shape, float32, on `device`.
ag::Tensor draw_x_T(const nn::UNetConfig& config, int64_t n, ag::Generator& gen, ag::Device device);

// Columns of a grid of n images that is as square as it can be.
int64_t square_grid_cols(int64_t n);

// From x_T by `sampler`: all T steps, or `ddim_steps` DDIM steps with
// `eta`; options.progress is set to draw a bar labelled `label`.
diffusion::SampleResult sample_with_progress(const diffusion::GaussianDiffusion& d,
                                             const diffusion::Denoiser& net, const ag::Tensor& x_T,
                                             Sampler sampler, int64_t ddim_steps, double eta,
                                             ag::Generator& gen, diffusion::SampleOptions options,
                                             const std::string& label);

}  // namespace apps
