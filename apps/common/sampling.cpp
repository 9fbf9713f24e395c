#include "apps/common/sampling.h"

#include <cmath>

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

diffusion::SampleResult sample_with_progress(const diffusion::GaussianDiffusion& d,
                                             const diffusion::Denoiser& net, const ag::Tensor& x_T,
                                             Sampler sampler, int64_t ddim_steps, double eta,
                                             ag::Generator& gen, diffusion::SampleOptions options,
                                             const std::string& label) {
  const bool ddim = sampler == Sampler::Ddim;
  const int64_t total = ddim ? ddim_steps : d.num_timesteps();
  ProgressBar bar(label, total, "step");
  options.progress = [&](int64_t done, int64_t) { bar.update(done); };
  diffusion::SampleResult r =
      ddim ? diffusion::ddim_sample_loop(d, net, x_T, ddim_steps, eta, gen, options)
           : diffusion::p_sample_loop(d, net, x_T, gen, options);
  bar.finish(total);
  return r;
}

}  // namespace apps
