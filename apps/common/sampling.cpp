#include "apps/common/sampling.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "apps/common/progress.h"

namespace apps {

ag::Tensor draw_x_T(const nn::UNetConfig& config, int64_t n, ag::Generator& gen,
                    ag::Device device) {
  return ag::randn({n, config.in_ch, config.resolution, config.resolution}, &gen, ag::DType::F32,
                   device);
}

int64_t square_grid_cols(int64_t n) {
  return static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
}

int64_t sampler_steps(Sampler sampler, int64_t steps, int64_t T) {
  const int64_t k = steps > 0                  ? steps
                    : sampler == Sampler::Ddim ? std::min(kDefaultDdimSteps, T)
                                               : T;
  if (k > T)
    throw std::runtime_error("--sample-steps " + std::to_string(k) +
                             " exceeds the model's T = " + std::to_string(T));
  return k;
}

void add_sample_steps_flag(CLI::App& app, int64_t& sample_steps, bool bound) {
  app.add_option("--sample-steps,--steps", sample_steps,
                 std::string("steps K: DDIM's (default 50), or the ancestral sampler's on the "
                             "process respaced to K of its T steps (default all T)") +
                     (bound ? "; with --nll, the bound of that respaced process" : ""))
      ->check(CLI::Range(int64_t{1}, int64_t{100000}))
      ->default_str("0: the sampler's default");
}

std::vector<int64_t> visited_steps(Sampler sampler, int64_t steps, int64_t T) {
  std::vector<int64_t> order = diffusion::spaced_timesteps(T, sampler_steps(sampler, steps, T));
  std::reverse(order.begin(), order.end());
  return order;
}

diffusion::SampleResult sample_with_progress(const diffusion::GaussianDiffusion& d,
                                             const diffusion::Denoiser& net, const ag::Tensor& x_T,
                                             Sampler sampler, int64_t steps, double eta,
                                             ag::Generator& gen, diffusion::SampleOptions options,
                                             const std::string& label) {
  const int64_t T = d.num_timesteps(), k = sampler_steps(sampler, steps, T);
  ProgressBar bar(label, k, "step");
  options.progress = [&](int64_t done, int64_t) { bar.update(done); };
  diffusion::SampleResult r;
  if (sampler == Sampler::Ddim)
    r = diffusion::ddim_sample_loop(d, net, x_T, k, eta, gen, options);
  else if (k == T)
    r = diffusion::p_sample_loop(d, net, x_T, gen, options);
  else
    r = diffusion::p_sample_loop(d.respaced(diffusion::spaced_timesteps(T, k)), net, x_T, gen,
                                 options);
  bar.finish(k);
  return r;
}

}  // namespace apps
