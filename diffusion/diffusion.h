// Gaussian diffusion (Ho et al. 2020): the forward process q, its posterior,
// the reverse process p_theta built from a model's output, and both training
// losses. Names follow the paper and the official diffusion_utils_2.py.
// Timesteps are int32 tensors of indices i = t - 1 in [0, T).
#pragma once
#include <functional>

#include "diffusion/gaussian.h"
#include "diffusion/schedule.h"

namespace diffusion {

// What the network outputs (Table 2): the noise eps (the paper's choice), x_0,
// or the posterior mean mu~ directly ("xprev").
enum class ModelMeanType { Eps, X0, Xprev };
// The reverse-process variance Sigma_theta = sigma_t^2 I (Sec. 3.2): beta_t
// ("large", with the t = 1 value taken from beta~ as the official code) or the
// posterior variance beta~_t ("small"); or learned (Nichol & Dhariwal 2021,
// Eq. 15, improved-diffusion's "learned_range"): the model outputs 2C
// channels, the second C a v in [-1, 1] per pixel, and
// log sigma_t^2 = frac log beta_t + (1 - frac) log beta~_t, frac = (v + 1) / 2.
enum class ModelVarType { FixedLarge, FixedSmall, Learned };
// L_simple (Eq. 14), the true variational bound (Eq. 5), in bits/dim, or
// improved DDPM's L_hybrid = L_simple + lambda L_vlb (their Eq. 16), whose
// L_vlb term trains only the learned variance.
enum class LossType { Simple, Vlb, Hybrid };

ModelMeanType parse_mean_type(const std::string& name);  // eps, x0, xprev
ModelVarType parse_var_type(const std::string& name);    // large, small, learned
LossType parse_loss_type(const std::string& name);       // simple, vlb, hybrid

// The network: x_t (N, C, H, W) and timestep indices t (N) -> (N, C, H, W),
// or (N, 2C, H, W) for learned variances.
using Denoiser = std::function<Tensor(const Tensor& x, const Tensor& t)>;

struct MeanVariance {
  Tensor mean, variance, log_variance;  // variance and log_variance broadcast as (N, 1, 1, 1)
};

struct PMeanVariance {  // variance, log_variance: (N, 1, 1, 1), or x_t's shape when learned
  Tensor mean, variance, log_variance, pred_x0;
};

class GaussianDiffusion {
 public:
  GaussianDiffusion(Schedule schedule, ModelMeanType mean_type, ModelVarType var_type,
                    ag::DType dtype = ag::DType::F32, ag::Device device = ag::Device::CPU);

  // The same model run on K of the T steps (improved DDPM's respacing,
  // Sec. 4): the schedule of respace_schedule at `use_timesteps`, the model
  // still called with the original timestep indices. Its timestep index i
  // stands for the original original_timestep(i).
  GaussianDiffusion respaced(const std::vector<int64_t>& use_timesteps) const;
  int64_t original_timestep(int64_t i) const;

  int64_t num_timesteps() const { return schedule_.T; }
  const Schedule& schedule() const { return schedule_; }
  ModelMeanType mean_type() const { return mean_type_; }
  ModelVarType var_type() const { return var_type_; }

  // Row t of a schedule constant per sample, shaped (N, 1, 1, 1) to broadcast
  // over images (the per-sample gather of schedule constants).
  Tensor extract(const std::vector<double>& table, const Tensor& t) const;

  // q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I), Eq. 4.
  MeanVariance q_mean_variance(const Tensor& x0, const Tensor& t) const;
  // A draw from q(x_t | x_0) by reparameterization: sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps.
  Tensor q_sample(const Tensor& x0, const Tensor& t, const Tensor& noise) const;
  // q(x_{t-1} | x_t, x_0) = N(mu~_t, beta~_t I), Eqs. 6-7.
  MeanVariance q_posterior_mean_variance(const Tensor& x0, const Tensor& xt, const Tensor& t) const;

  // x_0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t), from Eq. 4.
  Tensor predict_x0_from_eps(const Tensor& xt, const Tensor& t, const Tensor& eps) const;
  // x_0 from mu~ by inverting Eq. 7: (mu~ - coef2 x_t) / coef1.
  Tensor predict_x0_from_xprev(const Tensor& xt, const Tensor& t, const Tensor& xprev) const;
  // eps from x_0, inverting Eq. 4 (DDIM uses it after clipping x_0).
  Tensor predict_eps_from_x0(const Tensor& xt, const Tensor& t, const Tensor& x0) const;

