// Drawing samples as the programs do: ancestral sampling (Algorithm 2, T
// steps) or DDIM with a number of steps, under a progress bar.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "autograd/distributed.h"
#include "diffusion/samplers.h"
#include "nn/unet.h"

namespace apps {

// Ancestral sampling (Algorithm 2, all T steps; "ddpm") or DDIM ("ddim").
enum class Sampler { Ancestral, Ddim };

// x_T ~ N(0, I): n images of the model's shape, float32, on `device`.
ag::Tensor draw_x_T(const nn::UNetConfig& config, int64_t n, ag::Generator& gen, ag::Device device);

// The elements `rows` of `all` (a rank's part of a batch); empty stays empty.
template <class T>
std::vector<T> part_of(const std::vector<T>& all, const ag::dist::Rows& rows) {
  if (all.empty()) return all;
  return {all.begin() + rows.begin, all.begin() + rows.end};
}

// Columns of a grid of n images that is as square as it can be.
int64_t square_grid_cols(int64_t n);

// The steps a sampler takes for a --sample-steps of `steps` (0: the
// default): DDIM's, 50 (or T if fewer) by default, or the ancestral sampler's, all T by
// default and otherwise the respaced process's K (Nichol & Dhariwal 2021,
// Sec. 4). Throws unless the result is in [1, T].
constexpr int64_t kDefaultDdimSteps = 50;
int64_t sampler_steps(Sampler sampler, int64_t steps, int64_t T);

// --sample-steps (also --steps) K for `sample_steps`, 0 by default; with
// `bound`, its help says it also sets the process whose bound --nll takes.
void add_sample_steps_flag(CLI::App& app, int64_t& sample_steps, bool bound = false);

// The timestep indices (of the T-step process) the sampler visits, in order.
std::vector<int64_t> visited_steps(Sampler sampler, int64_t steps, int64_t T);

// From x_T by `sampler` with sampler_steps(sampler, steps, T) steps: the
// ancestral sampler on the process respaced to those steps (all T: the
// process itself), or DDIM with `eta`; options.progress is set to draw a bar
// labelled `label`. Snapshots and record_steps use the T-step indices.
diffusion::SampleResult sample_with_progress(const diffusion::GaussianDiffusion& d,
                                             const diffusion::Denoiser& net, const ag::Tensor& x_T,
                                             Sampler sampler, int64_t steps, double eta,
                                             ag::Generator& gen, diffusion::SampleOptions options,
                                             const std::string& label);

}  // namespace apps
