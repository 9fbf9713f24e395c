#include "diffusion/samplers.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace diffusion {

using namespace ag;

namespace {

bool recorded(const SampleOptions& opt, int64_t t) {
  return std::find(opt.record_steps.begin(), opt.record_steps.end(), t) != opt.record_steps.end();
}

// Denoises x from timestep index `from` down to x_0 (Algorithm 2, lines 2-5).
SampleResult ancestral_from(const GaussianDiffusion& d, const Denoiser& model, Tensor x,
                            int64_t from, Generator& gen, const SampleOptions& opt) {
  SampleResult r;
  for (int64_t t = from; t >= 0; --t) {
    Tensor pred_x0;
    Tensor next = p_sample(d, model, x, full_timesteps(x.size(0), t), gen, opt.clip_x0, &pred_x0);
    const int64_t original = d.original_timestep(t);
    if (recorded(opt, original)) r.snapshots.push_back({original, x, pred_x0});
    x = next;
    if (opt.progress) opt.progress(from - t + 1, from + 1);
  }
  if (recorded(opt, -1)) r.snapshots.push_back({-1, x, x});  // the final sample is its own x_0
  r.x0 = x;
  return r;
}

}  // namespace

Tensor p_sample(const GaussianDiffusion& d, const Denoiser& model, const Tensor& xt,
                const Tensor& t, Generator& gen, bool clip_x0, Tensor* pred_x0) {
  NoGradGuard no_grad;
  PMeanVariance p = d.p_mean_variance(model, xt, t, clip_x0);
  if (pred_x0) *pred_x0 = p.pred_x0;
  const Tensor mask = 1.0 - is_last_step(t, xt);  // z = 0 at t = 1: Algorithm 2, line 3
  Tensor sigma = exp(p.log_variance * 0.5);       // Algorithm 2, line 4
  return p.mean + mask * sigma * noise_like(xt, gen);
}

SampleResult p_sample_loop(const GaussianDiffusion& d, const Denoiser& model, const Tensor& x_T,
                           Generator& gen, const SampleOptions& opt) {
  NoGradGuard no_grad;
  return ancestral_from(d, model, x_T, d.num_timesteps() - 1, gen, opt);
}

std::vector<int64_t> ddim_timesteps(int64_t T, int64_t steps) {
  try {
    std::vector<int64_t> taus = spaced_timesteps(T, steps);
    std::reverse(taus.begin(), taus.end());
    return taus;
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string("ddim: ") + e.what());
  }
}

SampleResult ddim_sample_loop(const GaussianDiffusion& d, const Denoiser& model, const Tensor& x_T,
                              int64_t steps, double eta, Generator& gen, const SampleOptions& opt) {
  if (!(eta >= 0.0 && eta <= 1.0))
    throw std::runtime_error("ddim: eta must be in [0, 1], got " + std::to_string(eta));
  NoGradGuard no_grad;
  const std::vector<int64_t> taus = ddim_timesteps(d.num_timesteps(), steps);
  const std::vector<double>& abar = d.schedule().alphas_cumprod;
  SampleResult r;
  Tensor x = x_T;
  for (size_t i = 0; i < taus.size(); ++i) {
    const int64_t t = taus[i];
    const Tensor tt = full_timesteps(x.size(0), t);
    const double ab = abar[t], ab_prev = i + 1 < taus.size() ? abar[taus[i + 1]] : 1.0;
    const Tensor pred_x0 = d.p_mean_variance(model, x, tt, opt.clip_x0).pred_x0;
    const Tensor eps = d.predict_eps_from_x0(x, tt, pred_x0);
    const double sigma = eta * std::sqrt((1 - ab_prev) / (1 - ab)) * std::sqrt(1 - ab / ab_prev);
    if (recorded(opt, t)) r.snapshots.push_back({t, x, pred_x0});
    x = pred_x0 * std::sqrt(ab_prev) + eps * std::sqrt(std::max(0.0, 1 - ab_prev - sigma * sigma));
    if (sigma > 0 && i + 1 < taus.size()) x = x + noise_like(x, gen) * sigma;
    if (opt.progress) opt.progress(static_cast<int64_t>(i) + 1, static_cast<int64_t>(taus.size()));
  }
  if (recorded(opt, -1)) r.snapshots.push_back({-1, x, x});
  r.x0 = x;
  return r;
}

Tensor interpolate(const GaussianDiffusion& d, const Denoiser& model, const Tensor& x_a,
                   const Tensor& x_b, int64_t t, const std::vector<double>& lambdas, Generator& gen,
                   bool clip_x0) {
  if (t < 0 || t >= d.num_timesteps())
    throw std::runtime_error("interpolate: timestep " + std::to_string(t) + " outside [0, " +
                             std::to_string(d.num_timesteps()) + ")");
  if (x_a.shape() != x_b.shape())
    throw std::runtime_error("interpolate: the two image batches differ in shape");
  NoGradGuard no_grad;
  const Tensor tt = full_timesteps(x_a.size(0), t);
  const Tensor noise = noise_like(x_a, gen);
  const Tensor xa_t = d.q_sample(x_a, tt, noise), xb_t = d.q_sample(x_b, tt, noise);
  std::vector<Tensor> mixed;
  for (double lambda : lambdas) mixed.push_back(xa_t * (1 - lambda) + xb_t * lambda);
  SampleOptions opt;
  opt.clip_x0 = clip_x0;
  return ancestral_from(d, model, concat(mixed, 0), t, gen, opt).x0;
}

}  // namespace diffusion