  // p_theta(x_{t-1} | x_t) = N(mu_theta, sigma_t^2 I) from the model's output
  // (Eq. 1 and Sec. 3.2); pred_x0 is clipped to [-1, 1] when clip_x0.
  PMeanVariance p_mean_variance(const Denoiser& model, const Tensor& xt, const Tensor& t,
                                bool clip_x0) const;
  // The same from an output the model already gave for (x_t, t).
  PMeanVariance p_mean_variance_of(const Tensor& out, const Tensor& xt, const Tensor& t,
                                   bool clip_x0) const;
  // log sigma_t^2 for learned variances from the v channels: Eq. 15 of
  // Nichol & Dhariwal, between log beta~_t (v = -1) and log beta_t (v = 1).
  Tensor learned_log_variance(const Tensor& v, const Tensor& t) const;

  // The bound's term at t, per sample, in bits/dim: KL(q(x_{t-1}|x_t,x_0) ||
  // p_theta(x_{t-1}|x_t)) for t > 1 (index > 0) and the decoder's
  // -log p_theta(x_0 | x_1) (Eq. 13; continuous Gaussian if !discretized) at t = 1.
  struct VbTerm {
    Tensor bits_per_dim;  // (N)
    Tensor pred_x0;
  };
  VbTerm vb_terms_bpd(const Denoiser& model, const Tensor& x0, const Tensor& xt, const Tensor& t,
                      bool clip_x0, bool discretized = true) const;
  VbTerm vb_terms_bpd_of(const PMeanVariance& p, const Tensor& x0, const Tensor& xt,
                         const Tensor& t, bool discretized = true) const;
  // L_T = KL(q(x_T | x_0) || N(0, I)) per sample, in bits/dim.
  Tensor prior_bpd(const Tensor& x0) const;

  // The training loss per sample (N) at timesteps t with noise eps:
  // Simple: mean over pixels of (target - model output)^2, the target being
  // eps, x_0 or mu~ as the mean type says (Eq. 14, Algorithm 1);
  // Vlb: vb_terms_bpd at t (one stochastic term of Eq. 5);
  // Hybrid (learned variances only): Simple + hybrid_lambda T vb_terms_bpd,
  // the bound's term computed with the mean's channels detached, so that
  // its gradient reaches only the variance's (improved-diffusion: the T
  // terms of L_vlb are T times one uniformly drawn term on average).
  // Learned variances train through the bound: Simple alone refuses them.
  Tensor training_losses(const Denoiser& model, const Tensor& x0, const Tensor& t,
                         const Tensor& noise, LossType loss, double hybrid_lambda = 0.001) const;

 private:
  Tensor run_model(const Denoiser& model, const Tensor& xt, const Tensor& t) const;
  Tensor mean_target(const Tensor& x0, const Tensor& xt, const Tensor& t,
                     const Tensor& noise) const;

  Schedule schedule_;
  ModelMeanType mean_type_;
  ModelVarType var_type_;
  ag::DType dtype_;
  ag::Device device_;
  std::vector<double> large_variance_, large_log_variance_;  // beta_t, with beta~_2 at t = 1
  std::vector<double> log_betas_;                            // log beta_t, learned range's top
  std::vector<int64_t> timestep_map_;  // original index of each step; empty: the identity
};

// The mean over all but the first dimension: (N, ...) -> (N).
Tensor mean_flat(const Tensor& x);
// t ~ Uniform({1, ..., T}) for each of n images (Algorithm 1, line 3), as
// int32 indices in [0, T) on the CPU; from uniforms of `gen` in float64.
Tensor sample_timesteps(int64_t n, int64_t T, ag::Generator& gen);
// n copies of the timestep index t, as an int32 (N) tensor on the CPU.
Tensor full_timesteps(int64_t n, int64_t t);
// (N) 1 where t is index 0 (the paper's t = 1, the last reverse step), else
// 0; in x's dtype on x's device, reshaped to x's rank for broadcasting.
Tensor is_last_step(const Tensor& t, const Tensor& x);
// Standard normals of x's shape, dtype and device.
Tensor noise_like(const Tensor& x, ag::Generator& gen);

}  // namespace diffusion
