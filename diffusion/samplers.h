// Sampling from a trained model, all under the no-grad guard: ancestral
// sampling (Algorithm 2), DDIM (Song et al. 2021) with fewer strided steps,
// progressive snapshots (the paper's Fig. 6) and interpolation (Fig. 8).
#pragma once
#include <functional>
#include <vector>

#include "diffusion/diffusion.h"

namespace diffusion {

// The state at one recorded step: the current x_t and the model's x_0 guess.
struct Snapshot {
  // timestep index (paper t - 1; of the original process when respaced); -1
  // for the final sample x_0
  int64_t t = 0;
  Tensor xt, pred_x0;
};

struct SampleOptions {
  bool clip_x0 = true;                // clip predicted x_0 to [-1, 1], as the official sampler
  std::vector<int64_t> record_steps;  // timestep indices to snapshot (original ones if respaced)
  // Called after each denoising step with (steps done, steps in all).
  std::function<void(int64_t, int64_t)> progress;
};

struct SampleResult {
  Tensor x0;                        // the samples
  std::vector<Snapshot> snapshots;  // in sampling order
};

// Algorithm 2: x_T ~ N(0, I); for t = T..1: x_{t-1} = mu_theta(x_t, t) + sigma_t z,
// z ~ N(0, I) for t > 1 and z = 0 at t = 1. Noise comes from `gen`. On a
// respaced process (GaussianDiffusion::respaced) this is improved DDPM's
// sampler with fewer steps.
SampleResult p_sample_loop(const GaussianDiffusion& diffusion, const Denoiser& model,
                           const Tensor& x_T, ag::Generator& gen, const SampleOptions& opt = {});

// One ancestral step from x_t at timestep indices t.
Tensor p_sample(const GaussianDiffusion& diffusion, const Denoiser& model, const Tensor& xt,
                const Tensor& t, ag::Generator& gen, bool clip_x0, Tensor* pred_x0 = nullptr);

// `steps` timestep indices evenly spaced over [0, T), descending; the first is T - 1.
std::vector<int64_t> ddim_timesteps(int64_t T, int64_t steps);

// DDIM (Song et al. 2021, Eq. 12) over ddim_timesteps(T, steps): from x_t at
// tau_i to tau_{i-1}: x0 = predicted (clipped) x_0, eps re-derived from it,
// x = sqrt(abar_prev) x0 + sqrt(1 - abar_prev - sigma^2) eps + sigma z with
// sigma = eta sqrt((1 - abar_prev) / (1 - abar)) sqrt(1 - abar / abar_prev).
// eta = 0 is deterministic given x_T; eta = 1 matches ancestral sampling's
// variance ("small") when steps = T.
SampleResult ddim_sample_loop(const GaussianDiffusion& diffusion, const Denoiser& model,
                              const Tensor& x_T, int64_t steps, double eta, ag::Generator& gen,
                              const SampleOptions& opt = {});

// Fig. 8: x_t = q_sample(x_a, t) and q_sample(x_b, t) with shared noise,
// mixed as (1 - lambda) x_t^a + lambda x_t^b for each lambda, then denoised
// from t with the ancestral sampler. Returns (len(lambdas) * N, C, H, W),
// lambda-major.
Tensor interpolate(const GaussianDiffusion& diffusion, const Denoiser& model, const Tensor& x_a,
                   const Tensor& x_b, int64_t t, const std::vector<double>& lambdas,
                   ag::Generator& gen, bool clip_x0 = true);

}  // namespace diffusion
